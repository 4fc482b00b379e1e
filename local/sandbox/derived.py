"""The derived events (what DescribeJobs says besides the log), checked and shown.

The exporter sends, besides each job log item (DetailType ``MGN Job Log Event``), an
``MGN Post-Launch Action`` per (job, server, action execution, status reached) and an
``MGN Job Outcome`` per completed job once it is settled (mgn_exporter.derived_events). On the
bus they are told apart by the entry's DetailType, in the event log group by the line's
``detailType`` (item lines have none).

The check, against the programme's ground truth (``Programme.server_outcomes``,
``Programme.post_launch_actions``), in each sink:

* Outcomes: every job of an initialized account has exactly one (the run waits until every
  job is settled and closed before checking), none is unknown, and each matches MGN: its
  servers launched, failed and in all, its post-launch actions in all, failed and failed that
  must succeed for cutover, none still running, no wait for them run out, and ``backfill``
  true unless the job is the live wave's (it ended after its account's first export).
* Post-launch action statuses: at most one per (job, server, execution, status), none that
  MGN never showed, each with the action's name and mustSucceedForCutover, and every
  execution's final status (SUCCESS or FAILED) exactly once. ``IN_PROGRESS`` is counted, not
  required: the exporter sees it only when a tick falls while the action runs.
* eventIds: the two sinks agree on each event's, and no eventId comes twice in a sink.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from local.mgn_emulator.programme import PostLaunchOutcome, Programme
from local.sandbox.summary import INDENT, clip
from local.sandbox.words import noun, plural
from mgn_exporter.derived_events import JOB_OUTCOME, POST_LAUNCH_ACTION
from mgn_exporter.events import DETAIL_TYPE as ITEM

FINAL_STATUSES = ("SUCCESS", "FAILED")
IN_PROGRESS = "IN_PROGRESS"
# Jobs listed under the outcomes, at most (the JSON report has every one).
JOBS_SHOWN = 6
# Failed must-succeed actions listed, at most.
FAILURES_SHOWN = 3

Typed = tuple[str, dict[str, Any]]  # (DetailType, detail)
ActionKey = tuple[str, str, str, str, str]  # account, job, server, execution, status
JobKey = tuple[str, str]  # account, job


def bus_typed(events: Iterable[Mapping[str, Any]]) -> list[Typed]:
    """The bus's events (envelopes) as (DetailType, detail)."""
    return [(str(e.get("detail-type")), _dict(e.get("detail"))) for e in events]


def log_typed(details: Iterable[dict[str, Any]]) -> list[Typed]:
    """The event log group's lines as (DetailType, detail): derived lines name theirs."""
    return [(str(d.get("detailType") or ITEM), d) for d in details]


def items_of(typed: Iterable[Typed]) -> list[dict[str, Any]]:
    return [detail for kind, detail in typed if kind == ITEM]


def derived_of(typed: Iterable[Typed]) -> list[Typed]:
    return [(kind, detail) for kind, detail in typed if kind != ITEM]


def event_label(kind: str, detail: Mapping[str, Any]) -> str:
    """What an alert rule matched, for people: an item's event, a derived event's type."""
    return str(detail.get("event")) if kind == ITEM else kind


@dataclass(frozen=True)
class DerivedSink:
    name: str
    outcomes: int  # received
    outcomes_duplicated: int  # jobs with more than one
    outcomes_missing: int
    outcomes_unknown: int  # for no job of an initialized account
    outcomes_wrong: int  # not matching MGN
    statuses: int  # post-launch action statuses received
    statuses_duplicated: int  # (job, server, execution, status) received more than once
    finals_missing: int  # executions whose final status is not there
    statuses_unknown: int  # a status MGN never showed, or an execution it never ran
    statuses_wrong: int
    in_progress: int  # executions whose IN_PROGRESS was received (not required)
    other_types: int  # of a DetailType that is neither an item nor a derived event

    @property
    def exactly_once(self) -> bool:
        return not (
            self.outcomes_duplicated
            or self.outcomes_missing
            or self.outcomes_unknown
            or self.outcomes_wrong
            or self.statuses_duplicated
            or self.finals_missing
            or self.statuses_unknown
            or self.statuses_wrong
            or self.other_types
        )


