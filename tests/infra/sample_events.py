"""Real events, built by the exporter's own code, for the template and query tests."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from infra import constants as c
from mgn_exporter.events import ExportEvent, JobInfo, build_event

ACCOUNT = "123456789012"
REGION = "us-east-1"
SOURCE = str(c.CONTEXT_DEFAULTS[c.CTX_EVENT_SOURCE])
SERVER = "s-1234567890abcdef0"
JOB_ID = "mgnjob-0123456789abcdefg"
# What the worker adds from the account's inventory (enrichment on, the default).
NAMES: dict[str, Any] = {
    "sourceServer": {
        "sourceServerID": SERVER,
        "hostname": "fin-db-01",
        "fqdn": "fin-db-01.corp.example.com",
        "name": "fin-db-01",
    },
    "application": {"applicationID": "app-1234567890abcdef0", "name": "Payroll"},
    "wave": {"waveID": "wave-1234567890abcdef0", "name": "Wave 1 - Finance"},
}


def export_event(
    event: str,
    *,
    initiated_by: str = "START_TEST",
    position: int = 0,
    log_date_time: str = "2026-11-25T10:00:00.123Z",
    event_data: dict[str, Any] | None = None,
    job_id: str = JOB_ID,
    source: str = SOURCE,
    live_since: datetime | None = None,
    names: dict[str, Any] | None = NAMES,
    duration_seconds: float | None = None,
) -> ExportEvent:
    """An item as the worker exports it; ``live_since`` (when the account's export began) makes
    an item logged before it a backfilled one (``backfill: true``); ``names`` (None: none)
    are the server's, application's and wave's when the item names a server."""
    job = JobInfo(
        job_id=job_id,
        arn=f"arn:aws:mgn:{REGION}:{ACCOUNT}:job/{job_id}",
        job_type="TERMINATE" if initiated_by == "TERMINATE" else "LAUNCH",
        initiated_by=initiated_by,
    )
    item = {
        "event": event,
        "logDateTime": log_date_time,
        "eventData": {"sourceServerID": SERVER} if event_data is None else event_data,
    }
    return build_event(
        item,
        account_id=ACCOUNT,
        region=REGION,
        job=job,
        position=position,
        source=source,
        live_since=live_since,
        names=names if "sourceServerID" in item["eventData"] else None,
        duration_seconds=duration_seconds,
    )


def envelope(export: ExportEvent, source: str = SOURCE) -> dict[str, Any]:
    """The event as EventBridge delivers it to rules (what PutEvents makes of the entry)."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": c.DETAIL_TYPE,
        "source": source,
        "account": ACCOUNT,
        "time": export.detail["logDateTime"],
        "region": REGION,
        "resources": list(export.resources),
        "detail": export.detail,
    }


def log_line(export: ExportEvent) -> dict[str, Any]:
    """The line as it sits in the event log group: the Detail JSON, byte for byte."""
    parsed: dict[str, Any] = json.loads(export.detail_json)
    return parsed
