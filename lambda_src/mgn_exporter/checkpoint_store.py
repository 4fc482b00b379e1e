"""DynamoDB adapter for the per-account checkpoint item and its lease."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from mgn_exporter.checkpoint import AccountState, JobCheckpoint
from mgn_exporter.errors import LeaseHeld, LeaseLost, StateUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PARTITION_KEY = "pk"
# Table TTL attribute: the state of an account nobody exports any more goes away by itself.
TTL_ATTRIBUTE = "expiresAt"
STATE_TTL_SECONDS = 90 * 24 * 3600

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def account_key(account_id: str) -> str:
    return f"ACCOUNT#{account_id}"


class CheckpointStore:
    """Reads and writes AccountState; every write is conditional on holding the account's lease."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        owner: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._table = table_name
        self._owner = owner
        self._clock = clock

    def acquire(self, account_id: str, *, lease_until: float) -> AccountState:
        """Take the account's lease until `lease_until` (epoch seconds) and read its state.

        Raises LeaseHeld while another invocation holds an unexpired lease.
        """
        client = self._client
        try:
            response = client.update_item(
                TableName=self._table,
                Key={PARTITION_KEY: {"S": account_key(account_id)}},
                UpdateExpression="SET leaseOwner = :me, leaseExpiresAt = :until",
                ConditionExpression=(
                    "attribute_not_exists(leaseOwner) OR leaseOwner = :me OR leaseExpiresAt < :now"
                ),
                ExpressionAttributeValues={
                    ":me": {"S": self._owner},
                    ":until": {"N": _epoch(lease_until)},
                    ":now": {"N": _epoch(self._clock())},
                },
                ReturnValues="ALL_NEW",
            )
        except client.exceptions.ConditionalCheckFailedException as exc:
            raise LeaseHeld(account_id) from exc
        except (ClientError, BotoCoreError) as exc:
            raise StateUnavailable(f"{account_id}: {exc!r}") from exc
        return _state_from_item(account_id, response.get("Attributes", {}))

    def peek(self, account_id: str) -> AccountState:
        """The account's state as last saved, without taking its lease (a replay reads when
        the account's export began, and writes nothing)."""
        try:
            response = self._client.get_item(
                TableName=self._table,
                Key={PARTITION_KEY: {"S": account_key(account_id)}},
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as exc:
            raise StateUnavailable(f"{account_id}: {exc!r}") from exc
        return _state_from_item(account_id, response.get("Item", {}))

    def save(self, state: AccountState) -> None:
        """Write the whole state; raises LeaseLost if the lease is no longer ours."""
        self._write(state, release=False)

    def release(self, state: AccountState) -> None:
        """Write the whole state and give the lease back."""
        self._write(state, release=True)

    def release_unchanged(self, account_id: str) -> None:
        """Give the lease back without writing state (after a failure)."""
        client = self._client
        try:
            client.update_item(
                TableName=self._table,
                Key={PARTITION_KEY: {"S": account_key(account_id)}},
                UpdateExpression="REMOVE leaseOwner, leaseExpiresAt",
                ConditionExpression="leaseOwner = :me",
                ExpressionAttributeValues={":me": {"S": self._owner}},
            )
        except client.exceptions.ConditionalCheckFailedException as exc:
            raise LeaseLost(account_id) from exc
        except (ClientError, BotoCoreError) as exc:
            raise StateUnavailable(f"{account_id}: {exc!r}") from exc

    def _write(self, state: AccountState, *, release: bool) -> None:
        client = self._client
        now = self._clock()
        values: dict[str, Any] = {
            ":me": {"S": self._owner},
            ":jobs": _serializer.serialize(
                {job_id: job.to_item() for job_id, job in state.jobs.items()}
            ),
            ":closed": _serializer.serialize(dict(state.closed)),
            ":ttl": {"N": _epoch(now + STATE_TTL_SECONDS)},
            ":updated": {"N": _epoch(now)},
        }
        update = "SET jobs = :jobs, closedJobs = :closed, expiresAt = :ttl, updatedAt = :updated"
        if state.watermark is not None:
            update += ", watermark = :watermark"
            values[":watermark"] = {"S": state.watermark}
        removed = []
        for attribute, value in (
            ("coveredUntil", state.covered_until),
            ("firstExportAt", state.first_export_at),
            ("lastSuccessAt", state.last_success_at),
            ("uninitializedSince", state.uninitialized_since),
            ("recheckAt", state.recheck_at),
        ):
            if value is None:
                removed.append(attribute)
            else:
                update += f", {attribute} = :{attribute}"
                values[f":{attribute}"] = {"N": f"{value:.3f}"}
        if release:
            removed += ["leaseOwner", "leaseExpiresAt"]
        if removed:
            update += " REMOVE " + ", ".join(removed)
        try:
            client.update_item(
                TableName=self._table,
                Key={PARTITION_KEY: {"S": account_key(state.account_id)}},
                UpdateExpression=update,
                ConditionExpression="leaseOwner = :me",
                ExpressionAttributeValues=values,
            )
        except client.exceptions.ConditionalCheckFailedException as exc:
            raise LeaseLost(state.account_id) from exc
        except (ClientError, BotoCoreError) as exc:
            raise StateUnavailable(f"{state.account_id}: {exc!r}") from exc


def _state_from_item(account_id: str, item: dict[str, Any]) -> AccountState:
    plain = {key: _deserializer.deserialize(value) for key, value in item.items()}
    jobs = {
        str(job_id): JobCheckpoint.from_item(job)
        for job_id, job in (plain.get("jobs") or {}).items()
    }
    closed = {
        str(job_id): str(created) for job_id, created in (plain.get("closedJobs") or {}).items()
    }
    watermark = plain.get("watermark")
    return AccountState(
        account_id=account_id,
        watermark=str(watermark) if watermark else None,
        jobs=jobs,
        closed=closed,
        covered_until=_float(plain.get("coveredUntil")),
        first_export_at=_float(plain.get("firstExportAt")),
        last_success_at=_float(plain.get("lastSuccessAt")),
        uninitialized_since=_float(plain.get("uninitializedSince")),
        recheck_at=_float(plain.get("recheckAt")),
    )


def _float(value: Any) -> float | None:
    return float(value) if value is not None else None


def _epoch(seconds: float) -> str:
    return str(int(seconds))