@dataclass(frozen=True)
class DerivedCheck:
    jobs: int  # outcomes expected (each job of an initialized account)
    executions: int  # final statuses expected
    sinks: tuple[DerivedSink, ...]
    event_id_mismatches: int  # one event, two eventIds between the sinks
    repeated_event_ids: int  # an eventId more than once in a sink
    examples: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return (
            all(sink.exactly_once for sink in self.sinks)
            and not self.event_id_mismatches
            and not self.repeated_event_ids
        )


@dataclass(frozen=True)
class _Truth:
    jobs: dict[JobKey, dict[str, Any]]  # what each job's outcome must say
    executions: dict[tuple[str, str, str, str], PostLaunchOutcome]


def _truth(programme: Programme, live_jobs: Collection[str]) -> _Truth:
    exported = set(programme.exported_accounts)
    jobs: dict[JobKey, dict[str, Any]] = {}
    for job in programme.jobs:
        if job.account_id in exported:
            jobs[(job.account_id, job.job_id)] = {
                "initiatedBy": job.initiated_by,
                "serversTotal": 0,
                "serversLaunched": 0,
                "serversFailed": 0,
                "actions": Counter[str](),
                "backfill": job.job_id not in live_jobs,
            }
    for server in programme.server_outcomes():
        expected = jobs.get((server.account_id, server.job_id))
        if expected is not None:
            expected["serversTotal"] += 1
            expected["serversLaunched"] += server.launch_status == "LAUNCHED"
            expected["serversFailed"] += server.launch_status == "FAILED"
    executions: dict[tuple[str, str, str, str], PostLaunchOutcome] = {}
    for action in programme.post_launch_actions():
        expected = jobs.get((action.account_id, action.job_id))
        if expected is None:
            continue
        executions[
            (action.account_id, action.job_id, action.source_server_id, action.execution_id)
        ] = action
        counts = expected["actions"]
        counts["total"] += 1
        counts["failed"] += action.final_status == "FAILED"
        counts["mustSucceedFailed"] += action.final_status == "FAILED" and action.must_succeed
    return _Truth(jobs, executions)


def check_derived(
    programme: Programme,
    bus: Sequence[Typed],
    logs: Sequence[Typed],
    *,
    live_jobs: Collection[str] = (),
) -> DerivedCheck:
    """`bus` and `logs`: every event of each sink, typed (``bus_typed``, ``log_typed``);
    `live_jobs`: the jobs that ended after their account's first export (the live wave's)."""
    truth = _truth(programme, live_jobs)
    examples: list[str] = []
    results = []
    ids: list[dict[tuple[str, ...], str]] = []
    repeated = 0
    for name, typed in (("EventBridge", bus), ("log group", logs)):
        result, sink_ids, sink_repeated = _sink(name, truth, derived_of(typed), examples)
        results.append(result)
        ids.append(sink_ids)
        repeated += sink_repeated
    bus_ids, log_ids = ids
    mismatches = sum(1 for key in bus_ids.keys() & log_ids.keys() if bus_ids[key] != log_ids[key])
    return DerivedCheck(
        jobs=len(truth.jobs),
        executions=len(truth.executions),
        sinks=tuple(results),
        event_id_mismatches=mismatches,
        repeated_event_ids=repeated,
        examples=tuple(examples[:5]),
    )


