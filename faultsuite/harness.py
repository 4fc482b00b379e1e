"""One scenario's world and its bookkeeping: MGN's jobs, the proxy's faults, the invocations."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from fault_proxy import FaultProxy
from faultsuite.cloud import OWN_ACCOUNT, REGION, Cloud, ItemKey, reset_moto
from faultsuite.environments import Environments, Invocation, Worker
from faultsuite.ledger import Result, tally
from mgn_emulator import MgnEmulator
from mgn_emulator.worlds import job_log
from mgn_exporter.mgn_reader import PAGE_SIZE

# Calls whose answer says the exporter broke a service limit (the proxy enforces them).
LIMIT_ERRORS = {
    "events.PutEvents": "ValidationException",
    "logs.PutLogEvents": "InvalidParameterException",
}


class Harness:
    """Builds the world of one scenario and runs the exporter against it in worker processes."""

    def __init__(
        self,
        moto_url: str,
        scenario: str,
        seed: int,
        *,
        workdir: Path,
        accounts: tuple[str, ...] = (OWN_ACCOUNT,),
        unknown_accounts: tuple[str, ...] = (),
        max_page_size: int | None = None,
        margin_seconds: int = 2,
        max_attempts: int | None = None,
    ) -> None:
        self.scenario = scenario
        self.seed = seed
        self.rng = random.Random(seed)
        self.page_bound = min(PAGE_SIZE, max_page_size or PAGE_SIZE)
        self.started = time.monotonic()
        reset_moto(moto_url)
        self.emulator = MgnEmulator(
            caller_account=OWN_ACCOUNT, region=REGION, max_page_size=max_page_size
        ).start()
        self.proxy = FaultProxy({"mgn": self.emulator.endpoint_url, "*": moto_url}, seed=seed)
        self.proxy.start()
        for account in accounts:
            if account != OWN_ACCOUNT:
                self.emulator.add_account(account, initialized=True, managed=True)
        self.cloud = Cloud(
            moto_url,
            self.emulator,
            self.proxy,
            accounts=accounts + unknown_accounts,  # configured, but MGN does not know them
            margin_seconds=margin_seconds,
            max_attempts=max_attempts,
        )
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / f"{scenario}-seed{seed}.log"
        self.log_path.unlink(missing_ok=True)
        self.envs = Environments(self.cloud.exporter_env(), self.log_path)
        self.invocations: list[Invocation] = []
        self.jobs: dict[str, list[str]] = {}
        self.problems: list[str] = []

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> Harness:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.envs.close()
        self.proxy.stop()
        self.emulator.stop()

    # -- MGN's side -----------------------------------------------------------------------------

    def add_job(
        self,
        account_id: str,
        count: int,
        *,
        completed: bool = True,
        initiated_by: str = "START_TEST",
        fail_every: int = 0,
        items: list[dict[str, Any]] | None = None,
        expected: bool = True,
    ) -> str:
        """A job with `count` MGN-like items (or exactly `items`), created before its items."""
        now = datetime.now(UTC)
        start = now - timedelta(seconds=30 * count + 600)
        job_id = self.emulator.add_job(
            account_id, initiated_by=initiated_by, status="STARTED", created=start
        )
        if items is None:
            items = job_log(count, start=start, rng=self.rng, fail_every=fail_every)
        self.emulator.append_items(account_id, job_id, items)
        if completed:
            self.emulator.set_job_status(account_id, job_id, "COMPLETED")
        if expected:
            self.jobs.setdefault(account_id, []).append(job_id)
        return job_id

    def grow(self, account_id: str, job_id: str, count: int) -> None:
        """A running job logs `count` more items."""
        if count > 0:
            start = datetime.now(UTC) - timedelta(seconds=30 * count)
            steps = job_log(count + 2, start=start, rng=self.rng)[1:-1]  # no JOB_START/END
            self.emulator.append_items(account_id, job_id, steps)

    def populate(
        self, total: int, *, accounts: tuple[str, ...], jobs_per_account: int = 2
    ) -> list[tuple[str, str]]:
        """`total` items over completed jobs of every account; returns (account, job) pairs."""
        slots = len(accounts) * jobs_per_account
        sizes = [max(1, total // slots)] * slots
        sizes[-1] += total - sum(sizes)
        pairs: list[tuple[str, str]] = []
        for index, size in enumerate(sizes):
            account = accounts[index % len(accounts)]
            pairs.append((account, self.add_job(account, size, fail_every=7)))
        return pairs

    def expected(self) -> dict[str, ItemKey]:
        return self.cloud.expected(self.jobs)

    # -- invocations ----------------------------------------------------------------------------

    def invoke(self, budget_ms: int, *, kill_after_s: float | None = None) -> Invocation:
        invocation = self.envs.invoke(budget_ms, kill_after_s=kill_after_s)
        self.invocations.append(invocation)
        # A killed invocation's last call still lands: count only once the proxy is idle.
        self.proxy.wait_idle()
        return invocation

    def invoke_together(self, budgets: list[int]) -> list[Invocation]:
        """Concurrent invocations, each in its own environment, released at the same instant."""
        workers: list[Worker] = [self.envs.take() for _ in budgets]
        results: list[Invocation | None] = [None] * len(budgets)
        gate = threading.Barrier(len(budgets))

        def run(index: int) -> None:
            gate.wait()
            results[index] = workers[index].invoke(budgets[index])

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(budgets))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for worker in workers:
            self.envs.give_back(worker)
        done = [result for result in results if result is not None]
        if len(done) != len(budgets):
            raise RuntimeError("a concurrent invocation did not finish")
        self.invocations.extend(done)
        self.proxy.wait_idle()
        return done

    def recycle(self) -> None:
        """Retire the warm environments: the next invocation is a cold start."""
        self.envs.retire_idle()

    # -- sinks ----------------------------------------------------------------------------------

    def sinks(self) -> tuple[Counter[str], Counter[str]]:
        return self.cloud.bus_ids(), self.cloud.log_ids()

    def drained(self, expected: dict[str, ItemKey]) -> bool:
        bus, logs = self.sinks()
        return all(bus[event_id] and logs[event_id] for event_id in expected)

    def drain(
        self,
        budget_ms: int,
        *,
        max_invocations: int,
        require_progress: bool = False,
        cold_every: int = 0,
    ) -> int:
        """Invoke until every expected item is in both sinks; returns the invocations made.

        With `require_progress`, an invocation that exports nothing although work is left
        (and no lease of a killed invocation stands in its way) is a livelock.
        """
        expected = self.expected()
        for count in range(1, max_invocations + 1):
            if self.drained(expected):
                return count - 1
            if cold_every and count % cold_every == 0:
                self.recycle()
            invocation = self.invoke(budget_ms)
            if "skipped" in invocation.outcomes().values() and not invocation.items_exported:
                time.sleep(0.5)  # a killed invocation's lease: it expires by itself
                continue
            if require_progress and not (invocation.items_exported or invocation.complete):
                self.problems.append(
                    f"invocation {count} ({budget_ms} ms) made no progress: {invocation.report}"
                )
        if not self.drained(expected):
            bus, logs = self.sinks()
            missing = sum(1 for e in expected if not (bus[e] and logs[e]))
            self.problems.append(
                f"not drained after {max_invocations} invocations: {missing} items missing"
            )
        return max_invocations

    # -- checks ---------------------------------------------------------------------------------

    def limit_violations(self) -> int:
        return sum(
            1
            for record in self.proxy.records
            if LIMIT_ERRORS.get(record.operation) is not None
            and record.error_code == LIMIT_ERRORS[record.operation]
        )

    def result(self, name: str | None = None) -> Result:
        bus, logs = self.sinks()
        problems = list(self.problems)
        violations = self.limit_violations()
        if violations:
            problems.append(f"{violations} calls broke a service limit")
        result = tally(
            name or self.scenario,
            self.seed,
            self.expected(),
            bus,
            logs,
            self.invocations,
            page_bound=self.page_bound,
            calls=sum(self.proxy.calls.values()),
            problems=problems,
        )
        result.seconds = time.monotonic() - self.started
        return result
