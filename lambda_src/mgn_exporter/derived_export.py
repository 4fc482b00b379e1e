"""What one account's export sends besides the job logs: each job's post-launch action
statuses, and a settled job's outcome (derived_events.py), to each sink that has not taken
them, marked per sink in the job's checkpoint.

AccountExport (account_export.py) calls `report` for each job read to its end, and asks
`outcome_sent` before closing a completed job.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mgn_exporter.derived_events import (
    DerivedContext,
    job_outcome_event,
    job_outcome_id,
    post_launch_action_event,
    post_launch_action_id,
)
from mgn_exporter.events import ExportEvent, parse_log_datetime
from mgn_exporter.job_steps import StepFold
from mgn_exporter.metric_names import WorkerMetric
from mgn_exporter.post_launch import ended_at, server_launches, settled

if TYPE_CHECKING:
    from mgn_exporter.account_export import ExportParts
    from mgn_exporter.checkpoint import AccountState, JobCheckpoint, Sink
    from mgn_exporter.deadline import Deadline
    from mgn_exporter.eventbridge_publisher import PublishOutcome
    from mgn_exporter.export_batch import Batch
    from mgn_exporter.job_discovery import Discovery


class DerivedExport:
    def __init__(
        self,
        parts: ExportParts,
        state: AccountState,
        batch: Batch,
        deadline: Deadline,
        *,
        put_events: Callable[[list[ExportEvent]], PublishOutcome],
        steps_at: Callable[[JobCheckpoint, int], StepFold | None],
        live_since: datetime | None,
    ) -> None:
        self._parts = parts
        self._state = state
        self._batch = batch
        self._deadline = deadline
        self._put_events = put_events  # EventBridge, counted and marked down as items are
        self._steps_at = steps_at  # a job's steps at a log position, as the export shaped them
        self._live_since = live_since

    def report(self, job_id: str, discovery: Discovery) -> None:
        """Send a job's new post-launch action statuses, and its outcome once it is settled.
        The outcome waits until the job's log is read to its end, and goes to each sink once
        that sink has the log to its end: the job is closed once both took it."""
        job = self._state.jobs[job_id]
        record = discovery.records.get(job_id)
        if record is None or job.gone:
            return
        now = datetime.fromtimestamp(self._parts.clock(), UTC)
        launches = server_launches(record)
        ended = ended_at(record, parse_log_datetime(job.completed_seen)) if job.completed else None
        end = self._batch.log_ends.get(job_id)
        is_settled, waited_out = (
            settled(launches, ended, now, self._parts.options.settle)
            if ended is not None and end is not None
            else (False, False)
        )
        account = self._state.account_id
        due = [post_launch_action_id(account, job_id, r) for s in launches for r in s.actions]
        if is_settled:
            due.append(job_outcome_id(account, job_id))
        if all(job.derived_sent("events", i) and job.derived_sent("logs", i) for i in due):
            return  # nothing new: no names to read, nothing to send
        servers = {launch.server_id for launch in launches}
        context = self._context(job, servers, discovery.servers)
        events = [
            post_launch_action_event(run, launch, context, observed=now, job_ended=ended)
            for launch in launches
            for run in launch.actions
        ]
        # The sinks that have the job's log to its end: only those may take its outcome.
        held: dict[Sink, set[str]] = {"events": set(), "logs": set()}
        if is_settled and ended is not None and end is not None:
            steps = self._steps_at(job, end) or StepFold.from_item(job.steps)
            outcome = job_outcome_event(
                record, launches, steps, context, ended=ended, waited_out=waited_out
            )
            events.append(outcome)
            if job.sink_position("events") < end:
                held["events"].add(outcome.event_id)
            if self._batch.logs_position(job) < end:
                held["logs"].add(outcome.event_id)
        self._send(job, events, held)

    def outcome_sent(self, job: JobCheckpoint) -> bool:
        """Both sinks took the job's outcome (a completed job may be closed)."""
        outcome_id = job_outcome_id(self._state.account_id, job.job_id)
        return job.derived_sent("events", outcome_id) and job.derived_sent("logs", outcome_id)

    def _send(
        self, job: JobCheckpoint, events: list[ExportEvent], held: dict[Sink, set[str]]
    ) -> None:
        """Each sink gets the derived events it has not taken (but those `held` from it); the
        log group, while EventBridge is up, only those EventBridge took (the lockstep of the
        items). The log group's marks are set once its write succeeds (AccountExport._flush)."""
        batch, sinks = self._batch, self._batch.sinks
        before = {
            e.event_id
            for e in events
            if job.derived_sent("events", e.event_id) or job.derived_sent("logs", e.event_id)
        }
        to_bus = [
            e
            for e in events
            if not job.derived_sent("events", e.event_id) and e.event_id not in held["events"]
        ]
        taken: list[str] = []
        if to_bus and sinks.up("events"):
            outcome = self._put_events(to_bus)
            taken = [e.event_id for e in to_bus[: outcome.delivered]]
            job = self._state.jobs[job.job_id] = job.with_derived("events", taken)
        in_bus = sinks.up("events")
        to_logs = [
            e
            for e in events
            if not job.derived_sent("logs", e.event_id)
            and e.event_id not in held["logs"]
            and (not in_bus or job.derived_sent("events", e.event_id))
        ]
        if to_logs and sinks.up("logs"):
            batch.log_events.extend(to_logs)
            batch.derived_logs.setdefault(job.job_id, []).extend(e.event_id for e in to_logs)
            taken.extend(e.event_id for e in to_logs)
        batch.items += len(taken)
        self._parts.counters[WorkerMetric.DERIVED_EVENTS] += len(set(taken) - before)

    def _context(
        self, job: JobCheckpoint, servers: set[str], open_job_servers: set[str]
    ) -> DerivedContext:
        state, enricher = self._state, self._parts.enricher
        inventory = (
            enricher.inventory(state.account_id, servers, self._deadline, along=open_job_servers)
            if enricher is not None and servers
            else None
        )
        return DerivedContext(
            account_id=state.account_id,
            region=self._parts.options.region,
            source=self._parts.options.source,
            job=job.info,
            live_since=self._live_since,
            names=lambda server: inventory.names(server) if inventory else None,
        )
