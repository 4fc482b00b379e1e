"""The worker's checkpoint items, read back from the deployed table (a scan), as the sandbox
shows them: open jobs, when an account was first exported, and MGN found not initialized."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local.moto_deploy import local_session
from local.sandbox.stack import DeployedStack

CHECKPOINT_KEY_PREFIX = "ACCOUNT#"


@dataclass(frozen=True)
class Checkpoint:
    account_id: str
    open_jobs: int
    # The worker's real clock: its first export of the account (items MGN logged before it
    # are backfill), and MGN found not initialized there (since; not asked again before).
    first_export_at: datetime | None = None
    uninitialized_since: datetime | None = None
    recheck_at: datetime | None = None


def read_checkpoints(stack: DeployedStack) -> dict[str, Checkpoint]:
    """account -> its checkpoint item."""
    dynamodb = local_session(stack.region).client("dynamodb", endpoint_url=stack.endpoint_url)
    checkpoints: dict[str, Checkpoint] = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=stack.table_name):
        for item in page.get("Items", []):
            checkpoint = checkpoint_from_item(item)
            if checkpoint is not None:
                checkpoints[checkpoint.account_id] = checkpoint
    return checkpoints


def checkpoint_from_item(item: dict[str, Any]) -> Checkpoint | None:
    """A checkpoint item in DynamoDB's attribute-value form (None: not a checkpoint item)."""
    key = str(item.get("pk", {}).get("S", ""))
    if not key.startswith(CHECKPOINT_KEY_PREFIX):
        return None
    return Checkpoint(
        account_id=key.removeprefix(CHECKPOINT_KEY_PREFIX),
        open_jobs=len(item.get("jobs", {}).get("M", {})),
        first_export_at=_time(item, "firstExportAt"),
        uninitialized_since=_time(item, "uninitializedSince"),
        recheck_at=_time(item, "recheckAt"),
    )


def _time(item: dict[str, Any], attribute: str) -> datetime | None:
    value = item.get(attribute, {}).get("N")
    return None if value is None else datetime.fromtimestamp(float(value), UTC)
