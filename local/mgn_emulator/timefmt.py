"""MGN-style timestamps (``ISO8601DatetimeString``) and well-formed job log items."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

# The fractional part is optional and of any length in the model's pattern.
_ISO_RE = re.compile(
    r"(?P<base>[1-9][0-9]*-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.(?P<frac>[0-9]+))?Z"
)


def as_utc(when: datetime) -> datetime:
    """``when`` in UTC; a naive datetime is taken to be UTC already."""
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def format_datetime(when: datetime) -> str:
    """``2026-11-25T10:00:00.123Z``: UTC, milliseconds, ``Z`` suffix (matches the model)."""
    utc = as_utc(when)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_datetime(text: str) -> datetime:
    """Parse an ``ISO8601DatetimeString``; raises ``ValueError`` if it is not a real instant."""
    match = _ISO_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"not an ISO8601 UTC datetime: {text!r}")
    base = datetime.strptime(match["base"], "%Y-%m-%dT%H:%M:%S")
    frac = (match["frac"] or "0")[:6].ljust(6, "0")
    return base.replace(microsecond=int(frac), tzinfo=UTC)


def sort_key(when: datetime) -> str:
    """Full-precision, lexicographically ordered text form of ``when`` (for page cursors)."""
    return as_utc(when).strftime("%Y-%m-%dT%H:%M:%S.%f")


def make_item(
    event: str,
    when: datetime,
    source_server_id: str | None = None,
    *,
    conversion_server_id: str | None = None,
    target_instance_id: str | None = None,
    raw_error: str | None = None,
    attempt_count: int | None = None,
    max_attempts_count: int | None = None,
) -> dict[str, Any]:
    """A well-formed ``JobLog`` item; ``eventData`` holds only the keys given."""
    optional: dict[str, Any] = {
        "sourceServerID": source_server_id,
        "conversionServerID": conversion_server_id,
        "targetInstanceID": target_instance_id,
        "rawError": raw_error,
        "attemptCount": attempt_count,
        "maxAttemptsCount": max_attempts_count,
    }
    return {
        "logDateTime": format_datetime(when),
        "event": event,
        "eventData": {key: value for key, value in optional.items() if value is not None},
    }
