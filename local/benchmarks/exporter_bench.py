"""Benchmark of the exporter against moto's server and the MGN emulator on 127.0.0.1.

Every account of these worlds has a realistic inventory loaded in the emulator (50 source
servers with hostnames, 10 applications, 3 waves: names.realistic_inventory), and its jobs log
steps of those servers. Prints, side by side in one run, with enrichment on (the default,
ENRICHMENT_REFRESH_MINUTES=15) and off (ENRICHMENT_REFRESH_MINUTES=0), in a fresh execution
environment each (no inventory read before):
- API calls per 1,000 newly exported items, steady state, one job (default 10,000 items);
- API calls of an idle tick, per account (1 and 10 accounts), and of a tick of one account
  whose job completed within its grace (its log read again for late items), then of the tick
  that sends its outcome and closes it;
- API calls per tick of a sparse world (3 accounts, 10 running jobs, about 800 new items a
  tick spread over the jobs) against the floor of what MGN and the sinks need;
- MGN's calls of each of those, by operation;
and, once (enrichment on):
- the exporter's wall time against a bare script making the same API calls to the same
  endpoints (no shaping, no checks), in alternating rounds;
- the handler's cold import time against `import boto3` (in fresh interpreters).

Usage: .venv/bin/python -m local.benchmarks.exporter_bench [--items N] [--rounds N]
  [--enrichment on|off|both] [--steady-only | --sparse-only] [--json FILE]
Times are of this machine and of moto, not of AWS: read the ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from local.faultsuite.names import on_servers, realistic_inventory
from local.mgn_emulator import MgnEmulator
from local.mgn_emulator.worlds import job_log
from local.moto_deploy import moto_server

REGION = "us-east-1"
OWN = "111111111111"
BUS = "bench-bus"
LOG_GROUP = "/bench/events"
TABLE = "bench-checkpoints"
SOURCE = "mgn.joblog.bench"
# ENRICHMENT_REFRESH_MINUTES per mode: unset is the stack's default (15 minutes); 0 is off.
ENRICHMENT_MODES: dict[str, str | None] = {"on": None, "off": "0"}
# What each account of the worlds has in MGN (names.realistic_inventory).
INVENTORY = {"servers": 50, "applications": 10, "waves": 3}


@contextmanager
def enrichment(mode: str) -> Iterator[None]:
    """Run the exporter with enrichment `mode` ("on", "off"), in a fresh execution environment:
    no clients, no inventory kept from an earlier run."""
    from mgn_exporter.clients import forget_clients

    value = ENRICHMENT_MODES[mode]
    if value is None:
        os.environ.pop("ENRICHMENT_REFRESH_MINUTES", None)
    else:
        os.environ["ENRICHMENT_REFRESH_MINUTES"] = value
    forget_clients()
    try:
        yield
    finally:
        os.environ.pop("ENRICHMENT_REFRESH_MINUTES", None)
        forget_clients()


class Inventories:
    """The accounts' servers, each account's realistic inventory loaded in the emulator the
    first time it is asked for."""

    def __init__(self, emu: MgnEmulator) -> None:
        self._emu = emu
        self._servers: dict[str, list[str]] = {}

    def servers(self, account: str) -> list[str]:
        if account not in self._servers:
            inventory = realistic_inventory(
                account,
                servers=INVENTORY["servers"],
                applications=INVENTORY["applications"],
                waves=INVENTORY["waves"],
            )
            self._emu.add_inventory(inventory)
            self._servers[account] = [s.source_server_id for s in inventory.servers]
        return self._servers[account]


def mgn_calls(calls: dict[str, int]) -> dict[str, int]:
    return {op: n for op, n in sorted(calls.items()) if op.startswith("mgn.")}


@contextmanager
def local_cloud() -> Iterator[tuple[str, MgnEmulator]]:
    with moto_server() as moto, MgnEmulator(caller_account=OWN, region=REGION) as emu:
        os.environ.update(
            {
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_ENDPOINT_URL": moto,
                "AWS_ENDPOINT_URL_MGN": emu.endpoint_url,
                "EVENT_BUS_NAME": BUS,
                "EVENT_SOURCE": SOURCE,
                "EVENT_LOG_GROUP_NAME": LOG_GROUP,
                "CHECKPOINT_TABLE_NAME": TABLE,
                "ACCOUNTS": OWN,
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_SERVICE_NAME": "mgn-job-log-exporter",
                "POWERTOOLS_METRICS_NAMESPACE": "Bench",
                "POWERTOOLS_LOG_LEVEL": "ERROR",
                "POWERTOOLS_METRICS_DISABLED": "true",
            }
        )
        from infra.constants import ENV_CHECKPOINT_TABLE_NAME  # noqa: F401 - same names as the stack
        from mgn_exporter.checkpoint_store import PARTITION_KEY

        kwargs: dict[str, Any] = {"region_name": REGION, "endpoint_url": moto}
        boto3.client("dynamodb", **kwargs).create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": PARTITION_KEY, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        boto3.client("events", **kwargs).create_event_bus(Name=BUS)
        boto3.client("logs", **kwargs).create_log_group(logGroupName=LOG_GROUP)
        yield moto, emu


def invoke(budget_ms: int = 900_000) -> dict[str, Any]:
    """One direct export of the configured accounts (ACCOUNTS): the exporter core the worker
    runs, without the queue around it, with a Lambda-like deadline."""
    from local.direct_export import export_configured_accounts
    from mgn_exporter.settings import get_settings

    get_settings.cache_clear()
    return export_configured_accounts(budget_ms, own_account=OWN, region=REGION)


def add_job(
    emu: MgnEmulator,
    account: str,
    count: int,
    seed: int,
    *,
    completed: bool,
    servers: list[str] | None = None,
) -> str:
    """A job of `count` items logging steps of `servers` (of the account's inventory)."""
    created = datetime.now(UTC) - timedelta(minutes=20)
    # As in MGN, the job lists the servers its log is about (DescribeJobs' participatingServers).
    job = emu.add_job(account, created=created, source_server_ids=list(servers or []))
    items, _ = on_servers(job_log(count, start=created, rng=random.Random(seed)), servers or [])
    emu.append_items(account, job, items)
    if completed:
        emu.set_job_status(account, job, "COMPLETED")
    return job


def calls_per_thousand(emu: MgnEmulator, items: int, names: Inventories) -> dict[str, Any]:
    """One job's `items` exported in one run: with enrichment on, the account's one inventory
    read of a fresh environment (or of every ENRICHMENT_REFRESH_MINUTES) is in the figure."""
    # Warm up: discovery has seen the job and the day's log stream exists (JOB_START alone
    # names no server: no inventory is read yet).
    job = add_job(emu, OWN, 1, seed=1, completed=False)
    invoke()
    created = datetime.now(UTC)
    log, _ = on_servers(job_log(items, start=created, rng=random.Random(2)), names.servers(OWN))
    emu.append_items(OWN, job, log)
    report = invoke()
    assert report["itemsExported"] == items, report
    total = sum(report["apiCalls"].values())
    # Completed past its grace: the next run sends its outcome and closes it.
    emu.set_job_status(OWN, job, "COMPLETED", when=datetime.now(UTC) - timedelta(hours=2))
    invoke()
    return {
        "items": items,
        "calls": report["apiCalls"],
        "total_calls": total,
        "calls_per_1000": round(total * 1000 / items, 1),
        "not_enriched": report["counters"].get("EventsNotEnriched", 0),
    }


def idle_tick(emu: MgnEmulator, accounts: list[str], names: Inventories) -> dict[str, Any]:
    os.environ["ACCOUNTS"] = ",".join(accounts)
    for account in accounts:
        if account != OWN:
            emu.add_account(account, initialized=True, managed=True)
        names.servers(account)
    invoke()  # first run for new accounts
    report = invoke()
    total = sum(report["apiCalls"].values())
    os.environ["ACCOUNTS"] = OWN
    return {
        "accounts": len(accounts),
        "calls": report["apiCalls"],
        "calls_per_account": round(total / len(accounts), 2),
    }


def grace_tick(emu: MgnEmulator, names: Inventories) -> dict[str, Any]:
    """A tick of one account whose only job completed within its grace (15 minutes after its
    end): its log is read again for late items, until the grace ends and its outcome goes."""
    job = add_job(emu, OWN, 20, 9, completed=True, servers=names.servers(OWN)[:3])
    invoke()  # exports the job; it stays open
    report = invoke()
    emu.set_job_status(OWN, job, "COMPLETED", when=datetime.now(UTC) - timedelta(hours=2))
    closing = invoke()
    assert closing["counters"].get("DerivedEventsExported") == 1, closing
    return {
        "calls": report["apiCalls"],
        "calls_per_tick": sum(report["apiCalls"].values()),
        "closing_calls": sum(closing["apiCalls"].values()),
    }


SPARSE_ACCOUNTS = (OWN, "222222222222", "333333333333")
SPARSE_JOBS = 10
SPARSE_ITEMS_PER_TICK = 800


def sparse_floor(new_by_account: dict[str, list[int]]) -> int:
    """The fewest calls a tick can make: per account one DescribeJobs, one state read, one
    PutLogEvents (if anything is new), one state write; one DescribeJobLogItems per open job
    and 1,000 items; one PutEvents per 10 new items of the account."""
    floor = 0
    for counts in new_by_account.values():
        new = sum(counts)
        floor += 3 + (1 if new else 0)
        floor += sum(max(1, -(-count // 1000)) for count in counts)
        floor += -(-new // 10)
    return floor


def sparse_world(emu: MgnEmulator, ticks: int) -> dict[str, Any]:
    """3 accounts, 10 running jobs, ~800 new items per tick spread unevenly over the jobs; each
    job logs steps of its share of its account's servers (a wave's launch: its servers)."""
    rng = random.Random(5)
    names = Inventories(emu)
    os.environ["ACCOUNTS"] = ",".join(SPARSE_ACCOUNTS)
    for account in SPARSE_ACCOUNTS[1:]:
        emu.add_account(account, initialized=True, managed=True)
    owners = [SPARSE_ACCOUNTS[n % len(SPARSE_ACCOUNTS)] for n in range(SPARSE_JOBS)]
    shares = [
        names.servers(account)[owners[:n].count(account) :: owners.count(account)]
        for n, account in enumerate(owners)
    ]
    jobs = [
        (account, add_job(emu, account, 5, n, completed=False, servers=shares[n]))
        for n, account in enumerate(owners)
    ]
    turns = [0] * len(jobs)
    invoke()  # discovery has seen the jobs; the day's log streams exist
    rows = []
    for tick in range(ticks):
        weights = [rng.uniform(0.2, 1.8) for _ in jobs]
        counts = [round(SPARSE_ITEMS_PER_TICK * w / sum(weights)) for w in weights]
        new_by_account: dict[str, list[int]] = {account: [] for account in SPARSE_ACCOUNTS}
        start = datetime.now(UTC)
        for n, ((account, job), count) in enumerate(zip(jobs, counts, strict=True)):
            log, turns[n] = on_servers(
                job_log(count, start=start, rng=rng), shares[n], start=turns[n]
            )
            emu.append_items(account, job, log)
            new_by_account[account].append(count)
        report = invoke()
        assert report["itemsExported"] == sum(counts), report
        calls = sum(report["apiCalls"].values())
        rows.append(
            {
                "tick": tick,
                "items": sum(counts),
                "calls": calls,
                "floor": sparse_floor(new_by_account),
                "by_api": report["apiCalls"],
                "not_enriched": report["counters"].get("EventsNotEnriched", 0),
            }
        )
    os.environ["ACCOUNTS"] = OWN
    calls = sum(row["calls"] for row in rows)
    floor = sum(row["floor"] for row in rows)
    mgn: Counter[str] = Counter()
    for row in rows:
        mgn.update(mgn_calls(row["by_api"]))
    return {
        "accounts": len(SPARSE_ACCOUNTS),
        "jobs": SPARSE_JOBS,
        "ticks": rows,
        "calls_per_tick": round(calls / ticks, 1),
        "floor_per_tick": round(floor / ticks, 1),
        "ratio": round(calls / floor, 3),
        "mgn_calls": dict(sorted(mgn.items())),
    }


class BareNames:
    """The names a bare script would put on events: the applications and waves listed once, the
    servers of each page asked for when first seen (DescribeSourceServers by id), the calls the
    exporter makes with enrichment on."""

    def __init__(self, mgn: Any) -> None:
        self._mgn = mgn
        self._listed = False
        self._apps: dict[str, dict[str, Any]] = {}
        self._waves: dict[str, str] = {}
        self._servers: dict[str, dict[str, Any] | None] = {}

    def name(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not self._listed:
            self._apps = {a["applicationID"]: a for a in self._mgn.list_applications()["items"]}
            self._waves = {w["waveID"]: w["name"] for w in self._mgn.list_waves()["items"]}
            self._listed = True
        named = {i.get("eventData", {}).get("sourceServerID") for i in items} - {None}
        unseen = sorted(server for server in named if server not in self._servers)
        for start in range(0, len(unseen), 200):
            chunk = unseen[start : start + 200]
            found = self._mgn.describe_source_servers(filters={"sourceServerIDs": chunk})
            self._servers.update(dict.fromkeys(chunk))
            self._servers.update({r["sourceServerID"]: r for r in found["items"]})
        return [{**item, **self._names(item)} for item in items]

    def _names(self, item: dict[str, Any]) -> dict[str, Any]:
        server = self._servers.get(item.get("eventData", {}).get("sourceServerID"))
        if server is None:
            return {}
        hints = server.get("sourceProperties", {}).get("identificationHints", {})
        names: dict[str, Any] = {"sourceServer": {"hostname": hints.get("hostname")}}
        app = self._apps.get(server.get("applicationID", ""))
        if app is not None:
            names["application"] = {"name": app.get("name")}
            names["wave"] = {"name": self._waves.get(app.get("waveID", ""))}
        return names


def bare_export(
    emu: MgnEmulator, job: str, clients: dict[str, Any], stream: str, names: BareNames | None
) -> None:
    """The same API calls as the exporter's run, with the least work between them."""
    mgn, events, logs, ddb = clients["mgn"], clients["events"], clients["logs"], clients["dynamodb"]
    key = {"pk": {"S": "ACCOUNT#bare"}}
    ddb.update_item(
        TableName=TABLE,
        Key=key,
        UpdateExpression="SET leaseOwner = :o",
        ExpressionAttributeValues={":o": {"S": "bare"}},
        ReturnValues="ALL_NEW",
    )
    mgn.describe_jobs(
        filters={
            "fromDate": (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        },
        maxResults=1000,
    )
    token = None
    position = 0
    while True:
        params: dict[str, Any] = {"jobID": job, "maxResults": 1000}
        if token:
            params["nextToken"] = token
        page = mgn.describe_job_log_items(**params)
        items = page.get("items", [])
        bodies = [json.dumps(item) for item in (names.name(items) if names else items)]
        for start in range(0, len(bodies), 10):
            events.put_events(
                Entries=[
                    {
                        "EventBusName": BUS,
                        "Source": SOURCE,
                        "DetailType": "MGN Job Log Event",
                        "Detail": body,
                    }
                    for body in bodies[start : start + 10]
                ]
            )
        now_ms = int(time.time() * 1000)
        logs.put_log_events(
            logGroupName=LOG_GROUP,
            logStreamName=stream,
            logEvents=[{"timestamp": now_ms, "message": b} for b in bodies],
        )
        position += len(items)
        ddb.update_item(
            TableName=TABLE,
            Key=key,
            UpdateExpression="SET #p = :p",
            ExpressionAttributeNames={"#p": "position"},
            ExpressionAttributeValues={":p": {"N": str(position)}},
        )
        token = page.get("nextToken")
        if not token:
            break
    ddb.update_item(TableName=TABLE, Key=key, UpdateExpression="REMOVE leaseOwner")


def overhead(
    emu: MgnEmulator, rounds: int, items: int, names: Inventories, *, enriched: bool
) -> dict[str, Any]:
    from mgn_exporter.clients import get_clients

    shared = get_clients()  # the same clients, config and warm connections for both
    clients = {
        "mgn": shared.mgn,
        "events": shared.events,
        "logs": shared.logs,
        "dynamodb": shared.dynamodb,
    }
    stream = "bare"
    shared.logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    # Like the exporter's inventory, kept across rounds (one execution environment).
    bare_names = BareNames(shared.mgn) if enriched else None
    servers = names.servers(OWN)
    exporter_times: list[float] = []
    bare_times: list[float] = []
    for n in range(rounds):
        add_job(emu, OWN, items, seed=100 + n, completed=True, servers=servers)
        exporter_times.append(timed(invoke))
        job = add_job(emu, OWN, items, seed=200 + n, completed=True, servers=servers)
        bare = functools.partial(bare_export, emu, job, clients, stream, bare_names)
        bare_times.append(timed(bare))
        invoke()  # the exporter closes the bare run's job without counting it
    return {
        "items_per_round": items,
        "rounds": rounds,
        "enrichment": "on" if enriched else "off",
        "exporter_seconds": [round(t, 3) for t in exporter_times],
        "bare_seconds": [round(t, 3) for t in bare_times],
        "ratio": round(statistics.median(exporter_times) / statistics.median(bare_times), 2),
    }


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def import_seconds(module: str, env: dict[str, str]) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    output = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    ).stdout
    return float(output.strip().splitlines()[-1])


def cold_import(runs: int = 7) -> dict[str, Any]:
    results: dict[str, float] = {}
    for label, module, env in (
        ("boto3", "boto3", {}),
        ("handler", "mgn_exporter.worker_handler", {"POWERTOOLS_TRACE_DISABLED": "true"}),
        (
            "handler_sdk_tracing",
            "mgn_exporter.worker_handler",
            {"POWERTOOLS_TRACE_DISABLED": "false"},
        ),
        ("dispatcher", "mgn_exporter.dispatcher_handler", {"POWERTOOLS_TRACE_DISABLED": "true"}),
    ):
        results[label] = statistics.median(import_seconds(module, env) for _ in range(runs))
    return {
        "boto3_seconds": round(results["boto3"], 3),
        "handler_seconds": round(results["handler"], 3),
        "handler_with_sdk_tracing_seconds": round(results["handler_sdk_tracing"], 3),
        "ratio": round(results["handler"] / results["boto3"], 2),
        "ratio_with_sdk_tracing": round(results["handler_sdk_tracing"] / results["boto3"], 2),
        "dispatcher_seconds": round(results["dispatcher"], 3),
        "dispatcher_ratio": round(results["dispatcher"] / results["boto3"], 2),
    }


def sparse_line(sparse: dict[str, Any], mode: str) -> str:
    return (
        f"Sparse world ({sparse['accounts']} accounts, {sparse['jobs']} running jobs, about "
        f"{SPARSE_ITEMS_PER_TICK} new items a tick), enrichment {mode}: "
        f"{sparse['calls_per_tick']} calls per tick vs floor {sparse['floor_per_tick']} = "
        f"{sparse['ratio']}x  (goal <= 1.10)"
    )


def print_sparse(sparse: dict[str, Any], mode: str) -> None:
    print(sparse_line(sparse, mode))
    for row in sparse["ticks"]:
        print(
            f"  tick {row['tick']}: {row['items']} items, {row['calls']} calls, floor "
            f"{row['floor']}  {row['by_api']}"
        )


def steady_line(steady: dict[str, Any], mode: str) -> str:
    return (
        f"API calls per 1,000 items (one job of {steady['items']:,}), enrichment {mode}: "
        f"{steady['calls_per_1000']}  {steady['calls']}"
    )


def measure(mode: str, args: argparse.Namespace, *, with_overhead: bool) -> dict[str, Any]:
    """One mode's figures, each world in a fresh cloud and execution environment."""
    figures: dict[str, Any] = {}
    with enrichment(mode), local_cloud() as (_, emu):
        names = Inventories(emu)
        figures["steady_state"] = calls_per_thousand(emu, args.items, names)
        figures["idle_tick"] = [
            idle_tick(emu, [OWN], names),
            idle_tick(emu, [OWN] + [f"{900000000000 + n}" for n in range(9)], names),
        ]
        figures["grace_tick"] = grace_tick(emu, names)
        if with_overhead:
            figures["overhead"] = overhead(
                emu, args.rounds, args.overhead_items, names, enriched=mode == "on"
            )
    with enrichment(mode), local_cloud() as (_, emu):
        figures["sparse_world"] = sparse_world(emu, args.sparse_ticks)
    return figures


def print_side_by_side(by_mode: dict[str, dict[str, Any]]) -> None:
    """The figures of each mode side by side, then MGN's calls of each run by operation."""
    modes = list(by_mode)
    width = 16
    head = "".join(f"{'enrichment ' + mode:>{width}}" for mode in modes)
    print(f"{'measure':<52}{head}   goal")

    def row(label: str, cells: list[str], goal: str) -> None:
        print(f"{label:<52}" + "".join(f"{cell:>{width}}" for cell in cells) + f"   {goal}")

    figures = [by_mode[mode] for mode in modes]
    items = figures[0]["steady_state"]["items"]
    row(
        f"API calls per 1,000 items (one job of {items:,})",
        [str(f["steady_state"]["calls_per_1000"]) for f in figures],
        "<= 110 (floor ~104)",
    )
    for index in (0, 1):
        accounts = figures[0]["idle_tick"][index]["accounts"]
        row(
            f"Idle tick, {accounts} account(s): calls per account",
            [str(f["idle_tick"][index]["calls_per_account"]) for f in figures],
            "<= 3",
        )
    row(
        "Tick of a completed job in its grace (then closing)",
        [
            f"{f['grace_tick']['calls_per_tick']} ({f['grace_tick']['closing_calls']})"
            for f in figures
        ],
        "idle + 1",
    )
    sparse = figures[0]["sparse_world"]
    row(
        f"Sparse world: calls per tick (floor {sparse['floor_per_tick']})",
        [f"{f['sparse_world']['calls_per_tick']} = {f['sparse_world']['ratio']}x" for f in figures],
        "<= 1.10x",
    )
    row(
        "Events that went out unnamed (steady, sparse)",
        [
            f"{f['steady_state']['not_enriched']}, "
            f"{sum(r['not_enriched'] for r in f['sparse_world']['ticks'])}"
            for f in figures
        ],
        "",
    )
    runs: dict[str, Callable[[dict[str, Any]], dict[str, int]]] = {
        f"steady ({items:,} items)": lambda f: mgn_calls(f["steady_state"]["calls"]),
        "idle, 1 account": lambda f: mgn_calls(f["idle_tick"][0]["calls"]),
        "idle, 10 accounts": lambda f: mgn_calls(f["idle_tick"][1]["calls"]),
        f"sparse ({len(sparse['ticks'])} ticks)": lambda f: sparse_mgn(f["sparse_world"]),
    }
    operations = sorted({op for f in figures for read in runs.values() for op in read(f)})
    print(f"\nMGN calls by operation, per run ({' / '.join(modes)}):")
    print(f"{'operation':<28}" + "".join(f"{name:>22}" for name in runs))
    for op in operations:
        cells = [" / ".join(str(read(f).get(op, 0)) for f in figures) for read in runs.values()]
        print(f"{op:<28}" + "".join(f"{cell:>22}" for cell in cells))


def sparse_mgn(sparse: dict[str, Any]) -> dict[str, int]:
    return dict(sparse["mgn_calls"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000, help="items of the steady-state job")
    parser.add_argument("--rounds", type=int, default=3, help="alternating overhead rounds")
    parser.add_argument("--overhead-items", type=int, default=2_000)
    parser.add_argument("--sparse-ticks", type=int, default=5, help="ticks of the sparse world")
    parser.add_argument(
        "--enrichment",
        choices=("on", "off", "both"),
        default="both",
        help="run with enrichment on (ENRICHMENT_REFRESH_MINUTES default), off (0), or both",
    )
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--steady-only",
        action="store_true",
        help="only the calls per 1,000 items (the figure benchmarks.fanout_bench compares with)",
    )
    parser.add_argument(
        "--sparse-only", action="store_true", help="only the sparse world's calls per tick"
    )
    args = parser.parse_args()
    modes = ["on", "off"] if args.enrichment == "both" else [args.enrichment]

    if args.sparse_only:
        for mode in modes:
            with enrichment(mode), local_cloud() as (_, emu):
                sparse = sparse_world(emu, args.sparse_ticks)
            print_sparse(sparse, mode)
            print(f"  MGN calls over the {len(sparse['ticks'])} ticks: {sparse['mgn_calls']}")
        return 0

    if args.steady_only:
        steady_by_mode = {}
        for mode in modes:
            with enrichment(mode), local_cloud() as (_, emu):
                steady_by_mode[mode] = calls_per_thousand(emu, args.items, Inventories(emu))
            print(steady_line(steady_by_mode[mode], mode))
        if args.json:
            with open(args.json, "w", encoding="utf-8") as handle:
                document = {
                    "steady_state": steady_by_mode[modes[0]],
                    "by_enrichment": steady_by_mode,
                }
                json.dump(document, handle, indent=2)
        return 0

    by_mode = {
        mode: measure(mode, args, with_overhead=index == 0) for index, mode in enumerate(modes)
    }
    cost = by_mode[modes[0]].pop("overhead")
    imports = cold_import()
    print_side_by_side(by_mode)
    for mode in modes:
        print(f"\n{steady_line(by_mode[mode]['steady_state'], mode)}")
        for idle in by_mode[mode]["idle_tick"]:
            print(f"Idle tick, {idle['accounts']} account(s), enrichment {mode}: {idle['calls']}")
        print_sparse(by_mode[mode]["sparse_world"], mode)
    print(
        f"\nExporter vs bare API calls ({cost['rounds']} rounds of {cost['items_per_round']:,} "
        f"items, enrichment {cost['enrichment']}): {cost['ratio']}x  (goal <= 1.3)  exporter "
        f"{cost['exporter_seconds']} s, bare {cost['bare_seconds']} s"
    )
    print(
        f"Cold import: worker handler {imports['handler_seconds']} s vs boto3 "
        f"{imports['boto3_seconds']} s = {imports['ratio']}x  (goal <= 1.5); with X-Ray SDK "
        f"tracing {imports['ratio_with_sdk_tracing']}x; dispatcher handler "
        f"{imports['dispatcher_seconds']} s = {imports['dispatcher_ratio']}x"
    )
    if args.json:
        figures = {
            "inventory_per_account": INVENTORY,
            "enrichment": by_mode,
            "overhead": cost,
            "cold_import": imports,
        }
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(figures, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
