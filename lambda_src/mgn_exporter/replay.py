"""Send one job's events again, on request: its job log items (all, or one server's) and its
derived events, to both sinks, with their usual eventIds and `"replay": true`, so that a fixed
consumer can catch up and rules can leave replays alone. The live checkpoint is neither read
nor written: replaying never moves or holds what the scheduled export does.

Asked for by invoking the worker directly with
`{"replay": {"accountId": "...", "jobId": "...", "sourceServerId": "...", "fromPosition": 0}}`
(docs/replay.md). A replay that meets its deadline says where it stopped (`nextPosition`):
invoke again with that `fromPosition`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mgn_exporter.deadline import Deadline
from mgn_exporter.derived_events import (
    DerivedContext,
    job_outcome_event,
    post_launch_action_event,
)
from mgn_exporter.errors import ExportError
from mgn_exporter.events import ExportEvent, JobInfo, build_event
from mgn_exporter.job_steps import StepFold
from mgn_exporter.post_launch import ended_at, server_launches

if TYPE_CHECKING:
    from mgn_exporter.enrichment import Enricher
    from mgn_exporter.eventbridge_publisher import EventBridgePublisher
    from mgn_exporter.inventory import Inventory
    from mgn_exporter.logs_writer import LogsWriter
    from mgn_exporter.mgn_reader import MgnReader


class BadReplayRequest(ExportError):
    """The replay payload is not one the worker can act on; the message says why."""


@dataclass(frozen=True)
class ReplayRequest:
    account_id: str
    job_id: str
    source_server_id: str | None = None  # only this server's items and derived events
    from_position: int = 0

    @classmethod
    def parse(cls, payload: object) -> ReplayRequest:
        if not isinstance(payload, Mapping):
            raise BadReplayRequest("replay must be an object")
        account, job = payload.get("accountId"), payload.get("jobId")
        server, start = payload.get("sourceServerId"), payload.get("fromPosition", 0)
        if not (isinstance(account, str) and account.isdigit() and len(account) == 12):
            raise BadReplayRequest("replay.accountId must be a 12-digit account id")
        if not isinstance(job, str) or not job.startswith("mgnjob-"):
            raise BadReplayRequest("replay.jobId must be an MGN job id (mgnjob-...)")
        if server is not None and not (isinstance(server, str) and server.startswith("s-")):
            raise BadReplayRequest("replay.sourceServerId must be a source server id (s-...)")
        if type(start) is not int or start < 0:
            raise BadReplayRequest("replay.fromPosition must be a whole number, 0 or more")
        return cls(account, job, server, start)


@dataclass
class ReplayReport:
    account_id: str
    job_id: str
    items_sent: int = 0
    derived_sent: int = 0
    # Where to start again when the deadline came first (None: the replay is complete).
    next_position: int | None = None
    failed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "replay": True,
            "accountId": self.account_id,
            "jobId": self.job_id,
            "complete": self.next_position is None and not self.failed,
            "itemsSent": self.items_sent,
            "derivedSent": self.derived_sent,
            "nextPosition": self.next_position,
            "failed": self.failed,
        }


@dataclass(frozen=True)
class ReplayParts:
    reader: MgnReader
    publisher: EventBridgePublisher
    writer: LogsWriter
    region: str
    source: str
    # When the account's export began (its checkpoint's first_export_at): what happened
    # before is history, `backfill: true`, as the live export said.
    live_since: datetime | None = None
    enricher: Enricher | None = None
    clock: Callable[[], float] = time.time


def replay_job(request: ReplayRequest, parts: ReplayParts, deadline: Deadline) -> ReplayReport:
    """Send the job's events again from `request.from_position`; raises ExportError when the
    job cannot be read (an unknown job, the account unavailable)."""
    report = ReplayReport(request.account_id, request.job_id)
    records = parts.reader.jobs_by_id(request.account_id, [request.job_id])
    if not records:
        raise BadReplayRequest(f"MGN has no job {request.job_id} in {request.account_id}")
    record = records[0]
    job = JobInfo(
        job_id=request.job_id,
        arn=_str(record.get("arn")),
        job_type=_str(record.get("type")),
        initiated_by=_str(record.get("initiatedBy")),
    )
    servers = {launch.server_id for launch in server_launches(record)}
    inventory = (
        parts.enricher.inventory(request.account_id, servers, deadline)
        if parts.enricher is not None and servers
        else None
    )
    names = _Names(inventory, request.source_server_id)
    steps = StepFold()
    position, token = 0, None
    while True:
        if deadline.should_stop():
            report.next_position = max(position, request.from_position)
            return report
        page = parts.reader.log_page(request.account_id, request.job_id, token)
        events = []
        for item in page.items:
            duration = steps.take(item)  # from the log's start: the durations live runs gave
            if position >= request.from_position and names.wanted(item):
                events.append(_item_event(item, position, job, duration, names, request, parts))
            position += 1
        if not _send(events, parts, deadline, report):
            report.next_position = events[0].position if events else position
            return report
        report.items_sent += len(events)
        if page.next_token is None or not page.items:
            break
        token = page.next_token
    derived = _derived(record, steps, job, names, request, parts)
    if _send(derived, parts, deadline, report):
        report.derived_sent = len(derived)
    else:
        report.next_position = position  # only the derived events are left
    return report


def _item_event(
    item: dict[str, Any],
    position: int,
    job: JobInfo,
    duration: float | None,
    names: _Names,
    request: ReplayRequest,
    parts: ReplayParts,
) -> ExportEvent:
    data = item.get("eventData")
    server = data.get("sourceServerID") if isinstance(data, Mapping) else None
    return build_event(
        item,
        account_id=request.account_id,
        region=parts.region,
        job=job,
        position=position,
        source=parts.source,
        live_since=parts.live_since,
        names=names.of(server),
        duration_seconds=duration,
        replay=True,
    )


def _derived(
    record: Mapping[str, Any],
    steps: StepFold,
    job: JobInfo,
    names: _Names,
    request: ReplayRequest,
    parts: ReplayParts,
) -> list[ExportEvent]:
    """The post-launch actions' current statuses, and the outcome if the job is COMPLETED
    (as the live export sent them: their eventIds are the live ones)."""
    now = datetime.fromtimestamp(parts.clock(), UTC)
    launches = [
        launch
        for launch in server_launches(record)
        if request.source_server_id in (None, launch.server_id)
    ]
    context = DerivedContext(
        account_id=request.account_id,
        region=parts.region,
        source=parts.source,
        job=job,
        live_since=parts.live_since,
        names=names.of,
        replay=True,
    )
    ended = ended_at(record, None) if record.get("status") == "COMPLETED" else None
    events = [
        post_launch_action_event(run, launch, context, observed=now, job_ended=ended)
        for launch in launches
        for run in launch.actions
    ]
    if ended is not None:
        events.append(
            job_outcome_event(record, launches, steps, context, ended=ended, waited_out=False)
        )
    return events


@dataclass(frozen=True)
class _Names:
    """The names to put on the replayed events, and which items the request wants."""

    inventory: Inventory | None
    server: str | None  # only this server's items

    def of(self, server: object) -> dict[str, Any] | None:
        return self.inventory.names(server) if self.inventory else None

    def wanted(self, item: Mapping[str, Any]) -> bool:
        if self.server is None:
            return True
        data = item.get("eventData")
        return isinstance(data, Mapping) and data.get("sourceServerID") == self.server


def _send(
    events: list[ExportEvent], parts: ReplayParts, deadline: Deadline, report: ReplayReport
) -> bool:
    """Both sinks, or False when EventBridge took only part (the deadline, or it failed)."""
    if not events:
        return True
    outcome = parts.publisher.publish(
        events, should_stop=deadline.should_stop, retry_seconds=deadline.finishing_seconds
    )
    taken = events[: outcome.delivered]
    if taken:
        try:
            parts.writer.write(taken[0].detail["accountID"], taken)
        except ExportError as exc:
            report.failed.append(f"CloudWatch Logs: {exc}")
            return False
    if outcome.delivered < len(events):
        if outcome.unavailable is not None:
            report.failed.append(f"EventBridge: {outcome.unavailable}")
        return False
    return True


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