def _sink(
    name: str, truth: _Truth, derived: list[Typed], examples: list[str]
) -> tuple[DerivedSink, dict[tuple[str, ...], str], int]:
    outcomes: Counter[JobKey] = Counter()
    statuses: Counter[ActionKey] = Counter()
    ids: dict[tuple[str, ...], str] = {}
    event_ids: Counter[str] = Counter()
    wrong_outcomes = wrong_statuses = others = 0
    for kind, detail in derived:
        event_ids[str(detail.get("eventId"))] += 1
        job: JobKey = (str(detail.get("accountID")), str(detail.get("jobID")))
        if kind == JOB_OUTCOME:
            outcomes[job] += 1
            ids.setdefault(job, str(detail.get("eventId")))
            expected = truth.jobs.get(job)
            problem = _outcome_problem(detail, expected) if expected else None
            if problem:
                wrong_outcomes += 1
                examples.append(f"{name}: the outcome of {job[1]} {problem}")
        elif kind == POST_LAUNCH_ACTION:
            action = _mapping(detail.get("postLaunchAction"))
            key: ActionKey = (
                *job,
                str(detail.get("sourceServerID")),
                str(action.get("executionID")),
                str(detail.get("status")),
            )
            statuses[key] += 1
            ids.setdefault(key, str(detail.get("eventId")))
            planned = truth.executions.get(key[:4])
            job_truth = truth.jobs.get(job)
            if planned is not None and job_truth is not None:
                problem = _action_problem(detail, action, planned, job_truth["backfill"])
                if problem:
                    wrong_statuses += 1
                    examples.append(f"{name}: {planned.action_name} on {key[2]} {problem}")
        else:
            others += 1
            examples.append(f"{name}: an event of DetailType {kind!r}")
    unknown_statuses = [
        key
        for key in statuses
        if (planned := truth.executions.get(key[:4])) is None
        or key[4] not in planned.statuses_reached
    ]
    finals_missing = [
        execution
        for execution, planned in truth.executions.items()
        if (*execution, planned.final_status) not in statuses
    ]
    missing = [job for job in truth.jobs if job not in outcomes]
    examples.extend(f"{name}: no outcome of {job[1]}" for job in missing[:2])
    examples.extend(
        f"{name}: {key[4]} of {key[3]} received {statuses[key]} times"
        for key in [key for key, count in statuses.items() if count > 1][:2]
    )
    examples.extend(
        f"{name}: no {truth.executions[execution].final_status} of "
        f"{truth.executions[execution].action_name} on {execution[2]} ({execution[1]})"
        for execution in finals_missing[:2]
    )
    return (
        DerivedSink(
            name=name,
            outcomes=sum(outcomes.values()),
            outcomes_duplicated=sum(1 for count in outcomes.values() if count > 1),
            outcomes_missing=len(missing),
            outcomes_unknown=sum(1 for job in outcomes if job not in truth.jobs),
            outcomes_wrong=wrong_outcomes,
            statuses=sum(statuses.values()),
            statuses_duplicated=sum(1 for count in statuses.values() if count > 1),
            finals_missing=len(finals_missing),
            statuses_unknown=len(unknown_statuses),
            statuses_wrong=wrong_statuses,
            in_progress=sum(1 for key in statuses if key[4] == IN_PROGRESS),
            other_types=others,
        ),
        ids,
        sum(1 for count in event_ids.values() if count > 1),
    )


def _outcome_problem(detail: Mapping[str, Any], expected: Mapping[str, Any]) -> str | None:
    """How an outcome differs from MGN's (None: it does not)."""
    actions = _mapping(detail.get("postLaunchActions"))
    said = {
        "initiatedBy": detail.get("initiatedBy"),
        "serversTotal": detail.get("serversTotal"),
        "serversLaunched": detail.get("serversLaunched"),
        "serversFailed": detail.get("serversFailed"),
        "backfill": detail.get("backfill"),
        "actions": Counter(
            {
                name: actions.get(name)
                for name in ("total", "failed", "mustSucceedFailed")
                if actions.get(name)
            }
        ),
    }
    differing = [name for name, value in said.items() if value != expected[name]]
    if actions.get("stillRunning"):
        differing.append("stillRunning")
    if detail.get("postLaunchWaitExpired"):
        differing.append("postLaunchWaitExpired")
    if detail.get("status") != "COMPLETED":
        differing.append("status")
    return f"differs from MGN in {', '.join(differing)}" if differing else None


def _action_problem(
    detail: Mapping[str, Any],
    action: Mapping[str, Any],
    planned: PostLaunchOutcome,
    backfill: bool,
) -> str | None:
    differing = [
        name
        for name, said, expected in (
            ("actionName", action.get("actionName"), planned.action_name),
            ("mustSucceedForCutover", action.get("mustSucceedForCutover"), planned.must_succeed),
            ("backfill", detail.get("backfill"), backfill),
        )
        if said != expected
    ]
    if detail.get("status") == "FAILED" and not action.get("failureReason"):
        differing.append("failureReason")
    return f"differs from MGN in {', '.join(differing)}" if differing else None


