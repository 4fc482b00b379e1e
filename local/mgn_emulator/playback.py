"""Plays a ``Programme`` into an emulator as its simulated clock passes each moment.

A job exists (DescribeJobs lists it, ``STARTED``) from its creation time on; each item is in
its log from its ``logDateTime`` on, appended in order; the servers' launch statuses and the
job's ``COMPLETED`` status (``endDateTime`` = the ``JOB_END`` item's time) are set when its
last item is revealed. Accounts and the inventory (waves, applications, named source
servers) are registered at once, as they were set up before the programme; its renames
happen as the clock passes them. Nothing is ever taken back: moving the clock backwards
reveals nothing new.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

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

    @property
    def finished(self) -> bool:
        return self.jobs_completed == self.jobs_total


class Playback:
    def __init__(self, emulator: MgnEmulator, programme: Programme) -> None:
        self._emulator = emulator
        self.programme = programme
        self._lock = threading.Lock()
        # job index -> items revealed so far (absent: not created yet)
        self._revealed: dict[int, int] = {}
        self._completed: set[int] = set()
        self._pending = sorted(range(len(programme.jobs)), key=lambda i: programme.jobs[i].created)
        self._renames = sorted(programme.inventory.renames, key=lambda rename: rename.at)
        for account in programme.accounts:
            emulator.add_account(
                account.account_id, initialized=account.initialized, managed=account.managed
            )
        emulator.add_inventory(programme.inventory)

    def reveal_until(self, when: datetime) -> PlaybackProgress:
        """Make everything that has happened by ``when`` visible; returns the progress."""
        moment = as_utc(when)
        with self._lock:
            while self._pending and self.programme.jobs[self._pending[0]].created <= moment:
                index = self._pending.pop(0)
                self._create(self.programme.jobs[index])
                self._revealed[index] = 0
            for index, shown in list(self._revealed.items()):
                if index not in self._completed:
                    self._reveal_items(index, shown, moment)
            while self._renames and self._renames[0].at <= moment:
                rename = self._renames.pop(0)
                self._emulator.rename_wave(
                    rename.account_id, rename.wave_id, rename.name, when=rename.at
                )
            return self._progress()

    def progress(self) -> PlaybackProgress:
        with self._lock:
            return self._progress()

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

    def _reveal_items(self, index: int, shown: int, moment: datetime) -> None:
        job = self.programme.jobs[index]
        due = shown
        while due < len(job.items) and job.items[due].at <= moment:
            due += 1
        if due > shown:
            self._emulator.append_items(
                job.account_id, job.job_id, [planned.item for planned in job.items[shown:due]]
            )
            self._revealed[index] = due
        if due == len(job.items):
            for server, status in job.launch_statuses.items():
                self._emulator.set_launch_status(job.account_id, job.job_id, server, status)
            self._emulator.set_job_status(job.account_id, job.job_id, "COMPLETED", when=job.ended)
            self._completed.add(index)

    def _progress(self) -> PlaybackProgress:
        return PlaybackProgress(
            jobs_created=len(self._revealed),
            jobs_completed=len(self._completed),
            items_revealed=sum(self._revealed.values()),
            jobs_total=len(self.programme.jobs),
            items_total=self.programme.item_count,
        )
