"""Benchmark of the exporter against moto's server and the MGN emulator on 127.0.0.1.

Prints, side by side in one run:
- API calls per 1,000 newly exported items, steady state, one job (default 10,000 items);
- API calls of an idle tick, per account (1 and 10 accounts);
- API calls per tick of a sparse world (3 accounts, 10 running jobs, about 800 new items a
  tick spread over the jobs) against the floor of what MGN and the sinks need;
- the exporter's wall time against a bare script making the same API calls to the same
  endpoints (no shaping, no checks), in alternating rounds;
- the handler's cold import time against `import boto3` (in fresh interpreters).

Usage: .venv/bin/python -m local.benchmarks.exporter_bench [--items N] [--rounds N] [--json FILE]
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from local.mgn_emulator import MgnEmulator
from local.mgn_emulator.worlds import job_log
from local.moto_deploy import moto_server

REGION = "us-east-1"
OWN = "111111111111"
BUS = "bench-bus"
LOG_GROUP = "/bench/events"
TABLE = "bench-checkpoints"
SOURCE = "mgn.joblog.bench"


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


def add_job(emu: MgnEmulator, account: str, count: int, seed: int, *, completed: bool) -> str:
    created = datetime.now(UTC) - timedelta(minutes=20)
    job = emu.add_job(account, created=created)
    emu.append_items(account, job, job_log(count, start=created, rng=random.Random(seed)))
    if completed:
        emu.set_job_status(account, job, "COMPLETED")
    return job


def calls_per_thousand(emu: MgnEmulator, items: int) -> dict[str, Any]:
    # Warm up: discovery has seen the job and the day's log stream exists.
    job = add_job(emu, OWN, 1, seed=1, completed=False)
    invoke()
    created = datetime.now(UTC)
    emu.append_items(OWN, job, job_log(items, start=created, rng=random.Random(2)))
    report = invoke()
    assert report["itemsExported"] == items, report
    total = sum(report["apiCalls"].values())
    emu.set_job_status(OWN, job, "COMPLETED")
    invoke()  # closes the job
    return {
        "items": items,
        "calls": report["apiCalls"],
        "total_calls": total,
        "calls_per_1000": round(total * 1000 / items, 1),
    }


def idle_tick(emu: MgnEmulator, accounts: list[str]) -> dict[str, Any]:
    os.environ["ACCOUNTS"] = ",".join(accounts)
    for account in accounts:
        if account != OWN:
            emu.add_account(account, initialized=True, managed=True)
    invoke()  # first run for new accounts
    report = invoke()
    total = sum(report["apiCalls"].values())
    os.environ["ACCOUNTS"] = OWN
    return {
        "accounts": len(accounts),
        "calls": report["apiCalls"],
        "calls_per_account": round(total / len(accounts), 2),
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
    """3 accounts, 10 running jobs, ~800 new items per tick spread unevenly over the jobs."""
    rng = random.Random(5)
    os.environ["ACCOUNTS"] = ",".join(SPARSE_ACCOUNTS)
    for account in SPARSE_ACCOUNTS[1:]:
        emu.add_account(account, initialized=True, managed=True)
    jobs = [
        (
            SPARSE_ACCOUNTS[n % len(SPARSE_ACCOUNTS)],
            add_job(emu, SPARSE_ACCOUNTS[n % 3], 5, n, completed=False),
        )
        for n in range(SPARSE_JOBS)
    ]
    invoke()  # discovery has seen the jobs; the day's log streams exist
    rows = []
    for tick in range(ticks):
        weights = [rng.uniform(0.2, 1.8) for _ in jobs]
        counts = [round(SPARSE_ITEMS_PER_TICK * w / sum(weights)) for w in weights]
        new_by_account: dict[str, list[int]] = {account: [] for account in SPARSE_ACCOUNTS}
        start = datetime.now(UTC)
        for (account, job), count in zip(jobs, counts, strict=True):
            emu.append_items(account, job, job_log(count, start=start, rng=rng))
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
            }
        )
    os.environ["ACCOUNTS"] = OWN
    calls = sum(row["calls"] for row in rows)
    floor = sum(row["floor"] for row in rows)
    return {
        "accounts": len(SPARSE_ACCOUNTS),
        "jobs": SPARSE_JOBS,
        "ticks": rows,
        "calls_per_tick": round(calls / ticks, 1),
        "floor_per_tick": round(floor / ticks, 1),
        "ratio": round(calls / floor, 3),
    }


def bare_export(emu: MgnEmulator, job: str, clients: dict[str, Any], stream: str) -> None:
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
        bodies = [json.dumps(item) for item in items]
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


def overhead(emu: MgnEmulator, rounds: int, items: int) -> dict[str, Any]:
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
    exporter_times: list[float] = []
    bare_times: list[float] = []
    for n in range(rounds):
        add_job(emu, OWN, items, seed=100 + n, completed=True)
        exporter_times.append(timed(invoke))
        job = add_job(emu, OWN, items, seed=200 + n, completed=True)
        bare_times.append(timed(functools.partial(bare_export, emu, job, clients, stream)))
        invoke()  # the exporter closes the bare run's job without counting it
    return {
        "items_per_round": items,
        "rounds": rounds,
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


def sparse_line(sparse: dict[str, Any]) -> str:
    return (
        f"Sparse world ({sparse['accounts']} accounts, {sparse['jobs']} running jobs, about "
        f"{SPARSE_ITEMS_PER_TICK} new items a tick): {sparse['calls_per_tick']} calls per tick "
        f"vs floor {sparse['floor_per_tick']} = {sparse['ratio']}x  (goal <= 1.10)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000, help="items of the steady-state job")
    parser.add_argument("--rounds", type=int, default=3, help="alternating overhead rounds")
    parser.add_argument("--overhead-items", type=int, default=2_000)
    parser.add_argument("--sparse-ticks", type=int, default=5, help="ticks of the sparse world")
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

    if args.sparse_only:
        with local_cloud() as (_, emu):
            sparse = sparse_world(emu, args.sparse_ticks)
        print(sparse_line(sparse))
        for row in sparse["ticks"]:
            print(
                f"  tick {row['tick']}: {row['items']} items, {row['calls']} calls, floor "
                f"{row['floor']}  {row['by_api']}"
            )
        return 0

    if args.steady_only:
        with local_cloud() as (_, emu):
            steady = calls_per_thousand(emu, args.items)
        print(
            f"API calls per 1,000 items (one job of {steady['items']:,}): "
            f"{steady['calls_per_1000']}  {steady['calls']}"
        )
        if args.json:
            with open(args.json, "w", encoding="utf-8") as handle:
                json.dump({"steady_state": steady}, handle, indent=2)
        return 0

    with local_cloud() as (_, emu):
        steady = calls_per_thousand(emu, args.items)
        idle_one = idle_tick(emu, [OWN])
        idle_ten = idle_tick(emu, [OWN] + [f"{900000000000 + n}" for n in range(9)])
        cost = overhead(emu, args.rounds, args.overhead_items)
    with local_cloud() as (_, emu):
        sparse = sparse_world(emu, args.sparse_ticks)
    imports = cold_import()
    figures = {
        "steady_state": steady,
        "idle_tick": [idle_one, idle_ten],
        "sparse_world": sparse,
        "overhead": cost,
        "cold_import": imports,
    }

    print(
        f"API calls per 1,000 items (one job of {steady['items']:,}): "
        f"{steady['calls_per_1000']}  (goal <= 110; floor ~104)"
    )
    print(f"  calls: {steady['calls']}")
    for idle in (idle_one, idle_ten):
        print(
            f"Idle tick, {idle['accounts']} account(s): {idle['calls_per_account']} calls per "
            f"account  (goal <= 3)  {idle['calls']}"
        )
    print(sparse_line(sparse))
    print(
        f"Exporter vs bare API calls ({cost['rounds']} rounds of {cost['items_per_round']:,} "
        f"items): {cost['ratio']}x  (goal <= 1.3)  exporter {cost['exporter_seconds']} s, "
        f"bare {cost['bare_seconds']} s"
    )
    print(
        f"Cold import: worker handler {imports['handler_seconds']} s vs boto3 "
        f"{imports['boto3_seconds']} s = {imports['ratio']}x  (goal <= 1.5); with X-Ray SDK "
        f"tracing {imports['ratio_with_sdk_tracing']}x; dispatcher handler "
        f"{imports['dispatcher_seconds']} s = {imports['dispatcher_ratio']}x"
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(figures, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
