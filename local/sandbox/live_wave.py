"""The live wave: MGN activity after the exporter's first run, so that some items are live.

The exporter marks an item ``backfill: true`` when MGN logged it before the account's first
export (``firstExportAt`` in its checkpoint item, on the worker's real clock), and the
stack's alert rules match live items only (``"backfill": [false]``). The simulated programme
is laid before the real time of the first tick (see ``sandbox``), so every item of it is
backfill to the exporter, those shown at later ticks included: a first deployment into a
programme under way, whose past failures page nobody.

What happens after the first run can only happen in real time, and ticks follow each other in
seconds. So at the last tick the sandbox plays one more wave, small: a test job and its
cutover in the stack's own account (with the programme's generator, so with a failed
conversion attempt and a failed cutover launch when ``--failure-rate`` is above 0), laid
between the account's first export and the tick's real time, compressed into those seconds.
From that tick on the emulator's clock is the real one. The wave's items are the run's live
items: what the alert rules fire on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from local.mgn_emulator.emulator import MgnEmulator
from local.mgn_emulator.playback import Playback, PlaybackProgress
from local.mgn_emulator.programme import Programme, ProgrammeSpec, Timeline, generate_programme

WAVE_JOBS = 2  # a test job and its cutover
# The generator starts a job a second or more into its window, then moves the start to a random
# millisecond of its second: a job ends less than this after its window does.
END_MARGIN = timedelta(seconds=1)
# Where a wave's shape (its jobs and items, not their times) is drawn before it is laid.
_SHAPE_TIMELINE = Timeline(
    live_start=datetime(2000, 1, 1, tzinfo=UTC), live_end=datetime(2000, 1, 1, 0, 1, tzinfo=UTC)
)


def wave_spec(programme_spec: ProgrammeSpec) -> ProgrammeSpec:
    """One wave in the caller's account, seeded apart from the programme's (job ids differ)."""
    return ProgrammeSpec(
        accounts=1,
        jobs=WAVE_JOBS,
        seed=programme_spec.seed + 1,
        uninitialized=0,
        history_share=0.0,
        failure_rate=programme_spec.failure_rate,
    )


@dataclass
class LiveWave:
    spec: ProgrammeSpec
    account_id: str  # the stack's own
    laid: Programme | None = None
    playback: Playback | None = None
    # The wave's jobs and items as they will be (only their times are not known yet).
    shape: Programme = field(init=False)

    def __post_init__(self) -> None:
        self.shape = generate_programme(self.spec, _SHAPE_TIMELINE, caller_account=self.account_id)

    def lay(self, emulator: MgnEmulator, since: datetime) -> None:
        """Play the wave into the emulator, logged after `since` (the account's first export)
        and by now. A window too short to hold the wave makes it end a moment later: this
        waits for that moment, as the emulator's clock must never be ahead of the real one."""
        now = datetime.now(UTC)
        end = max(now - END_MARGIN, since + timedelta(milliseconds=10))
        self.laid = generate_programme(
            self.spec, Timeline(live_start=since, live_end=end), caller_account=self.account_id
        )
        # Played while the emulator's clock is still in the past: nothing is revealed yet.
        self.playback = emulator.play(self.laid)
        last = max(job.ended for job in self.laid.jobs)
        while (ahead := (last - datetime.now(UTC)).total_seconds()) > 0:
            time.sleep(ahead + 0.01)

    def progress(self) -> PlaybackProgress:
        if self.playback is not None:
            return self.playback.progress()
        return PlaybackProgress(
            jobs_created=0,
            jobs_completed=0,
            items_revealed=0,
            jobs_total=len(self.shape.jobs),
            items_total=self.shape.item_count,
        )

    def reveal_until(self, when: datetime) -> PlaybackProgress:
        if self.playback is not None:
            return self.playback.reveal_until(when)
        return self.progress()

    def joined(self, programme: Programme) -> Programme:
        """The programme with the wave's jobs, once laid: what MGN held in all."""
        if self.laid is None:
            return programme
        return replace(programme, jobs=programme.jobs + self.laid.jobs)


def combined(first: PlaybackProgress, second: PlaybackProgress) -> PlaybackProgress:
    return PlaybackProgress(
        jobs_created=first.jobs_created + second.jobs_created,
        jobs_completed=first.jobs_completed + second.jobs_completed,
        items_revealed=first.items_revealed + second.items_revealed,
        jobs_total=first.jobs_total + second.jobs_total,
        items_total=first.items_total + second.items_total,
    )
