"""What a scenario proved: items, what reached each sink, lost, duplicates, overruns, cost; and
the same of the derived events (job outcomes, post-launch action statuses: see derived.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from local.faultsuite.derived import DerivedTally
from local.faultsuite.environments import Invocation
from mgn_exporter.metric_names import WorkerMetric

DERIVED_EXPORTED = str(WorkerMetric.DERIVED_EVENTS)


@dataclass
class Result:
    scenario: str
    seed: int
    items: int
    eventbridge: int  # expected items EventBridge delivered at least once
    logs: int  # expected items in the log group at least once
    lost: int  # expected items missing from either sink
    duplicates_bus: int  # extra copies in EventBridge
    duplicates_logs: int  # extra copies in the log group
    bound: int  # the most extra copies allowed per sink
    overruns: int  # invocations (worker or dispatcher) that returned at or after their deadline
    calls: int  # API calls the functions made (the proxy's count, retries included)
    invocations: int  # worker invocations (SQS batches)
    crashes: int  # worker invocations killed
    ticks: int = 0  # schedule ticks (dispatches)
    hand_ons: int = 0  # continuation requests the workers sent (an account's backlog handed on)
    dlq: int = 0  # messages in the dead-letter queue at the end
    dispatch_failures: int = 0  # dispatcher invocations that raised (retried like Lambda's)
    # Delivered events that name a server the world named, and those of them that carried its
    # names in every copy (see names.check_names: the others are counted EventsNotEnriched).
    nameable: int = 0
    named: int = 0
    # The derived events (derived.check_derived): those the world requires in both sinks (job
    # outcomes, post-launch action statuses), those delivered to both, lost, extra copies per
    # sink and the most allowed per sink; what the world held (failed servers of the settled
    # jobs, items MGN made readable after their job showed COMPLETED).
    derived: int = 0
    derived_delivered: int = 0
    derived_lost: int = 0
    derived_duplicates_bus: int = 0
    derived_duplicates_logs: int = 0
    derived_bound: int = 0
    outcomes: int = 0
    statuses: int = 0
    failed_servers: int = 0
    late_items: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    # Per tick, what the alarms' metrics would have received (see alarms.observe).
    observed: list[dict[str, list[float]]] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.duplicates_bus + self.duplicates_logs

    @property
    def derived_duplicates(self) -> int:
        return self.derived_duplicates_bus + self.derived_duplicates_logs

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        per_thousand = self.calls * 1000 / self.items if self.items else 0.0
        return (
            f"scenario={self.scenario} seed={self.seed} items={self.items} "
            f"eventbridge={self.eventbridge} logs={self.logs} lost={self.lost} "
            f"duplicates={self.duplicates} (bound {2 * self.bound}) overruns={self.overruns} "
            f"calls_per_1000={per_thousand:.1f} invocations={self.invocations} "
            f"crashes={self.crashes} ticks={self.ticks} hand_ons={self.hand_ons} "
            f"dlq={self.dlq} named={self.named}/{self.nameable} "
            f"derived={self.derived_delivered}/{self.derived} derived_lost={self.derived_lost} "
            f"derived_duplicates={self.derived_duplicates} (bound {2 * self.derived_bound}) "
            f"outcomes={self.outcomes} statuses={self.statuses} "
            f"failed_servers={self.failed_servers} late_items={self.late_items} "
            f"seconds={self.seconds:.1f}"
        )


def interruptions(invocation: Invocation) -> int:
    """Pages this worker invocation may have left half-delivered (in one sink, not checkpointed).

    A killed invocation: its page in flight (a batch's accounts are exported one after the
    other). Otherwise one per account that failed (a sink or the checkpoint refused after the
    other sink took the page), per lease lost, and per entry EventBridge refused for good (the
    rest of its batch went out, past the checkpoint).
    """
    if invocation.killed:
        return 1
    if invocation.report is None:
        return 1  # the handler raised: treated like a crash
    failed = sum(1 for outcome in invocation.outcomes().values() if outcome == "failed")
    return failed + invocation.counter("FailedEntries") + invocation.counter("LeasesLost")


def tally(
    scenario: str,
    seed: int,
    expected: Mapping[str, object],
    bus: Counter[str],
    logs: Counter[str],
    invocations: Iterable[Invocation],
    *,
    page_bound: int,
    calls: int,
    ticks: int,
    dlq: int,
    problems: list[str],
    derived: DerivedTally | None = None,
    derived_page_bound: int = 0,
) -> Result:
    """The ledger of items (and, given `derived`, of derived events): lost, duplicates over
    the bound (`page_bound` items, `derived_page_bound` derived events per interruption: see
    `interruptions`), overruns, workers that raised."""
    runs = list(invocations)
    workers = [run for run in runs if run.handler == "worker"]
    dispatches = [run for run in runs if run.handler == "dispatcher"]
    in_bus = {event_id for event_id in expected if bus[event_id] > 0}
    in_logs = {event_id for event_id in expected if logs[event_id] > 0}
    lost = sum(1 for event_id in expected if event_id not in in_bus or event_id not in in_logs)
    duplicates_bus = sum(count - 1 for count in bus.values() if count > 1)
    duplicates_logs = sum(count - 1 for count in logs.values() if count > 1)
    interrupted = sum(interruptions(run) for run in workers)
    bound = page_bound * interrupted
    overruns = sum(1 for run in runs if run.overran)
    result = Result(
        scenario=scenario,
        seed=seed,
        items=len(expected),
        eventbridge=len(in_bus),
        logs=len(in_logs),
        lost=lost,
        duplicates_bus=duplicates_bus,
        duplicates_logs=duplicates_logs,
        bound=bound,
        overruns=overruns,
        calls=calls,
        invocations=len(workers),
        crashes=sum(1 for run in workers if run.killed),
        ticks=ticks,
        hand_ons=sum(len(run.handed_on) for run in workers),
        dlq=dlq,
        dispatch_failures=sum(1 for run in dispatches if run.error or run.killed),
        problems=list(problems),
    )
    unexpected = (set(bus) | set(logs)) - set(expected)
    if lost:
        result.problems.append(f"{lost} items lost")
    if unexpected:
        result.problems.append(f"{len(unexpected)} delivered events are no expected item")
    for sink, extra in (("EventBridge", duplicates_bus), ("Logs", duplicates_logs)):
        if extra > bound:
            result.problems.append(f"{extra} duplicates in {sink}, over the bound {bound}")
    if overruns:
        worst = max((run for run in runs if run.overran), key=lambda run: run.elapsed_ms or 0)
        result.problems.append(
            f"{overruns} invocations overran their deadline (worst +"
            f"{(worst.elapsed_ms or 0) - worst.budget_ms:.0f} ms, a {worst.handler} "
            f"invocation: {_summary(worst)})"
        )
    if derived is not None:
        _tally_derived(result, derived, workers, derived_page_bound * interrupted)
    # A worker that raises is a defect (failed accounts are reported record by record); a
    # dispatcher may fail under injected faults: its tick is retried, as Lambda retries it.
    errors = [run.error for run in workers if run.error]
    if errors:
        result.problems.append(f"{len(errors)} worker invocations raised: {errors[0]}")
    return result


def _tally_derived(
    result: Result, derived: DerivedTally, workers: list[Invocation], bound: int
) -> None:
    result.derived = derived.required
    result.derived_delivered = derived.delivered
    result.derived_lost = derived.lost
    result.derived_duplicates_bus = derived.duplicates_bus
    result.derived_duplicates_logs = derived.duplicates_logs
    result.derived_bound = bound
    result.outcomes, result.statuses = derived.outcomes, derived.statuses
    result.failed_servers = derived.failed_servers
    result.problems.extend(derived.problems)
    check_derived_bound(result)
    # Each derived event is counted when it first reaches a sink (more when a sink that took
    # it failed after, or a partial failure delivered past the prefix): never fewer, while
    # no worker died with its counts.
    if all(not run.killed and run.report is not None for run in workers):
        counted = sum(run.counter(DERIVED_EXPORTED) for run in workers)
        if counted < derived.delivered:
            result.problems.append(
                f"{DERIVED_EXPORTED} counted {counted}; {derived.delivered} derived events "
                "reached both sinks"
            )


def check_derived_bound(result: Result) -> None:
    """Derived duplicates within `result.derived_bound` per sink (set it, then call again
    when a scenario allows fewer: the problem is replaced)."""
    result.problems[:] = [p for p in result.problems if not p.startswith(_OVER_DERIVED)]
    for sink, extra in (
        ("EventBridge", result.derived_duplicates_bus),
        ("Logs", result.derived_duplicates_logs),
    ):
        if extra > result.derived_bound:
            result.problems.append(
                f"{_OVER_DERIVED} in {sink}: {extra}, over the bound {result.derived_bound}"
            )


_OVER_DERIVED = "derived events repeated"


def _summary(invocation: Invocation) -> str:
    report = invocation.report or {}
    outcomes = [
        f"{account.get('account_id')}:{account.get('outcome')}:{account.get('items_exported')}"
        for account in report.get("accounts", [])
    ]
    return f"{invocation.budget_ms} ms, accounts {outcomes}, calls {report.get('apiCalls')}"
