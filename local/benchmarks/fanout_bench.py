"""Benchmark of the fan-out (dispatcher, work queue, event source mapping, worker processes).

Runs against moto's server and the MGN emulator on 127.0.0.1.

For each concurrency C (moto reset and the world rebuilt in between):

1. a backlog of N accounts x M items (open jobs, ACCOUNTS=auto: own account + managed ones),
   each account with a realistic inventory in MGN (50 servers, 10 applications, 3 waves) whose
   servers its jobs name, read by the workers' enrichment (off with --no-enrichment);
2. one dispatcher invocation, then the queue drained by esm_emulator.EventSourceMapping with C
   pollers, each invoking its own worker process (faultsuite.environments.Worker: one Lambda
   execution environment each, warm before the clock starts);
3. the drain time (dispatch to empty queue), items/s, invocations, hand-ons, and every API call
   counted per operation by a fault_proxy.FaultProxy (no faults) in front of moto and the
   emulator: one for the functions (the exporter's calls, SendMessageBatch included), one for
   the mapping (its ReceiveMessage/DeleteMessageBatch, which AWS bills as SQS requests);
4. every item in the event log group exactly once (by eventId and by item), both queues empty;
5. the jobs complete: a closing tick, then an idle tick (nothing new anywhere).

Usage: .venv/bin/python -m local.benchmarks.fanout_bench [--accounts 200] [--items 1000]
  [--concurrency 1,4,8] [--budget-ms 300000] [--batch-size 10] [--seed 1] [--no-enrichment]
  [--json FILE]
Times are of this machine and of moto (one Python process serves every call): read the calls
and the shape of the curve, not the seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from infra import constants as c
from local.benchmarks.fanout_world import (
    OWN_ACCOUNT,
    REGION,
    ROOT,
    Backlog,
    BenchmarkFailure,
    CheckpointSizes,
    Delivery,
    World,
    build_world,
    check_sinks,
    checkpoint_sizes,
    function_environment,
    sqs_client,
)
from local.esm_emulator import EventSourceMapping, MappingConfig
from local.fault_proxy import FaultProxy
from local.faultsuite.cloud import moto_server, reset_moto
from local.faultsuite.environments import Invocation, Worker
from local.mgn_emulator import MgnEmulator

RESULTS_DIR = ROOT / "local" / "benchmarks" / "results"
# The bound: fan-out costs at most this much more per item than one account alone.
FANOUT_TOLERANCE = 0.10
# docs/performance-and-cost.md's single-account figure (exporter_bench, one 10,000-item job).
DOCUMENTED_SINGLE_ACCOUNT_CALLS_PER_1000 = 103.7
# The mapping's calls that are the harness's, not Lambda's: the drain's emptiness checks.
HARNESS_OPERATIONS = ("sqs.GetQueueAttributes",)
RECEIVES = "sqs.ReceiveMessage"
DELETES = "sqs.DeleteMessageBatch"
EMPTY_RECEIVES = "sqs.ReceiveMessage (empty)"


# -- the functions: one process per execution environment -------------------------------------


class FunctionError(RuntimeError):
    """The worker raised: the event source mapping leaves the whole batch in the queue."""


class Functions:
    """The dispatcher's environment and one worker environment per poller, all warm."""

    def __init__(self, env: dict[str, str], concurrency: int, log: IO[str]) -> None:
        self.dispatcher = Worker.spawn(env, log)
        self.workers = [Worker.spawn(env, log) for _ in range(concurrency)]
        for worker in self.all:
            worker.wait_ready()
        self._lock = threading.Lock()
        self.invocations: list[Invocation] = []

    @property
    def all(self) -> list[Worker]:
        return [self.dispatcher, *self.workers]

    def invoker(self, slot: int, budget_ms: int) -> Callable[[dict[str, Any]], Any]:
        worker = self.workers[slot]

        def invoke(event: dict[str, Any]) -> Any:
            invocation = worker.invoke(budget_ms, event=event, handler="worker")
            with self._lock:
                self.invocations.append(invocation)
            if invocation.error:
                raise FunctionError(invocation.error)
            return invocation.response

        return invoke

    def dispatch(self, tick: str, budget_ms: int) -> Invocation:
        invocation = self.dispatcher.invoke(
            budget_ms, event=scheduled_event(tick), handler="dispatcher"
        )
        if invocation.error or invocation.report is None:
            raise BenchmarkFailure(f"dispatcher failed: {invocation.error or 'no summary logged'}")
        return invocation

    def cpu_seconds(self) -> float:
        return sum(process_cpu_seconds(worker.process.pid) for worker in self.all)

    def close(self) -> None:
        for worker in self.all:
            worker.close()


