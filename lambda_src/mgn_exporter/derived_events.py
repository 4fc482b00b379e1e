"""Pure shaping of the derived events: what MGN states outside the job log, as events with the
job log items' guarantees (their own DetailType; their log line carries `detailType`).

* `MGN Post-Launch Action`: once per (job, server, action execution, status reached), from
  DescribeJobs' participatingServers (post_launch.py). MGN gives no time for a status, so the
  event's Time is when the exporter first saw it (`observedDateTime`).
* `MGN Job Outcome`: once per job, when a completed job is settled: each server's launch
  status and instance, the step that failed and its rawError, its step durations (job_steps.py),
  its post-launch actions' last statuses; counts of servers launched and failed. Its Time is
  MGN's endDateTime.

eventIds are deterministic: an action's from the account, job, server, execution and status;
an outcome's from the account and job.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mgn_exporter.events import (
    SCHEMA_VERSION,
    ExportEvent,
    JobInfo,
    canonical_detail_json,
    detail_budget,
    job_arn_resource,
    parse_log_datetime,
    source_server_arn,
    truncate_detail,
)
from mgn_exporter.job_steps import StepFold
from mgn_exporter.post_launch import ActionRun, ServerLaunch

POST_LAUNCH_ACTION = "MGN Post-Launch Action"
JOB_OUTCOME = "MGN Job Outcome"
DERIVED_DETAIL_TYPES = (JOB_OUTCOME, POST_LAUNCH_ACTION)
# Derived events have no place in a job log.
NO_POSITION = -1


@dataclass(frozen=True)
class DerivedContext:
    """What every derived event of one job carries."""

    account_id: str
    region: str
    source: str
    job: JobInfo
    # When the account's export began: a job that ended before it is history (backfill).
    live_since: datetime | None
    # The server's sourceServer/application/wave (inventory.py), None when not known.
    names: Callable[[str], Mapping[str, Any] | None]
    # Sent again on request (replay.py): `"replay": true`.
    replay: bool = False


def derived_id(account_id: str, job_id: str, detail_type: str, *parts: str) -> str:
    material = "\x1f".join((account_id, job_id, detail_type, *parts))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


def post_launch_action_id(account_id: str, job_id: str, run: ActionRun) -> str:
    return derived_id(
        account_id, job_id, POST_LAUNCH_ACTION, run.server_id, run.execution_id, run.status
    )


def job_outcome_id(account_id: str, job_id: str) -> str:
    return derived_id(account_id, job_id, JOB_OUTCOME)


def post_launch_action_event(
    run: ActionRun,
    launch: ServerLaunch,
    context: DerivedContext,
    *,
    observed: datetime,
    job_ended: datetime | None,
) -> ExportEvent:
    job = context.job
    action = _present(
        {
            "actionName": run.action_name,
            "ssmDocumentName": run.document_name,
            "ssmDocumentType": run.document_type,
            "executionID": run.execution_id,
            "mustSucceedForCutover": run.must_succeed,
            "timeoutSeconds": run.timeout_seconds,
            "failureReason": run.failure_reason,
        }
    )
    detail: dict[str, Any] = {
        "schemaVersion": SCHEMA_VERSION,
        "eventId": post_launch_action_id(context.account_id, job.job_id, run),
        "detailType": POST_LAUNCH_ACTION,
        **_job_fields(context),
        "sourceServerID": run.server_id,
        **(context.names(run.server_id) or {}),
        "severity": "ERROR" if run.status == "FAILED" else "INFO",
        "backfill": _backfill(context, job_ended),
        "status": run.status,
        "postLaunchAction": action,
        **_present({"launchedEc2InstanceID": launch.instance_id}),
        "observedDateTime": _iso(observed),
    }
    return _event(detail, context, POST_LAUNCH_ACTION, observed, run.server_id)


def job_outcome_event(
    job_record: Mapping[str, Any],
    launches: list[ServerLaunch],
    steps: StepFold,
    context: DerivedContext,
    *,
    ended: datetime,
    waited_out: bool,
) -> ExportEvent:
    job = context.job
    servers = [_server_outcome(launch, steps, context) for launch in launches]
    runs = [run for launch in launches for run in launch.actions]
    launched = sum(1 for launch in launches if launch.launch_status == "LAUNCHED")
    failed = sum(1 for launch in launches if launch.launch_status == "FAILED")
    actions_failed = [run for run in runs if run.status == "FAILED"]
    must_failed = [run for run in actions_failed if run.must_succeed]
    created = job_record.get("creationDateTime")
    started = parse_log_datetime(created)
    detail: dict[str, Any] = {
        "schemaVersion": SCHEMA_VERSION,
        "eventId": job_outcome_id(context.account_id, job.job_id),
        "detailType": JOB_OUTCOME,
        **_job_fields(context),
        "severity": "ERROR"
        if failed or must_failed
        else ("WARNING" if actions_failed or waited_out else "INFO"),
        "backfill": _backfill(context, ended),
        "status": job_record.get("status"),
        "creationDateTime": created if isinstance(created, str) else None,
        "endDateTime": _iso(ended),
        **_present(
            {
                "durationSeconds": round((ended - started).total_seconds(), 3)
                if started is not None and ended >= started
                else None
            }
        ),
        "serversTotal": len(launches),
        "serversLaunched": launched,
        "serversFailed": failed,
        "postLaunchActions": {
            "total": len(runs),
            "succeeded": sum(1 for run in runs if run.status == "SUCCESS"),
            "failed": len(actions_failed),
            "mustSucceedFailed": len(must_failed),
            "stillRunning": sum(1 for run in runs if not run.ended),
        },
        # True when the job was closed with post-launch actions still running: the wait for
        # them ran out (postLaunchWaitMinutes).
        "postLaunchWaitExpired": waited_out,
        "participatingServers": servers,
    }
    return _event(detail, context, JOB_OUTCOME, ended, None)


def _server_outcome(
    launch: ServerLaunch, steps: StepFold, context: DerivedContext
) -> dict[str, Any]:
    summary = steps.servers.get(launch.server_id, {})
    durations = summary.get("durationsMs") or {}
    return {
        "sourceServerID": launch.server_id,
        **(context.names(launch.server_id) or {}),
        **_present(
            {
                "launchStatus": launch.launch_status,
                "launchedEc2InstanceID": launch.instance_id,
                "failure": summary.get("failure"),
            }
        ),
        "stepDurations": {step: ms / 1000 for step, ms in sorted(durations.items())},
        "postLaunchActions": [
            _present(
                {
                    "actionName": run.action_name,
                    "executionID": run.execution_id,
                    "status": run.status,
                    "mustSucceedForCutover": run.must_succeed,
                    "failureReason": run.failure_reason,
                }
            )
            for run in launch.actions
        ],
    }


def _job_fields(context: DerivedContext) -> dict[str, Any]:
    job = context.job
    return {
        "accountID": context.account_id,
        "region": context.region,
        "jobID": job.job_id,
        "jobType": job.job_type,
        "initiatedBy": job.initiated_by,
    }


def _event(
    detail: dict[str, Any],
    context: DerivedContext,
    detail_type: str,
    time: datetime,
    server_id: str | None,
) -> ExportEvent:
    if context.replay:
        detail["replay"] = True
    job = context.job
    partition = job.arn.split(":")[1] if job.arn and job.arn.count(":") >= 2 else "aws"
    resources = tuple(
        resource
        for resource in (
            job_arn_resource(job),
            source_server_arn(partition, context.region, context.account_id, server_id),
        )
        if resource
    )
    budget = detail_budget(context.source, resources, detail_type)
    detail_json = canonical_detail_json(detail)
    problems: tuple[str, ...] = ()
    if len(detail_json.encode("utf-8")) > budget:
        detail, detail_json = truncate_detail(detail, budget)
        problems = (f"truncated {', '.join(detail['truncated'])}",)
    return ExportEvent(
        event_id=detail["eventId"],
        position=NO_POSITION,
        detail=detail,
        detail_json=detail_json,
        time=time,
        resources=resources,
        problems=problems,
        detail_type=detail_type,
    )


def _backfill(context: DerivedContext, ended: datetime | None) -> bool:
    return bool(context.live_since and ended and ended < context.live_since)


def _present(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
