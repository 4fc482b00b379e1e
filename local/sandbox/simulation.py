"""Where simulated time sits against the real clock (the design is in the package docstring).

The live window ends at the real "now" of the first tick and is ``ticks x step`` long; tick k
sets the emulator's clock to ``live_start + k x step``. The exporter finds a new job only if
it was created after its previous real discovery time minus DISCOVERY_OVERLAP_MINUTES, so the
whole window must fit inside that overlap, with a safety margin for a slow run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from local.mgn_emulator.programme import Timeline
from local.sandbox.errors import SandboxError

# Real time the run may take before a job created at the window's start would fall out of the
# exporter's discovery overlap.
DISCOVERY_SAFETY = timedelta(minutes=10)
# The history must be inside the exporter's first-run backfill with room to spare.
BACKFILL_SAFETY = timedelta(hours=12)


@dataclass(frozen=True)
class TimePlan:
    ticks: int
    step: timedelta
    live_start: datetime
    live_end: datetime
    history_start: datetime | None

    def tick_time(self, tick: int) -> datetime:
        """The simulated time of tick ``tick`` (1-based); later ticks stay at the end."""
        return self.live_start + self.step * min(tick, self.ticks)

    @property
    def timeline(self) -> Timeline:
        return Timeline(self.live_start, self.live_end, self.history_start)


def plan_time(
    *,
    now: datetime,
    ticks: int,
    tick_minutes: float | None,
    schedule_minutes: float | None,
    overlap_minutes: int,
    backfill_days: int,
    history_days: float,
) -> TimePlan:
    if ticks < 1:
        raise SandboxError("--ticks must be at least 1")
    window_limit = timedelta(minutes=overlap_minutes) - DISCOVERY_SAFETY
    if window_limit <= timedelta(0):
        raise SandboxError(
            f"the deployed DISCOVERY_OVERLAP_MINUTES ({overlap_minutes}) leaves no room for a "
            f"live window (it needs more than {DISCOVERY_SAFETY.seconds // 60} minutes)"
        )
    if tick_minutes is None:
        step = window_limit / ticks
        if schedule_minutes:
            step = min(step, timedelta(minutes=schedule_minutes))
    else:
        step = timedelta(minutes=tick_minutes)
    if step <= timedelta(0):
        raise SandboxError("--tick-minutes must be positive")
    if step * ticks > window_limit:
        raise SandboxError(
            f"{ticks} ticks of {step.total_seconds() / 60:g} minutes do not fit: the exporter "
            f"discovers new jobs only within DISCOVERY_OVERLAP_MINUTES ({overlap_minutes}) of "
            f"its last run, so the live window must stay under "
            f"{window_limit.total_seconds() / 60:g} minutes"
        )
    history_start = None
    if history_days > 0:
        room = timedelta(days=backfill_days) - BACKFILL_SAFETY
        if timedelta(days=history_days) > room:
            raise SandboxError(
                f"--history-days {history_days:g} is past what the exporter's first run "
                f"backfills (BACKFILL_DAYS {backfill_days}, less "
                f"{BACKFILL_SAFETY.seconds // 3600} hours)"
            )
    live_start = now - step * ticks
    if history_days > 0:
        history_start = live_start - timedelta(days=history_days)
    return TimePlan(ticks, step, live_start, now, history_start)
