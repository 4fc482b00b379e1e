"""Pure shaping of one MGN job log item into the public event (EventBridge entry and log line).

No AWS I/O here. The Detail object is the public contract: consumers build rules and Logs
Insights queries on it, so field names only ever get added, never renamed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SCHEMA_VERSION = "1"
DETAIL_TYPE = "MGN Job Log Event"

# EventBridge counts an entry as Source + DetailType + Detail + Resources + 14 bytes for Time, and
# a PutEvents request must be less than 256 KB: an entry of exactly 256 KB is refused. A CloudWatch
# Logs event is its UTF-8 message plus 26 bytes, at most 1 MB (1,048,576 bytes; it was 256 KB
# until 2025). The Detail is cut to fit both, so EventBridge's limit is the one that binds.
EVENTBRIDGE_ENTRY_LIMIT = 256 * 1024 - 1
EVENTBRIDGE_TIME_BYTES = 14
LOG_EVENT_LIMIT = 1_048_576
LOG_EVENT_OVERHEAD = 26

TRUNCATION_MARKER = "...[truncated {removed} bytes by mgn-job-log-exporter]"

# Every value of JobLog.event in MGN's API model, in the model's order.
MGN_EVENTS = (
    "JOB_START",
    "SERVER_SKIPPED",
    "CLEANUP_START",
    "CLEANUP_END",
    "CLEANUP_FAIL",
    "SNAPSHOT_START",
    "SNAPSHOT_END",
    "SNAPSHOT_FAIL",
    "USING_PREVIOUS_SNAPSHOT",
    "CONVERSION_START",
    "CONVERSION_END",
    "CONVERSION_FAIL",
    "LAUNCH_START",
    "LAUNCH_FAILED",
    "JOB_CANCEL",
    "JOB_END",
)
# The members of MGN's JobLogEventData.
EVENT_DATA_KEYS = (
    "sourceServerID",
    "conversionServerID",
    "targetInstanceID",
    "rawError",
    "attemptCount",
    "maxAttemptsCount",
)
# The names an event carries besides MGN's item (inventory.py), where MGN has them.
NAME_FIELDS = ("sourceServer", "application", "wave")
KNOWN_EVENTS = frozenset(MGN_EVENTS)
ERROR_EVENTS = frozenset({"SNAPSHOT_FAIL", "CONVERSION_FAIL", "LAUNCH_FAILED", "CLEANUP_FAIL"})
WARNING_EVENTS = frozenset({"JOB_CANCEL", "SERVER_SKIPPED", "USING_PREVIOUS_SNAPSHOT"})

_ISO_PATTERN = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$"
)


@dataclass(frozen=True)
class JobInfo:
    """What the exporter knows of a job from DescribeJobs; any field may be unknown."""

    job_id: str
    arn: str | None = None
    job_type: str | None = None
    initiated_by: str | None = None


@dataclass(frozen=True)
class ExportEvent:
    """One item shaped for both sinks. `detail_json` is the EventBridge Detail and the log line."""

    event_id: str
    position: int
    detail: dict[str, Any]
    detail_json: str
    time: datetime | None
    resources: tuple[str, ...]
    problems: tuple[str, ...]
    # A job log item's, or a derived event's (derived_events.py, whose position is -1).
    detail_type: str = DETAIL_TYPE


def severity_of(event: str | None) -> str:
    if event in ERROR_EVENTS:
        return "ERROR"
    if event in WARNING_EVENTS:
        return "WARNING"
    if event is None or event in KNOWN_EVENTS:
        return "INFO"
    # An event value MGN added after this code was written: judge it by its name, so that a new
    # kind of failure still reaches the ERROR alarm rule.
    upper = event.upper()
    if "FAIL" in upper or "ERROR" in upper:
        return "ERROR"
    if "CANCEL" in upper or "SKIP" in upper or "PREVIOUS" in upper:
        return "WARNING"
    return "INFO"


def parse_log_datetime(value: object) -> datetime | None:
    """MGN's ISO8601DatetimeString, leniently (offsets, any fraction digits); None if unusable."""
    if not isinstance(value, str):
        return None
    match = _ISO_PATTERN.match(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        parsed = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micros
        )
    except ValueError:
        return None
    if zone in (None, "Z"):
        return parsed.replace(tzinfo=UTC)
    try:
        return datetime.fromisoformat(parsed.isoformat() + zone).astimezone(UTC)
    except (ValueError, OverflowError):  # an offset past year 1 or 9999
        return None


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_id_for(account_id: str, job_id: str, position: int, item: Mapping[str, Any]) -> str:
    """Deterministic id: the same item at the same place always gets the same id."""
    return _event_id(account_id, job_id, position, _clean_item(item)[1])


def _event_id(account_id: str, job_id: str, position: int, item_json: str) -> str:
    material = "\x1f".join((account_id, job_id, str(position), item_json))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