def scheduled_event(tick: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": f"bench-{tick}",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": OWN_ACCOUNT,
        "time": tick,
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{OWN_ACCOUNT}:rule/mgn-job-log-exporter"],
        "detail": {},
    }


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process (Linux /proc); 0 where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- one tick: dispatch, then drain ------------------------------------------------------------


@dataclass
class Tick:
    """What one schedule tick cost: from the dispatcher's call to an empty queue."""

    name: str
    seconds: float
    accounts_dispatched: int
    items_exported: int
    invocations: int
    records: int
    hand_ons: int
    outcomes: dict[str, int]
    dispatch_calls: dict[str, int]  # the dispatcher's own
    function_calls: dict[str, int]  # dispatcher + workers (the exporter's calls)
    mapping_calls: dict[str, int]  # the event source mapping's (harness checks removed)
    productive_receives: int
    empty_receives: int
    dispatcher_ms: float
    worker_ms: list[float] = field(default_factory=list)
    function_log_bytes: int = 0  # what the functions logged (their own log groups on AWS)
    bench_cpu_seconds: float = 0.0  # moto, emulator, proxies, pollers (this process)
    functions_cpu_seconds: float = 0.0  # the dispatcher and worker processes

    @property
    def exporter_calls(self) -> int:
        return sum(self.function_calls.values())

    @property
    def polling_calls(self) -> int:
        """The receives that got messages and the deletes: what Lambda's pollers make for this
        work on AWS too (their empty receives are long polls there, and depend on time only)."""
        return self.productive_receives + self.mapping_calls.get("sqs.DeleteMessageBatch", 0)

    def per_1000(self, calls: int, digits: int = 1) -> float:
        if not self.items_exported:
            return 0.0
        return round(calls * 1000 / self.items_exported, digits)


class Level:
    """One concurrency level's world, proxies and warm functions."""

    def __init__(
        self,
        world: World,
        functions: Functions,
        function_proxy: FaultProxy,
        mapping_proxy: FaultProxy,
        log_path: Path,
        options: Options,
    ) -> None:
        self.world = world
        self.functions = functions
        self.function_proxy = function_proxy
        self.mapping_proxy = mapping_proxy
        self.log_path = log_path
        self.options = options
        self.sqs = sqs_client(mapping_proxy.endpoint_url)

    def tick(self, name: str, tick: str) -> Tick:
        options = self.options
        failures: list[str] = []

        def on_batch(event: dict[str, Any], response: Any, elapsed: float) -> None:
            if isinstance(response, BaseException):
                failures.append(f"function error: {response}")
            elif isinstance(response, dict) and response.get("batchItemFailures"):
                failures.append(f"batch item failures: {response['batchItemFailures']}")

        mapping = EventSourceMapping(
            self.sqs,
            MappingConfig(
                queue_url=self.world.queue_url,
                queue_arn=self.world.queue_arn,
                region=REGION,
                batch_size=options.batch_size,
                max_concurrency=len(self.functions.workers),
            ),
            [
                self.functions.invoker(slot, options.budget_ms)
                for slot in range(len(self.functions.workers))
            ],
            on_batch=on_batch,
        )
        self.function_proxy.reset_calls()
        self.mapping_proxy.reset_calls()
        self.functions.invocations.clear()
        log_before = self.log_path.stat().st_size
        cpu_before, functions_cpu_before = time.process_time(), self.functions.cpu_seconds()

        started = time.monotonic()
        dispatched = self.functions.dispatch(tick, options.dispatcher_budget_ms)
        dispatch_calls = dict(self.function_proxy.calls)
        mapping.drain(timeout=options.drain_timeout_s, until=lambda: bool(failures))
        seconds = time.monotonic() - started

        if failures:
            raise BenchmarkFailure(f"{name}: {len(failures)} failed batches, first: {failures[0]}")
        self.function_proxy.wait_idle()
        reports = [invocation.report or {} for invocation in self.functions.invocations]
        outcomes: Counter[str] = Counter(
            str(account["outcome"]) for report in reports for account in report.get("accounts", [])
        )
        if outcomes.get("failed"):
            raise BenchmarkFailure(f"{name}: {outcomes['failed']} account exports failed")
        mapping_calls = {
            op: n for op, n in self.mapping_proxy.calls.items() if op not in HARNESS_OPERATIONS
        }
        receives = mapping_calls.get("sqs.ReceiveMessage", 0)
        return Tick(
            name=name,
            seconds=round(seconds, 2),
            accounts_dispatched=int((dispatched.report or {}).get("accountsDispatched", 0)),
            items_exported=sum(int(report.get("itemsExported", 0)) for report in reports),
            invocations=mapping.stats.invocations,
            records=mapping.stats.records,
            hand_ons=sum(len(report.get("handedOn") or []) for report in reports),
            outcomes=dict(sorted(outcomes.items())),
            dispatch_calls=dict(sorted(dispatch_calls.items())),
            function_calls=dict(sorted(self.function_proxy.calls.items())),
            mapping_calls=dict(sorted(mapping_calls.items())),
            productive_receives=mapping.stats.invocations,
            empty_receives=receives - mapping.stats.invocations,
            dispatcher_ms=float(dispatched.elapsed_ms or 0.0),
            worker_ms=[float(i.elapsed_ms or 0.0) for i in self.functions.invocations],
            function_log_bytes=self.log_path.stat().st_size - log_before,
            bench_cpu_seconds=round(time.process_time() - cpu_before, 1),
            functions_cpu_seconds=round(self.functions.cpu_seconds() - functions_cpu_before, 1),
        )


