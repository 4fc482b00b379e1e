"""CloudWatch alarms of the synthesized template, evaluated over metric datapoints.

The local cloud cannot run alarms (moto drops them), so whether an alarm fires on a stall and
stays quiet on healthy work is checked here: each alarm's metric, statistic, threshold,
comparison, evaluation periods, datapoints to alarm and missing-data treatment, applied to the
datapoints a scenario's runs emitted, one run per period (the schedule's rate is the alarms'
period, and a worker emits its metrics once per invocation).

This follows CloudWatch's documented evaluation: a period's value is the statistic over its
datapoints; the alarm goes to ALARM when at least `DatapointsToAlarm` of the last
`EvaluationPeriods` periods breach, a period with no datapoint counting as `TreatMissingData`
says (`notBreaching`, `breaching`, `ignore`: the state stays; `missing`: the same here).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mgn_exporter.metric_names import ACCOUNT_STALENESS_SECONDS, DispatcherMetric

COMPARISONS: Mapping[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": operator.ge,
    "GreaterThanThreshold": operator.gt,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}
STATISTICS: Mapping[str, Callable[[Sequence[float]], float]] = {
    "Sum": sum,
    "Maximum": max,
    "Minimum": min,
    "Average": lambda values: sum(values) / len(values),
    "SampleCount": len,
}


@dataclass(frozen=True)
class MetricKey:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Alarm:
    logical_id: str
    metric: MetricKey
    statistic: str
    threshold: float
    comparison: str
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing: str

    def breaches(self, value: float) -> bool:
        return COMPARISONS[self.comparison](value, self.threshold)

    def fired(self, periods: Sequence[Sequence[float]]) -> int | None:
        """The first period (0-based) at whose end the alarm is in ALARM, or None."""
        window: list[bool | None] = []
        for index, datapoints in enumerate(periods):
            if datapoints:
                window.append(self.breaches(STATISTICS[self.statistic](datapoints)))
            elif self.treat_missing == "breaching":
                window.append(True)
            elif self.treat_missing == "notBreaching":
                window.append(False)
            else:
                window.append(None)  # ignore / missing: the period does not count
            recent = [flag for flag in window if flag is not None][-self.evaluation_periods :]
            if sum(1 for flag in recent if flag) >= self.datapoints_to_alarm:
                return index
        return None


def _plain(value: Any, resources: Mapping[str, Any]) -> str:
    """A template value as text: literals, Fn::Join of literals, Ref to a named resource."""
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_plain(part, resources) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    return f"<{value}>"


def template_alarms(template: Mapping[str, Any]) -> list[Alarm]:
    """Every single-metric AWS::CloudWatch::Alarm of a synthesized template."""
    resources = template.get("Resources", {})
    alarms: list[Alarm] = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::CloudWatch::Alarm":
            continue
        props = resource["Properties"]
        if "MetricName" not in props:
            raise ValueError(f"{logical_id}: metric math alarms are not evaluated here")
        dimensions = tuple(
            sorted(
                (str(d["Name"]), _plain(d["Value"], resources)) for d in props.get("Dimensions", [])
            )
        )
        evaluation_periods = int(props["EvaluationPeriods"])
        alarms.append(
            Alarm(
                logical_id=logical_id,
                metric=MetricKey(str(props["Namespace"]), str(props["MetricName"]), dimensions),
                statistic=str(props["Statistic"]),
                threshold=float(props["Threshold"]),
                comparison=str(props["ComparisonOperator"]),
                evaluation_periods=evaluation_periods,
                datapoints_to_alarm=int(props.get("DatapointsToAlarm", evaluation_periods)),
                treat_missing=str(props.get("TreatMissingData", "missing")),
            )
        )
    return alarms


def short_name(alarm: Alarm) -> str:
    """`MonitoringAccountsFailedAlarm1A2B3C4D` -> `AccountsFailed`."""
    name = alarm.logical_id.removeprefix("Monitoring")
    cut = name.rfind("Alarm")
    return name[:cut] if cut > 0 else name


def evaluate(
    alarms: Iterable[Alarm],
    periods: Sequence[Mapping[MetricKey, Sequence[float]]],
) -> dict[str, int | None]:
    """Each alarm's first firing period over the given periods (None: it never fired).

    A metric is matched by namespace and name; dimensions of the scenario's datapoints are
    those the functions emit, so an alarm whose dimensions differ reads no data (and that is
    a defect the caller should see, which is why it matches dimensions too).
    """
    return {
        short_name(alarm): alarm.fired([period.get(alarm.metric, []) for period in periods])
        for alarm in alarms
    }


# -- the fault suite's view: one tick stands for one period ------------------------------------

WORK_DEAD_LETTERS = "work-dlq.Visible"


def observe(
    invocations: Iterable[Any], *, ticks: int, dead_letters: int
) -> list[dict[str, list[float]]]:
    """What a scenario's run showed of the alarms' metrics, per tick: each invocation's counters
    (the worker's EMF line carries them, zeros included), Lambda's errors (a killed or raising
    invocation) and invocations, and the work dead-letter queue's depth at the end."""
    periods: list[dict[str, list[float]]] = [{} for _ in range(max(1, ticks))]
    for run in invocations:
        period = periods[min(len(periods), max(1, run.tick)) - 1]
        role = run.handler  # "worker" or "dispatcher"
        period.setdefault(f"{role}.Invocations", []).append(1.0)
        if run.killed or run.error:
            period.setdefault(f"{role}.Errors", []).append(1.0)
        for name, value in (run.report or {}).get("counters", {}).items():
            period.setdefault(f"{role}.{name}", []).append(float(value))
    if dead_letters:
        periods[-1][WORK_DEAD_LETTERS] = [float(dead_letters)]
    return periods


def observed_as(alarm: Alarm) -> str | None:
    """The observation standing for an alarm's metric, or None where the suite cannot see it
    (time-valued metrics, whose periods are seconds here, and what the suite does not run)."""
    metric = alarm.metric
    dimensions = " ".join(value for _, value in metric.dimensions)
    if not metric.namespace.startswith("AWS/"):
        if metric.name == ACCOUNT_STALENESS_SECONDS:
            return None
        role = "dispatcher" if metric.name in set(DispatcherMetric) else "worker"
        return f"{role}.{metric.name}"
    if metric.namespace == "AWS/Lambda" and metric.name in ("Errors", "Invocations"):
        role = "dispatcher" if "Dispatcher" in dimensions else "worker"
        return f"{role}.{metric.name}"
    if metric.name == "ApproximateNumberOfMessagesVisible" and "WorkQueueDeadLetter" in dimensions:
        return WORK_DEAD_LETTERS
    return None


def evaluate_observed(
    alarms: Iterable[Alarm], observed: Sequence[Mapping[str, Sequence[float]]]
) -> dict[str, int | str | None]:
    """Each alarm's first firing period over a scenario's ticks; "n/e" where not evaluated."""
    fired: dict[str, int | str | None] = {}
    for alarm in alarms:
        key = observed_as(alarm)
        if key is None:
            fired[short_name(alarm)] = "n/e"
        else:
            fired[short_name(alarm)] = alarm.fired([period.get(key, []) for period in observed])
    return fired


def table(rows: Mapping[str, Mapping[str, int | str | None]]) -> list[str]:
    """Scenario x alarm: the tick at which the alarm fired (1-based), '.' if it stayed quiet;
    the alarms evaluated in no scenario are listed after."""
    names = sorted({name for fired in rows.values() for name in fired})
    evaluated = [n for n in names if any(fired.get(n) != "n/e" for fired in rows.values())]
    width = max((len(scenario) for scenario in rows), default=8)
    lines = [" " * width + " | " + " | ".join(evaluated)]
    for scenario, fired in rows.items():
        cells = []
        for name in evaluated:
            at = fired.get(name)
            text = "." if at is None else str(at if isinstance(at, str) else at + 1)
            cells.append(text.center(len(name)))
        lines.append(scenario.ljust(width) + " | " + " | ".join(cells))
    others = [n for n in names if n not in evaluated]
    if others:
        lines.append(f"not evaluated here: {', '.join(others)}")
    return lines