def check_lines(check: DerivedCheck) -> list[str]:
    verdict = "PASS" if check.passed else "FAIL"
    lines = [
        f"Derived events exactly once: {verdict}: {plural(check.jobs, 'job outcome')} (every "
        f"job settled and closed) and the final status of "
        f"{plural(check.executions, 'post-launch action')}, each once in EventBridge and once "
        "in the event log group, as MGN has them"
    ]
    for sink in check.sinks:
        lines.append(
            f"{INDENT}{sink.name}: {sink.outcomes:,} {noun(sink.outcomes, 'outcome')} "
            f"({sink.outcomes_duplicated} duplicated, {sink.outcomes_missing} missing, "
            f"{sink.outcomes_unknown} unknown, {sink.outcomes_wrong} not matching MGN), "
            f"{sink.statuses:,} action {noun(sink.statuses, 'status')} "
            f"({sink.statuses_duplicated} duplicated, {sink.finals_missing} final missing, "
            f"{sink.statuses_unknown} unknown, {sink.statuses_wrong} not matching MGN; "
            f"IN_PROGRESS of {sink.in_progress})"
            + (f", {sink.other_types} of another DetailType" if sink.other_types else "")
        )
    lines.append(
        f"{INDENT}eventId: {check.event_id_mismatches} differing between the sinks, "
        f"{check.repeated_event_ids} repeated in a sink; IN_PROGRESS is not required: the "
        "exporter sees it only when a tick falls while the action runs"
    )
    lines.extend(f"{INDENT}e.g. {example}" for example in check.examples)
    return lines


@dataclass(frozen=True)
class OutcomeRow:
    """One job's outcome as it reached the bus."""

    job_id: str
    account_id: str
    initiated_by: str
    servers: int
    launched: int
    failed: int
    actions: int
    actions_failed: int
    must_succeed_failed: int
    live: bool

    @classmethod
    def of(cls, detail: Mapping[str, Any]) -> OutcomeRow:
        actions = _mapping(detail.get("postLaunchActions"))
        return cls(
            job_id=str(detail.get("jobID")),
            account_id=str(detail.get("accountID")),
            initiated_by=str(detail.get("initiatedBy")),
            servers=_int(detail.get("serversTotal")),
            launched=_int(detail.get("serversLaunched")),
            failed=_int(detail.get("serversFailed")),
            actions=_int(actions.get("total")),
            actions_failed=_int(actions.get("failed")),
            must_succeed_failed=_int(actions.get("mustSucceedFailed")),
            live=detail.get("backfill") is False,
        )

    @property
    def with_failures(self) -> bool:
        return bool(self.failed or self.actions_failed)

    def as_report(self) -> dict[str, Any]:
        return {
            "jobID": self.job_id,
            "accountID": self.account_id,
            "initiatedBy": self.initiated_by,
            "servers": self.servers,
            "launched": self.launched,
            "failed": self.failed,
            "actions": self.actions,
            "actionsFailed": self.actions_failed,
            "mustSucceedFailed": self.must_succeed_failed,
            "live": self.live,
        }


@dataclass(frozen=True)
class DerivedSummary:
    """What the derived events on the bus say: the outcomes, and the action statuses."""

    outcomes: tuple[OutcomeRow, ...]
    finals: Counter[str]  # executions by final status received
    in_progress: int  # IN_PROGRESS statuses received
    statuses: int
    must_failed: tuple[Mapping[str, Any], ...]  # FAILED statuses that must succeed for cutover

    @classmethod
    def of(cls, derived: Iterable[Typed]) -> DerivedSummary:
        outcomes: list[OutcomeRow] = []
        finals: Counter[str] = Counter()
        in_progress = statuses = 0
        must_failed: list[Mapping[str, Any]] = []
        for kind, detail in derived:
            if kind == JOB_OUTCOME:
                outcomes.append(OutcomeRow.of(detail))
            elif kind == POST_LAUNCH_ACTION:
                statuses += 1
                status = str(detail.get("status"))
                if status == IN_PROGRESS:
                    in_progress += 1
                else:
                    finals[status] += 1
                action = _mapping(detail.get("postLaunchAction"))
                if status == "FAILED" and action.get("mustSucceedForCutover") is True:
                    must_failed.append(detail)
        return cls(tuple(outcomes), finals, in_progress, statuses, tuple(must_failed))

    def as_report(self) -> dict[str, Any]:
        return {
            "outcomes": [row.as_report() for row in self.outcomes],
            "actionStatuses": self.statuses,
            "finalStatuses": dict(self.finals),
            "inProgress": self.in_progress,
            "mustSucceedFailed": len(self.must_failed),
        }