@dataclass
class LevelResult:
    concurrency: int
    backfill: Tick
    delivery: Delivery
    checkpoints_open_jobs: CheckpointSizes
    closing: Tick
    idle: Tick
    checkpoints_idle: CheckpointSizes
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


@dataclass(frozen=True)
class Options:
    accounts: int
    items: int
    jobs_per_account: int
    concurrency: tuple[int, ...]
    budget_ms: int
    margin_seconds: int
    dispatcher_budget_ms: int
    batch_size: int
    max_receive_count: int
    seed: int
    drain_timeout_s: float
    enrichment: bool = True


@contextmanager
def level(moto_url: str, options: Options, concurrency: int, log_path: Path) -> Iterator[Level]:
    """A fresh cloud (moto reset, a new emulator and world), proxies, and warm functions."""
    reset_moto(moto_url)
    backlog = Backlog(options.accounts, options.items, options.jobs_per_account, options.seed)
    # The stack's factor: a message is never redelivered while its batch may still run.
    visibility = max(1, options.budget_ms // 1000) * c.WORK_QUEUE_VISIBILITY_TIMEOUT_FACTOR
    with contextlib.ExitStack() as stack:
        emulator = stack.enter_context(MgnEmulator(caller_account=OWN_ACCOUNT, region=REGION))
        world = build_world(
            moto_url,
            emulator,
            backlog,
            visibility_timeout_s=visibility,
            max_receive_count=options.max_receive_count,
        )
        upstreams = {"mgn": emulator.endpoint_url, "*": moto_url}
        function_proxy = stack.enter_context(FaultProxy(upstreams, seed=options.seed))
        mapping_proxy = stack.enter_context(FaultProxy(moto_url, seed=options.seed))
        log = stack.enter_context(log_path.open("a", encoding="utf-8"))
        env = function_environment(
            world,
            function_proxy.endpoint_url,
            margin_seconds=options.margin_seconds,
            enrichment=options.enrichment,
        )
        functions = Functions(env, concurrency, log)
        stack.callback(functions.close)
        yield Level(world, functions, function_proxy, mapping_proxy, log_path, options)


def run_level(moto_url: str, options: Options, concurrency: int, log_path: Path) -> LevelResult:
    load_before = os.getloadavg()
    base = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    ticks = [(base + timedelta(minutes=5 * n)).strftime("%Y-%m-%dT%H:%M:%SZ") for n in range(3)]
    with level(moto_url, options, concurrency, log_path) as lv:
        backfill = lv.tick("backfill", ticks[0])
        found = check_sinks(lv.world, phase=f"concurrency {concurrency}, backfill")
        if backfill.items_exported != options.accounts * options.items:
            raise BenchmarkFailure(
                f"workers reported {backfill.items_exported} items exported, "
                f"expected {options.accounts * options.items}"
            )
        open_jobs = checkpoint_sizes(lv.world)
        lv.world.complete_all_jobs()
        closing = lv.tick("closing", ticks[1])
        idle = lv.tick("idle", ticks[2])
        check_sinks(lv.world, phase=f"concurrency {concurrency}, after the idle tick")
        return LevelResult(
            concurrency=concurrency,
            backfill=backfill,
            delivery=found,
            checkpoints_open_jobs=open_jobs,
            closing=closing,
            idle=idle,
            checkpoints_idle=checkpoint_sizes(lv.world),
            load_before=load_before,
            load_after=os.getloadavg(),
        )


# -- the single-account figure -----------------------------------------------------------------


def single_account_calls_per_1000(*, enrichment: bool) -> dict[str, Any] | None:
    """exporter_bench's steady state (one 10,000-item job, enrichment the same as here), in
    its own process: both start a moto server, whose backends are global to a process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "steady.json"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "local.benchmarks.exporter_bench",
                "--steady-only",
                "--enrichment",
                "on" if enrichment else "off",
                "--json",
                str(out),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0 or not out.exists():
            print(f"(single-account figure unavailable: {done.stderr.strip()[-500:]})")
            return None
        steady: dict[str, Any] = json.loads(out.read_text())["steady_state"]
        return steady


# -- the report --------------------------------------------------------------------------------


def summary(result: LevelResult, single: float) -> dict[str, Any]:
    tick = result.backfill
    per_op = {op: tick.per_1000(n, 2) for op, n in tick.function_calls.items()}
    exporter = tick.per_1000(tick.exporter_calls)
    return {
        "concurrency": result.concurrency,
        "drain_seconds": tick.seconds,
        "items": tick.items_exported,
        "items_per_second": round(tick.items_exported / tick.seconds, 1),
        "invocations": tick.invocations,
        "records": tick.records,
        "hand_ons": tick.hand_ons,
        "outcomes": tick.outcomes,
        "exporter_calls_per_1000": exporter,
        "exporter_calls_per_1000_by_operation": per_op,
        "vs_single_account": round(exporter / single - 1, 4),
        "polling_calls_per_1000": tick.per_1000(tick.polling_calls),
        "polling_calls_per_1000_by_operation": {
            RECEIVES: tick.per_1000(tick.productive_receives, 2),
            DELETES: tick.per_1000(tick.mapping_calls.get(DELETES, 0), 2),
            EMPTY_RECEIVES: tick.per_1000(tick.empty_receives, 2),
        },
        "productive_receives": tick.productive_receives,
        "empty_receives": tick.empty_receives,
        "delivery": asdict(result.delivery),
        "dispatcher": {
            "accounts": tick.accounts_dispatched,
            "calls": tick.dispatch_calls,
            "elapsed_ms": tick.dispatcher_ms,
        },
        "worker_seconds_total": round(sum(tick.worker_ms) / 1000, 1),
        "function_log_bytes_per_1000_items": round(
            tick.function_log_bytes * 1000 / tick.items_exported
        ),
        "checkpoint_item_bytes_open_jobs": asdict(result.checkpoints_open_jobs),
        "checkpoint_item_bytes_idle": asdict(result.checkpoints_idle),
        "cpu_seconds": {
            "bench_process": tick.bench_cpu_seconds,
            "functions": tick.functions_cpu_seconds,
        },
        "closing_tick": tick_summary(result.closing),
        "idle_tick": tick_summary(result.idle),
        "load_before": [round(x, 2) for x in result.load_before],
        "load_after": [round(x, 2) for x in result.load_after],
    }


def tick_summary(tick: Tick) -> dict[str, Any]:
    accounts = tick.accounts_dispatched or 1
    worker_calls = Counter(tick.function_calls)
    worker_calls.subtract(tick.dispatch_calls)
    return {
        "seconds": tick.seconds,
        "accounts": tick.accounts_dispatched,
        "invocations": tick.invocations,
        "hand_ons": tick.hand_ons,
        "outcomes": tick.outcomes,
        "calls": tick.function_calls,
        "dispatch_calls": tick.dispatch_calls,
        "worker_calls_per_account": round(sum(worker_calls.values()) / accounts, 2),
        "calls_per_account": round(tick.exporter_calls / accounts, 2),
        "polling_calls": {
            RECEIVES: tick.productive_receives,
            DELETES: tick.mapping_calls.get(DELETES, 0),
        },
        "empty_receives": tick.empty_receives,
        "dispatcher_ms": tick.dispatcher_ms,
        "worker_ms_total": round(sum(tick.worker_ms)),
        "function_log_bytes": tick.function_log_bytes,
    }


def print_report(
    options: Options, results: list[dict[str, Any]], single: float, source: str
) -> None:
    total = options.accounts * options.items
    print(
        f"\nFan-out: {options.accounts} accounts x {options.items:,} items = {total:,} items "
        f"({options.jobs_per_account} open job(s) each), batch {options.batch_size}, worker "
        f"budget {options.budget_ms / 1000:g} s (DEADLINE_MARGIN_SECONDS "
        f"{options.margin_seconds}), one worker process per poller, enrichment "
        f"{'on' if options.enrichment else 'off'}"
    )
    print(f"Single account (one 10,000-item job): {single} calls per 1,000 items ({source})\n")
    header = (
        f"{'conc':>4} {'drain s':>8} {'items/s':>8} {'invocations':>11} {'hand-ons':>8} "
        f"{'exporter calls/1k':>17} {'vs single':>9} {'polling/1k':>10} {'empty recv':>10} "
        f"{'CPU bench/fn s':>14} {'load before->after':>20}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        cpu = r["cpu_seconds"]
        print(
            f"{r['concurrency']:>4} {r['drain_seconds']:>8} {r['items_per_second']:>8} "
            f"{r['invocations']:>11} {r['hand_ons']:>8} {r['exporter_calls_per_1000']:>17} "
            f"{r['vs_single_account']:>+9.1%} {r['polling_calls_per_1000']:>10} "
            f"{r['empty_receives']:>10} {cpu['bench_process']:>6}/{cpu['functions']:<7} "
            f"{r['load_before'][0]:>9} -> {r['load_after'][0]:<6}"
        )
    operations = sorted({op for r in results for op in r["exporter_calls_per_1000_by_operation"]})
    print("\nExporter calls per 1,000 items, by operation (dispatcher included):")
    print(f"{'operation':<28}" + "".join(f"{'C=' + str(r['concurrency']):>10}" for r in results))
    for op in operations:
        row = "".join(
            f"{r['exporter_calls_per_1000_by_operation'].get(op, 0):>10}" for r in results
        )
        print(f"{op:<28}{row}")
    print("Mapping's polling calls per 1,000 items (Lambda's pollers; billed as SQS requests):")
    for op in (RECEIVES, DELETES, EMPTY_RECEIVES):
        row = "".join(f"{r['polling_calls_per_1000_by_operation'][op]:>10}" for r in results)
        print(f"{op:<28}{row}")
    print(
        "(empty receives are the emulator's 50 ms short polls while batches run; Lambda's "
        "pollers long-poll instead)"
    )
    for r in results:
        d, idle, closing = r["dispatcher"], r["idle_tick"], r["closing_tick"]
        print(
            f"\nC={r['concurrency']}: dispatcher {d['calls']} for {d['accounts']} accounts "
            f"({d['elapsed_ms']:.0f} ms); delivery {r['delivery']['events']:,} events, "
            f"{r['delivery']['distinct_ids']:,} distinct eventIds, exactly once; outcomes "
            f"{r['outcomes']}"
        )
        print(
            f"  closing tick: {closing['seconds']} s, {closing['invocations']} invocations, "
            f"{closing['calls_per_account']} calls per account {closing['calls']}"
        )
        print(
            f"  idle tick: {idle['seconds']} s, {idle['invocations']} invocations, "
            f"{idle['calls_per_account']} calls per account ({idle['worker_calls_per_account']} "
            f"in the workers) {idle['calls']}; polling {idle['polling_calls']} + "
            f"{idle['empty_receives']} empty receives"
        )
        ck, ci = r["checkpoint_item_bytes_open_jobs"], r["checkpoint_item_bytes_idle"]
        print(
            f"  checkpoint item: {ck['mean_bytes']} B mean, {ck['max_bytes']} B max with "
            f"{options.jobs_per_account} open job(s) ({ck['over_1kb']} over 1 KB); idle "
            f"{ci['mean_bytes']} B mean, {ci['max_bytes']} B max; log event "
            f"{r['delivery']['mean_message_bytes']} B mean; function logs "
            f"{r['function_log_bytes_per_1000_items']:,} B per 1,000 items, "
            f"{idle['function_log_bytes'] / max(1, idle['accounts']):.0f} B per idle account"
        )


def parse_options(argv: list[str] | None) -> tuple[Options, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--items", type=int, default=1000, help="items per account")
    parser.add_argument("--jobs-per-account", type=int, default=1)
    parser.add_argument(
        "--concurrency",
        default="1,4,8",
        help="comma list of the mapping's maximum concurrency (one worker process each)",
    )
    parser.add_argument(
        "--budget-ms",
        type=int,
        default=c.WORKER_TIMEOUT_SECONDS * 1000,
        help="each worker invocation's budget (default: the stack's worker timeout)",
    )
    parser.add_argument(
        "--margin-seconds",
        type=int,
        default=int(c.CONTEXT_DEFAULTS[c.CTX_DEADLINE_MARGIN_SECONDS]),
        help="DEADLINE_MARGIN_SECONDS (default: the stack's)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=int(c.CONTEXT_DEFAULTS[c.CTX_WORKER_BATCH_SIZE])
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per drain")
    parser.add_argument(
        "--no-enrichment",
        action="store_true",
        help="ENRICHMENT_REFRESH_MINUTES=0 in the functions (and the single-account figure)",
    )
    parser.add_argument(
        "--json", help="result file (default: local/benchmarks/results/fanout-<time>.json)"
    )
    parser.add_argument(
        "--no-single",
        action="store_true",
        help=f"skip exporter_bench's single-account run (use the documented "
        f"{DOCUMENTED_SINGLE_ACCOUNT_CALLS_PER_1000})",
    )
    args = parser.parse_args(argv)
    options = Options(
        accounts=args.accounts,
        items=args.items,
        jobs_per_account=args.jobs_per_account,
        concurrency=tuple(int(part) for part in args.concurrency.split(",") if part.strip()),
        budget_ms=args.budget_ms,
        margin_seconds=args.margin_seconds,
        dispatcher_budget_ms=c.DISPATCHER_TIMEOUT_SECONDS * 1000,
        batch_size=args.batch_size,
        max_receive_count=int(c.CONTEXT_DEFAULTS[c.CTX_WORKER_MAX_RECEIVE_COUNT]),
        seed=args.seed,
        drain_timeout_s=args.timeout,
        enrichment=not args.no_enrichment,
    )
    return options, args


def main(argv: list[str] | None = None) -> int:
    options, args = parse_options(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = Path(args.json) if args.json else RESULTS_DIR / f"fanout-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    log_path = out.with_suffix(".functions.log")

    steady = (
        None if args.no_single else single_account_calls_per_1000(enrichment=options.enrichment)
    )
    if steady is not None:
        single, source = float(steady["calls_per_1000"]), "measured in this run by exporter_bench"
    else:
        single, source = DOCUMENTED_SINGLE_ACCOUNT_CALLS_PER_1000, "the documented figure"

    results: list[dict[str, Any]] = []
    document: dict[str, Any] = {
        "options": asdict(options),
        "started": stamp,
        "cpus": os.cpu_count(),
        "single_account": {"calls_per_1000": single, "source": source, "run": steady},
        "levels": results,
    }
    failure: BenchmarkFailure | None = None
    with moto_server() as moto_url:
        for concurrency in options.concurrency:
            print(f"concurrency {concurrency}: building the world and draining ...", flush=True)
            try:
                result = run_level(moto_url, options, concurrency, log_path)
            except BenchmarkFailure as exc:
                failure = exc
                break
            results.append(summary(result, single))
            print(
                f"  drained in {result.backfill.seconds} s, "
                f"{results[-1]['exporter_calls_per_1000']} exporter calls per 1,000 items",
                flush=True,
            )
    document["finished"] = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    if failure is not None:
        document["failure"] = str(failure)
    out.write_text(json.dumps(document, indent=2))
    if results:
        print_report(options, results, single, source)
    worst = max((r["vs_single_account"] for r in results), default=0.0)
    print(
        f"\nFan-out vs single account: worst {worst:+.1%} (goal: within "
        f"{FANOUT_TOLERANCE:.0%}) -> {'met' if worst <= FANOUT_TOLERANCE else 'NOT MET'}"
    )
    print(f"Results: {out}\nFunction logs: {log_path}")
    if failure is not None:
        print(f"\nFAILED: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
