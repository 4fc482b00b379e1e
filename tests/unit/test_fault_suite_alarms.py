"""The fault suite's alarm table: what a scenario's invocations show of each alarm's metric."""

from __future__ import annotations

from typing import Any

from local.faultsuite.alarms import Alarm, MetricKey, evaluate_observed, observe, table
from local.faultsuite.environments import Invocation

SERVICE = (("service", "mgn-job-log-exporter"),)


def _alarm(name: str, metric: MetricKey, *, periods: int = 1, to_alarm: int = 1) -> Alarm:
    return Alarm(
        logical_id=f"Monitoring{name}AlarmABCD1234",
        metric=metric,
        statistic="Sum",
        threshold=1,
        comparison="GreaterThanOrEqualToThreshold",
        evaluation_periods=periods,
        datapoints_to_alarm=to_alarm,
        treat_missing="notBreaching",
    )


def _worker(tick: int, *, killed: bool = False, **counters: int) -> Invocation:
    report: dict[str, Any] = {"counters": counters}
    return Invocation("r", 1000, handler="worker", tick=tick, killed=killed, report=report)


ACCOUNTS_FAILED = _alarm(
    "AccountsFailed", MetricKey("Exporter", "AccountsFailed", SERVICE), periods=3, to_alarm=3
)
WORKER_ERRORS = _alarm(
    "WorkerErrors", MetricKey("AWS/Lambda", "Errors", (("FunctionName", "<WorkerFunction1>"),))
)
STALENESS = _alarm("AccountStaleness", MetricKey("Exporter", "AccountStalenessSeconds", SERVICE))


def test_a_failure_in_three_ticks_in_a_row_fires_at_the_third() -> None:
    runs = [_worker(tick, AccountsFailed=1) for tick in (1, 2, 3)] + [_worker(4)]
    fired = evaluate_observed([ACCOUNTS_FAILED], observe(runs, ticks=4, dead_letters=0))
    assert fired == {"AccountsFailed": 2}  # 0-based: the third period


def test_a_failure_that_recovers_within_three_ticks_stays_quiet() -> None:
    runs = [_worker(1, AccountsFailed=1), _worker(2, AccountsFailed=1), _worker(3)]
    fired = evaluate_observed([ACCOUNTS_FAILED], observe(runs, ticks=3, dead_letters=0))
    assert fired == {"AccountsFailed": None}


def test_a_killed_worker_is_a_lambda_error_and_staleness_is_not_evaluated() -> None:
    runs = [_worker(1), _worker(2, killed=True)]
    fired = evaluate_observed([WORKER_ERRORS, STALENESS], observe(runs, ticks=2, dead_letters=0))
    assert fired == {"WorkerErrors": 1, "AccountStaleness": "n/e"}
    lines = table({"crash": fired})
    assert lines[1].split("|")[1].strip() == "2"
    assert lines[-1] == "not evaluated here: AccountStaleness"
