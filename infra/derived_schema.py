"""The JSON Schemas (draft 4) of the derived events' Detail: MGN Job Outcome and MGN
Post-Launch Action (lambda_src/mgn_exporter/derived_events.py).

`schema/mgn-job-outcome.schema.json` and `schema/mgn-post-launch-action.schema.json` are this
module's output (`python -m infra.detail_schema --write`), and a test fails when they differ.
The names (sourceServer, application, wave) are the job log event's, from detail_schema.py.
"""

from __future__ import annotations

from typing import Any

from infra.detail_schema import NULLABLE_STRING, REPLAY, detail_schema
from mgn_exporter.derived_events import JOB_OUTCOME, POST_LAUNCH_ACTION
from mgn_exporter.events import SCHEMA_VERSION

SEVERITIES = ["ERROR", "WARNING", "INFO"]
INTEGER = {"type": "integer", "minimum": 0}


def _common(detail_type: str, event_id: str) -> dict[str, Any]:
    item = detail_schema()["properties"]
    return {
        "schemaVersion": {"type": "string", "enum": [SCHEMA_VERSION]},
        "eventId": {"type": "string", "pattern": "^[0-9a-f]{32}$", "description": event_id},
        "detailType": {
            "type": "string",
            "enum": [detail_type],
            "description": "The EventBridge DetailType, also in the log line: a line without "
            "it is a job log item.",
        },
        **{key: item[key] for key in ("accountID", "region", "jobID", "jobType", "initiatedBy")},
        "backfill": {
            "type": "boolean",
            "description": "true when the job ended before the exporter first exported its "
            "account (history); alert rules match false.",
        },
    }


def _names() -> dict[str, Any]:
    item = detail_schema()["properties"]
    return {key: item[key] for key in ("sourceServer", "application", "wave")}


def post_launch_action_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {
        **_common(
            POST_LAUNCH_ACTION,
            "Deterministic from account, job, server, execution and status: one event per "
            "status an execution reaches.",
        ),
        "sourceServerID": {"type": "string"},
        **_names(),
        "severity": {
            "type": "string",
            "enum": SEVERITIES,
            "description": "ERROR when the action FAILED, INFO otherwise.",
        },
        "status": {
            "type": "string",
            "description": "MGN's executionStatus: IN_PROGRESS, SUCCESS or FAILED (values MGN "
            "adds later pass through).",
        },
        "postLaunchAction": {
            "type": "object",
            "description": "The action as DescribeJobs shows it; members MGN leaves out are "
            "absent. The document's parameters are not copied.",
            "required": ["executionID"],
            "properties": {
                "actionName": {"type": "string"},
                "ssmDocumentName": {"type": "string"},
                "ssmDocumentType": {"type": "string", "description": "AUTOMATION or COMMAND."},
                "executionID": {"type": "string"},
                "mustSucceedForCutover": {"type": "boolean"},
                "timeoutSeconds": {"type": "integer"},
                "failureReason": {"type": "string"},
            },
        },
        "launchedEc2InstanceID": {"type": "string"},
        "observedDateTime": {
            "type": "string",
            "description": "When the exporter first saw this status (MGN gives no time for "
            "it): the event's Time.",
        },
    }
    return _schema(
        POST_LAUNCH_ACTION,
        "A post-launch action (an SSM document MGN runs on a launched server) that reached a "
        "status, from DescribeJobs' participatingServers.",
        properties,
        sometimes={"sourceServer", "application", "wave", "launchedEc2InstanceID"},
    )


def job_outcome_schema() -> dict[str, Any]:
    action = {
        "type": "object",
        "properties": {
            "actionName": {"type": "string"},
            "executionID": {"type": "string"},
            "status": {"type": "string"},
            "mustSucceedForCutover": {"type": "boolean"},
            "failureReason": {"type": "string"},
        },
    }
    server = {
        "type": "object",
        "required": ["sourceServerID", "stepDurations", "postLaunchActions"],
        "properties": {
            "sourceServerID": {"type": "string"},
            **_names(),
            "launchStatus": {
                "type": "string",
                "description": "PENDING, IN_PROGRESS, LAUNCHED, FAILED or TERMINATED.",
            },
            "launchedEc2InstanceID": {"type": "string"},
            "failure": {
                "type": "object",
                "description": "The last step failure the job log shows for the server (a "
                "step retried that then ended well is not one); rawError clipped to 500 "
                "characters (the full text is in the item's own event).",
                "properties": {
                    "step": {"type": "string"},
                    "event": {"type": "string"},
                    "rawError": {"type": "string"},
                    "rawErrorTruncated": {"type": "boolean"},
                },
            },
            "stepDurations": {
                "type": "object",
                "description": "Seconds of each step's last run (SNAPSHOT, CONVERSION, "
                "LAUNCH when it failed, CLEANUP), from the job log items' own times.",
                "additionalProperties": {"type": "number"},
            },
            "postLaunchActions": {"type": "array", "items": action},
        },
    }
    counts = {
        "type": "object",
        "properties": dict.fromkeys(
            ("total", "succeeded", "failed", "mustSucceedFailed", "stillRunning"), INTEGER
        ),
    }
    properties: dict[str, Any] = {
        **_common(JOB_OUTCOME, "Deterministic from account and job: one outcome per job."),
        "severity": {
            "type": "string",
            "enum": SEVERITIES,
            "description": "ERROR when a server failed to launch or a post-launch action that "
            "must succeed for cutover failed; WARNING when another action failed or the wait "
            "for running actions ran out; INFO otherwise.",
        },
        "status": {**NULLABLE_STRING, "description": "MGN's job status: COMPLETED."},
        "creationDateTime": NULLABLE_STRING,
        "endDateTime": {
            "type": "string",
            "description": "MGN's endDateTime (or, without one, when the job was first seen "
            "COMPLETED): the event's Time.",
        },
        "durationSeconds": {"type": "number", "minimum": 0},
        "serversTotal": INTEGER,
        "serversLaunched": INTEGER,
        "serversFailed": INTEGER,
        "postLaunchActions": counts,
        "postLaunchWaitExpired": {
            "type": "boolean",
            "description": "true when actions were still running when the wait for them "
            "(postLaunchWaitMinutes) ran out.",
        },
        "participatingServers": {"type": "array", "items": server},
    }
    return _schema(
        JOB_OUTCOME,
        "A completed job's outcome, once it is settled: each server's launch, failure, step "
        "durations and post-launch actions.",
        properties,
        sometimes={"durationSeconds"},
    )


def _schema(
    title: str, description: str, properties: dict[str, Any], *, sometimes: set[str]
) -> dict[str, Any]:
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": title,
        "description": description,
        "type": "object",
        "required": [name for name in properties if name not in sometimes],
        "properties": {
            **properties,
            "replay": REPLAY,
            "truncated": detail_schema()["properties"]["truncated"],
        },
    }