OUTCOME_COLUMNS = (
    ("job", 24),
    ("account", 12),
    ("type", 13),
    ("servers", 7),
    ("launched", 8),
    ("failed", 6),
    ("actions", 7),
    ("failed", 6),
    ("must succeed", 12),
    ("live", 4),
)


def summary_lines(summary: DerivedSummary) -> list[str]:
    """The outcomes by job type, the jobs with a failure (the live ones first), the action
    statuses by final status, and the failed actions that must succeed for cutover."""
    rows = summary.outcomes
    by_type: dict[str, list[OutcomeRow]] = {}
    for row in rows:
        by_type.setdefault(row.initiated_by, []).append(row)
    kinds = "; ".join(
        f"{kind} {len(group)}: {plural(sum(r.launched for r in group), 'server')} launched, "
        f"{sum(r.failed for r in group)} failed, "
        f"{plural(sum(r.actions_failed for r in group), 'post-launch action')} failed"
        for kind, group in sorted(by_type.items())
    )
    lines = [
        f"MGN Job Outcome: {plural(len(rows), 'job')}, once each when settled"
        + (f"; {kinds}" if kinds else "")
    ]
    failing = sorted((row for row in rows if row.with_failures), key=lambda row: not row.live)
    if failing:
        lines.append(
            f"{INDENT}jobs with a failed server or post-launch action"
            f" ({min(JOBS_SHOWN, len(failing))} of {len(failing)}, the live ones first; "
            "every job in --json-report):"
        )
        lines.append(INDENT + _cells([name for name, _ in OUTCOME_COLUMNS]))
        for row in failing[:JOBS_SHOWN]:
            cells = [
                row.job_id,
                row.account_id,
                row.initiated_by,
                str(row.servers),
                str(row.launched),
                str(row.failed),
                str(row.actions),
                str(row.actions_failed),
                str(row.must_succeed_failed),
                "yes" if row.live else "no",
            ]
            lines.append(INDENT + _cells(cells))
    finals = ", ".join(f"{status} {summary.finals[status]}" for status in FINAL_STATUSES)
    lines.append(
        f"MGN Post-Launch Action: {plural(summary.statuses, 'status')}: final "
        f"{finals} ({len(summary.must_failed)} failed that must succeed for cutover), "
        f"IN_PROGRESS {summary.in_progress} (when a tick fell while the action ran)"
    )
    for detail in summary.must_failed[:FAILURES_SHOWN]:
        action = _mapping(detail.get("postLaunchAction"))
        server = _mapping(detail.get("sourceServer")).get("hostname") or detail.get(
            "sourceServerID"
        )
        lines.append(
            clip(
                f"{INDENT}failed, must succeed: {action.get('actionName')} on {server} "
                f"({detail.get('initiatedBy')} {detail.get('jobID')}"
                f"{', live' if detail.get('backfill') is False else ''}): "
                f"{action.get('failureReason')}"
            )
        )
    if len(summary.must_failed) > FAILURES_SHOWN:
        lines.append(f"{INDENT}... and {len(summary.must_failed) - FAILURES_SHOWN} more")
    return lines


def _cells(cells: Sequence[str]) -> str:
    return "  ".join(
        f"{cell:>{width}}" if index >= 3 else f"{cell:<{width}}"
        for index, (cell, (_, width)) in enumerate(zip(cells, OUTCOME_COLUMNS, strict=True))
    )


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
