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
