"""Plays a ``Programme`` into an emulator as its simulated clock passes each moment.

A job exists (DescribeJobs lists it, ``STARTED``) from its creation time on; each item is in
its log from its ``logDateTime`` on (a late item from its ``shown`` time), appended in order;
the servers' launch statuses and the job's ``COMPLETED`` status (``endDateTime`` = the
``JOB_END`` item's time) are set at that time, so a job with late items shows ``COMPLETED``
before its last items are readable. A launched server's instance (``launchedEc2InstanceID``)
shows from its ``LAUNCH_START`` item's time, its SSM agent's discovery from the discovery's
time, and each post-launch action execution ``IN_PROGRESS`` from its start and ``SUCCESS`` or
``FAILED`` from its end, most of them after the job shows ``COMPLETED``. Accounts and the
inventory (waves, applications, named source servers) are registered at once, as they were
set up before the programme; its renames happen as the clock passes them. Nothing is ever
taken back: moving the clock backwards reveals nothing new.

``PlaybackProgress.finished``: nothing more will change (every job completed, every item
readable, every post-launch action ended, nothing else left to show).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import TYPE_CHECKING

from local.mgn_emulator.post_launch import PlannedExecution
from local.mgn_emulator.programme import PlannedJob, Programme
from local.mgn_emulator.timefmt import as_utc

if TYPE_CHECKING:
    from local.mgn_emulator.emulator import MgnEmulator


@dataclass(frozen=True)
class PlaybackProgress:
    jobs_created: int
    jobs_completed: int
    items_revealed: int
    jobs_total: int
    items_total: int
    # Post-launch action executions that reached their final status, of all planned.
    actions_ended: int = 0
    actions_total: int = 0
    # Changes still to show (of any kind: jobs, items, instances, discoveries, renames...).
    changes_left: int = 0

    @property
    def finished(self) -> bool:
        """Nothing more will change."""
        return (
            self.jobs_completed == self.jobs_total
            and self.items_revealed == self.items_total
            and self.actions_ended == self.actions_total
            and self.changes_left == 0
        )


class _Kind(IntEnum):
    # At one moment, changes apply in this order (then in the order they were planned).
    CREATE = 0
    ITEM = 1
    LAUNCHED = 2
    COMPLETE = 3
    DISCOVERED = 4
    ACTION = 5
    RENAME = 6


@dataclass(frozen=True)
class _Change:
    at: datetime
    kind: _Kind
    seq: int
    job: int = -1  # index in the programme's jobs
    item: int = -1  # position in the job's log
    launch: int = -1  # index in the job's launches
    execution: int = -1  # index in the launch's executions
    status: str = ""
    rename: int = -1  # index in the inventory's renames

    def key(self) -> tuple[datetime, int, int]:
        return (self.at, self.kind, self.seq)


class Playback:
    def __init__(self, emulator: MgnEmulator, programme: Programme) -> None:
        self._emulator = emulator
        self.programme = programme
        self._lock = threading.Lock()
        self._changes = _plan(programme)
        self._next = 0  # changes[:next] are shown
        self._jobs_created = 0
        self._jobs_completed = 0
        self._items_revealed = 0
        self._actions_ended = 0
        self._items_total = programme.item_count
        self._actions_total = programme.action_count
        for account in programme.accounts:
            emulator.add_account(
                account.account_id, initialized=account.initialized, managed=account.managed
            )
        emulator.add_inventory(programme.inventory)

    def reveal_until(self, when: datetime) -> PlaybackProgress:
        """Make everything that has happened by ``when`` visible; returns the progress."""
        moment = as_utc(when)
        with self._lock:
            start = self._next
            while self._next < len(self._changes) and self._changes[self._next].at <= moment:
                self._next += 1
            self._apply(self._changes[start : self._next])
            return self._progress()

    def progress(self) -> PlaybackProgress:
        with self._lock:
            return self._progress()

    def _apply(self, changes: list[_Change]) -> None:
        batch: list[_Change] = []  # consecutive items of one job: appended at once
        for change in changes:
            if batch and (change.kind != _Kind.ITEM or change.job != batch[0].job):
                self._append(batch)
                batch = []
            if change.kind == _Kind.ITEM:
                batch.append(change)
            else:
                self._apply_one(change)
        if batch:
            self._append(batch)

    def _append(self, batch: list[_Change]) -> None:
        job = self.programme.jobs[batch[0].job]
        items = [job.items[change.item].item for change in batch]
        self._emulator.append_items(job.account_id, job.job_id, items)
        self._items_revealed += len(items)

    def _apply_one(self, change: _Change) -> None:
        emulator = self._emulator
        if change.kind == _Kind.RENAME:
            rename = self.programme.inventory.renames[change.rename]
            emulator.rename_wave(rename.account_id, rename.wave_id, rename.name, when=rename.at)
            return
        job = self.programme.jobs[change.job]
        if change.kind == _Kind.CREATE:
            self._create(job)
            self._jobs_created += 1
        elif change.kind == _Kind.COMPLETE:
            for server, status in job.launch_statuses.items():
                emulator.set_launch_status(job.account_id, job.job_id, server, status)
            emulator.set_job_status(job.account_id, job.job_id, "COMPLETED", when=job.ended)
            self._jobs_completed += 1
        else:
            launch = job.launches[change.launch]
            server = launch.source_server_id
            if change.kind == _Kind.LAUNCHED:
                emulator.set_launched_instance(
                    job.account_id, job.job_id, server, launch.instance_id
                )
            elif change.kind == _Kind.DISCOVERED:
                emulator.set_ssm_agent_discovered(
                    job.account_id, job.job_id, server, launch.ssm_discovered
                )
            else:
                execution = launch.executions[change.execution]
                self._set_execution(job, server, execution, change.status)

    def _set_execution(
        self, job: PlannedJob, server: str, execution: PlannedExecution, status: str
    ) -> None:
        final = status != "IN_PROGRESS"
        self._emulator.set_post_launch_action(
            job.account_id,
            job.job_id,
            server,
            execution_id=execution.execution_id,
            action_name=execution.action_name,
            document_name=execution.document_name,
            status=status,
            document_type=execution.document_type,
            must_succeed=execution.must_succeed,
            timeout_seconds=execution.timeout_seconds,
            failure_reason=execution.failure_reason if final else None,
            parameters=execution.parameters,
        )
        if final:
            self._actions_ended += 1

    def _create(self, job: PlannedJob) -> None:
        self._emulator.add_job(
            job.account_id,
            job_id=job.job_id,
            type="LAUNCH",
            initiated_by=job.initiated_by,
            status="STARTED",
            created=job.created,
            source_server_ids=list(job.source_server_ids),
            tags=job.tags,
        )

    def _progress(self) -> PlaybackProgress:
        return PlaybackProgress(
            jobs_created=self._jobs_created,
            jobs_completed=self._jobs_completed,
            items_revealed=self._items_revealed,
            jobs_total=len(self.programme.jobs),
            items_total=self._items_total,
            actions_ended=self._actions_ended,
            actions_total=self._actions_total,
            changes_left=len(self._changes) - self._next,
        )


def _plan(programme: Programme) -> list[_Change]:
    """Every change the programme makes, in the order they are shown."""
    changes: list[_Change] = []

    def add(
        at: datetime,
        kind: _Kind,
        job: int = -1,
        *,
        item: int = -1,
        launch: int = -1,
        execution: int = -1,
        status: str = "",
        rename: int = -1,
    ) -> None:
        seq = len(changes)
        changes.append(_Change(as_utc(at), kind, seq, job, item, launch, execution, status, rename))

    for index, job in enumerate(programme.jobs):
        add(job.created, _Kind.CREATE, index)
        readable = job.created
        for position, planned in enumerate(job.items):
            # Never before an earlier item: a log is appended to in order.
            readable = max(readable, as_utc(planned.visible_at))
            add(readable, _Kind.ITEM, index, item=position)
        add(job.ended, _Kind.COMPLETE, index)
        for number, launch in enumerate(job.launches):
            add(launch.launched, _Kind.LAUNCHED, index, launch=number)
            add(launch.ssm_discovered, _Kind.DISCOVERED, index, launch=number)
            for position, execution in enumerate(launch.executions):
                for at, status in execution.changes():
                    add(at, _Kind.ACTION, index, launch=number, execution=position, status=status)
    for index, rename in enumerate(programme.inventory.renames):
        add(rename.at, _Kind.RENAME, rename=index)
    return sorted(changes, key=_Change.key)