def _clean_item(item: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The item with unencodable strings replaced, and its canonical JSON."""
    text = canonical_json(item)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # rare: only then walk the item
        cleaned: dict[str, Any] = clean_strings(dict(item))
        return cleaned, canonical_json(cleaned)
    return dict(item), text


def job_arn_resource(job: JobInfo) -> str | None:
    return job.arn if isinstance(job.arn, str) and job.arn.startswith("arn:") else None


def source_server_arn(
    partition: str, region: str, account_id: str, source_server_id: object
) -> str | None:
    if not isinstance(source_server_id, str) or not re.fullmatch(
        r"s-[0-9a-zA-Z]{17}", source_server_id
    ):
        return None
    return f"arn:{partition}:mgn:{region}:{account_id}:source-server/{source_server_id}"


def build_event(
    item: Mapping[str, Any],
    *,
    account_id: str,
    region: str,
    job: JobInfo,
    position: int,
    source: str,
    live_since: datetime | None = None,
    names: Mapping[str, Any] | None = None,
    duration_seconds: float | None = None,
    replay: bool = False,
) -> ExportEvent:
    """Shape one item. Never raises on bad input: what is odd is kept and reported in `problems`.

    `live_since` is when the account's export began: an item MGN logged before it is history
    read by the backfill (`backfill: true`), which alert rules leave alone. An item without a
    usable time counts as live: better one alert too many than a failure nobody hears of.
    `names` are the item's `sourceServer`, `application` and `wave` (inventory.py), added as
    they are; the eventId does not depend on them (an item's identity is not its names).
    `duration_seconds` is how long the step this item ends took (job_steps.py), when known.
    `replay` marks an event sent again on request (replay.py): `"replay": true`.
    """
    problems: list[str] = []
    clean, item_json = _clean_item(item)
    event_name = _string_or_none(clean.get("event"), "event", problems)
    if event_name is not None and event_name not in KNOWN_EVENTS:
        problems.append(f"unknown event value {event_name[:100]!r}")
    log_date_time = _string_or_none(clean.get("logDateTime"), "logDateTime", problems)
    parsed_time = parse_log_datetime(log_date_time)
    if parsed_time is None:
        problems.append(f"unusable logDateTime {str(log_date_time)[:100]!r}")
    event_data = clean.get("eventData")
    if event_data is None:
        problems.append("missing eventData")
        event_data = {}
    elif not isinstance(event_data, dict):
        problems.append("eventData is not an object")
        event_data = {"value": event_data}

    event_id = _event_id(account_id, job.job_id, position, item_json)
    detail: dict[str, Any] = {
        "schemaVersion": SCHEMA_VERSION,
        "eventId": event_id,
        "accountID": account_id,
        "region": region,
        "jobID": job.job_id,
        "jobType": job.job_type,
        "initiatedBy": job.initiated_by,
        **{key: names[key] for key in NAME_FIELDS if names and key in names},
        "event": event_name,
        "severity": severity_of(event_name),
        "backfill": bool(live_since and parsed_time and parsed_time < live_since),
        "logDateTime": log_date_time,
        **({"durationSeconds": duration_seconds} if duration_seconds is not None else {}),
        "position": position,
        "eventData": event_data,
        **({"replay": True} if replay else {}),
    }
    partition = job.arn.split(":")[1] if job.arn and job.arn.count(":") >= 2 else "aws"
    resources = tuple(
        resource
        for resource in (
            job_arn_resource(job),
            source_server_arn(partition, region, account_id, event_data.get("sourceServerID")),
        )
        if resource
    )
    budget = detail_budget(source, resources)
    detail_json = canonical_detail_json(detail)
    if len(detail_json.encode("utf-8")) > budget:
        detail, detail_json = truncate_detail(detail, budget)
        problems.append(f"truncated {', '.join(detail['truncated'])}")
    return ExportEvent(
        event_id=event_id,
        position=position,
        detail=detail,
        detail_json=detail_json,
        time=parsed_time,
        resources=resources,
        problems=tuple(problems),
    )


def canonical_detail_json(detail: Mapping[str, Any]) -> str:
    # Key order as built (readable log lines); non-ASCII kept as UTF-8, which both sinks accept.
    return json.dumps(detail, separators=(",", ":"), ensure_ascii=False, default=str)


def detail_budget(source: str, resources: tuple[str, ...], detail_type: str = DETAIL_TYPE) -> int:
    """Largest Detail (UTF-8 bytes) that fits one EventBridge entry and one log event."""
    entry_overhead = (
        len(source.encode("utf-8"))
        + len(detail_type.encode("utf-8"))
        + sum(len(resource.encode("utf-8")) for resource in resources)
        + EVENTBRIDGE_TIME_BYTES
    )
    return min(EVENTBRIDGE_ENTRY_LIMIT - entry_overhead, LOG_EVENT_LIMIT - LOG_EVENT_OVERHEAD)


# A string shorter than this is not worth a cut (the marker takes some 50 bytes of it).
MIN_CUT_BYTES = 1024
# Each round cuts a string (saving at least some 970 bytes) or folds an object or a list: a
# Detail of any size fits long before this; the bound only makes termination obvious.
MAX_CUT_ROUNDS = 10_000
# Known eventData keys stay in place when the rest of an oversized eventData is folded.
_PROTECTED = ("truncated", "eventId", "accountID", "jobID")


def truncate_detail(detail: dict[str, Any], budget: int) -> tuple[dict[str, Any], str]:
    """Cut values until the Detail fits, each with a visible marker; never fails on odd input.

    Strings are cut first, largest first. When no string is worth a cut (a value of many small
    members, a huge key, a long list of numbers), the largest object or list is folded into
    its JSON text, which the next round cuts. An oversized eventData keeps its known keys and
    folds the others into `eventData.value`, so it stays an object as the schema says.
    """
    detail = json.loads(json.dumps(detail, default=str))
    truncated: list[str] = []
    detail["truncated"] = truncated
    marker_room = len(TRUNCATION_MARKER) + 16
    for _ in range(MAX_CUT_ROUNDS):
        detail_json = canonical_detail_json(detail)
        overflow = len(detail_json.encode("utf-8")) - budget
        if overflow <= 0:
            return detail, detail_json
        strings = _leaves(detail, want_strings=True)
        path, value = max(strings, key=lambda leaf: _size(leaf[1]), default=((), ""))
        # A string worth cutting takes a good share of the overflow; many small ones are
        # folded with their container instead (one cut, one path in `truncated`).
        if _size(value) >= max(MIN_CUT_BYTES, overflow // 8):
            raw = str(value).encode("utf-8")
            # Cut in proportion to how much the value grows as JSON (control characters and
            # quotes are escaped), so that one cut is usually enough without cutting more
            # than needed; a value escaped unevenly is cut again on the next round.
            escaped = len(canonical_json(value).encode("utf-8")) - 2
            room = marker_room + len(".".join(str(part) for part in path)) + 3  # its path too
            cut = -(-(overflow + room) * len(raw) // max(1, escaped))
            keep = max(0, len(raw) - cut)
            kept = raw[:keep].decode("utf-8", errors="ignore")
            _set_path(detail, path, kept + TRUNCATION_MARKER.format(removed=len(raw) - len(kept)))
            _note(truncated, path)
            continue
        containers = _leaves(detail, want_strings=False)
        inner = [leaf for leaf in containers if leaf[0] != ("eventData",)]
        path, value = max(inner, key=lambda leaf: _size(leaf[1]), default=((), None))
        if value is None or _size(value) < overflow:
            # No single member would make it fit: fold the eventData object itself.
            path, value = ("eventData",), detail.get("eventData")
            if not isinstance(value, dict):
                raise ValueError("detail could not be cut to fit its budget")  # pragma: no cover
        if path == ("eventData",):
            known = {k: v for k, v in value.items() if k in EVENT_DATA_KEYS}
            rest = {k: v for k, v in value.items() if k not in EVENT_DATA_KEYS}
            if not rest:  # only known keys, all small: fold the whole object
                known, rest = {}, value
            _set_path(detail, path, {**known, "value": canonical_json(rest)})
            path = (*path, "value")
        else:
            _set_path(detail, path, canonical_json(value))
        _note(truncated, path)
    raise ValueError("detail could not be cut to fit its budget")  # pragma: no cover


def _size(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    return len(canonical_json(value).encode("utf-8"))


def _note(truncated: list[str], path: tuple[Any, ...]) -> None:
    label = ".".join(str(part) for part in path)
    # A value folded into its JSON text takes the cuts made inside it along: their paths are
    # gone (the text is one string now) and the fold's path says where to look.
    truncated[:] = [noted for noted in truncated if not noted.startswith(f"{label}.")]
    if label not in truncated:
        truncated.append(label)


def _leaves(
    value: Any, *, want_strings: bool, path: tuple[Any, ...] = ()
) -> list[tuple[tuple[Any, ...], Any]]:
    """(path, value) of every string (or of every object and list below the root) that may
    be cut: the fields that identify the event are never cut."""
    found: list[tuple[tuple[Any, ...], Any]] = []
    if isinstance(value, str):
        if want_strings:
            found.append((path, value))
        return found
    if isinstance(value, dict):
        children: list[tuple[Any, Any]] = list(value.items())
    elif isinstance(value, list):
        children = list(enumerate(value))
    else:
        return found
    if path and not want_strings:
        found.append((path, value))
    for key, child in children:
        if path == () and key in _PROTECTED:
            continue
        found.extend(_leaves(child, want_strings=want_strings, path=(*path, key)))
    return found


def _set_path(root: Any, path: tuple[Any, ...], value: Any) -> None:
    target = root
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


def _string_or_none(value: object, name: str, problems: list[str]) -> str | None:
    if value is None:
        problems.append(f"missing {name}")
        return None
    if isinstance(value, str):
        return value
    problems.append(f"{name} is not a string")
    return canonical_json(value)


def clean_strings(value: Any) -> Any:
    """Replace lone surrogates (unencodable as UTF-8, so both sinks would reject the entry)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if isinstance(value, dict):
        return {clean_strings(key): clean_strings(child) for key, child in value.items()}
    if isinstance(value, list):
        return [clean_strings(child) for child in value]
    return value
