"""The JSON Schema (draft 4, as EventBridge's schema registry takes it) of the event Detail.

Built from the same constants `mgn_exporter/events.py` shapes events with;
`schema/mgn-job-log-event.schema.json` is this module's output, and the derived events'
schemas are infra/derived_schema.py's (`python -m infra.detail_schema --write` writes all
three), and a test fails when a file and its generator differ. The stack
publishes the file (infra/event_schema.py); the Lambda package does not carry this module.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from mgn_exporter.events import (
    DETAIL_TYPE,
    KNOWN_EVENTS,
    NAME_FIELDS,
    SCHEMA_VERSION,
    TRUNCATION_MARKER,
)

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schema"
NULLABLE_STRING = {"type": ["string", "null"]}
REPLAY = {
    "type": "boolean",
    "enum": [True],
    "description": "Present (true) only on an event sent again on request (a replay of one "
    "job, docs/replay.md): the same eventId as when it was first sent. Alert rules leave "
    "replays alone.",
}
# Present only sometimes: the names where MGN has them (inventory.py), cut values, durations.
SOMETIMES_FIELDS = frozenset({"truncated", "durationSeconds", "replay", *NAME_FIELDS})
# Always present now, but added within the schema version: events exported before lack them,
# so the schema (which also describes archived and replayed events) cannot require them.
ADDED_FIELDS = frozenset({"backfill"})


def detail_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {
        "schemaVersion": {
            "type": "string",
            "enum": [SCHEMA_VERSION],
            "description": "Version of this Detail's shape; fields are only ever added.",
        },
        "eventId": {
            "type": "string",
            "pattern": "^[0-9a-f]{32}$",
            "description": "Deterministic id from account, job, position and content; "
            "de-duplicate on it.",
        },
        "accountID": {"type": "string", "pattern": "^[0-9]{12}$"},
        "region": {"type": "string"},
        "jobID": {"type": "string"},
        "jobType": {**NULLABLE_STRING, "description": "LAUNCH or TERMINATE; null if unknown."},
        "initiatedBy": {
            **NULLABLE_STRING,
            "description": "START_TEST, START_CUTOVER, DIAGNOSTIC or TERMINATE; null if unknown.",
        },
        "sourceServer": _names(
            "The source server the item names, as MGN lists it (DescribeSourceServers): "
            "hostname and fqdn from its identification hints, name from its Name tag. Absent "
            "when the item names no server, when MGN does not list it, or when the list could "
            "not be read (the EventsNotEnriched metric counts those). Added in schemaVersion 1.",
            sourceServerID="^s-[0-9a-zA-Z]{17}$",
            hostname=None,
            fqdn=None,
            name=None,
        ),
        "application": _names(
            "The MGN application of the source server (ListApplications). Absent when the "
            "server belongs to none. Added in schemaVersion 1.",
            applicationID="^app-[0-9a-zA-Z]{17}$",
            name=None,
        ),
        "wave": _names(
            "The MGN wave of the server's application (ListWaves). Absent when the application "
            "is in no wave. Added in schemaVersion 1.",
            waveID="^wave-[0-9a-zA-Z]{17}$",
            name=None,
        ),
        "event": {
            **NULLABLE_STRING,
            "description": "MGN's event value, unchanged. Known values: "
            + ", ".join(sorted(KNOWN_EVENTS))
            + "; values MGN adds later pass through.",
        },
        "severity": {"type": "string", "enum": ["ERROR", "WARNING", "INFO"]},
        "backfill": {
            "type": "boolean",
            "description": "true for an item MGN logged before the exporter first exported its "
            "account (history read by the first run's backfill); false for live items. Alert "
            "rules match false so that a first deploy does not page for old failures. Added "
            "in schemaVersion 1 (events exported before it lack it).",
        },
        "logDateTime": {
            **NULLABLE_STRING,
            "description": "MGN's original timestamp string (ISO 8601, UTC), unchanged.",
        },
        "durationSeconds": {
            "type": "number",
            "minimum": 0,
            "description": "On a step's end or failure item (SNAPSHOT_END/FAIL, CONVERSION_END/"
            "FAIL, LAUNCH_FAILED, CLEANUP_END/FAIL, JOB_END): seconds since the same server's "
            "start of that step in the same job (JOB_START for JOB_END), from the items' own "
            "logDateTime. Absent where no start was read before it, or the end is logged "
            "before its start.",
        },
        "position": {
            "type": "integer",
            "minimum": 0,
            "description": "Index of the item in its job log, from 0.",
        },
        "eventData": {
            "type": "object",
            "description": "MGN's eventData object, keys unchanged; any key may be absent.",
            "properties": {
                "sourceServerID": {"type": "string"},
                "conversionServerID": {"type": "string"},
                "targetInstanceID": {"type": "string"},
                "rawError": {"type": "string"},
                "attemptCount": {"type": "integer"},
                "maxAttemptsCount": {"type": "integer"},
            },
        },
        "replay": REPLAY,
        "truncated": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Present only when values were cut to fit 256 KB: their paths. A cut "
            "value ends with '" + TRUNCATION_MARKER.format(removed="N") + "'.",
        },
    }
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": DETAIL_TYPE,
        "description": "Detail of the EventBridge event, and the JSON log line, for one MGN job "
        "log item.",
        "type": "object",
        "required": [name for name in properties if name not in SOMETIMES_FIELDS | ADDED_FIELDS],
        "properties": properties,
    }


def _names(description: str, **members: str | None) -> dict[str, Any]:
    """An object of string members; the first (the id) is always there, with its pattern."""
    properties = {
        name: {"type": "string", **({"pattern": pattern} if pattern else {})}
        for name, pattern in members.items()
    }
    return {
        "type": "object",
        "description": description,
        "required": [next(iter(members))],
        "properties": properties,
    }


def schema_text(schema: dict[str, Any] | None = None) -> str:
    return json.dumps(schema or detail_schema(), indent=2, ensure_ascii=False) + "\n"


def all_schemas() -> dict[Path, dict[str, Any]]:
    """Every published schema by its file: the job log item's and the derived events'."""
    from infra.derived_schema import job_outcome_schema, post_launch_action_schema

    return {
        SCHEMA_DIR / name: schema
        for name, schema in (
            ("mgn-job-log-event.schema.json", detail_schema()),
            ("mgn-job-outcome.schema.json", job_outcome_schema()),
            ("mgn-post-launch-action.schema.json", post_launch_action_schema()),
        )
    }


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        for path, schema in all_schemas().items():
            path.write_text(schema_text(schema), encoding="utf-8")
    else:
        sys.stdout.write(schema_text())
