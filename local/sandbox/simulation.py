"""Where simulated time sits against the real clock (the design is in the package docstring).

The live window ends at the real "now" of the first tick and is ``ticks x step`` long; tick k
sets the emulator's clock to ``live_start + k x step``. The exporter finds a new job only if
it was created after its previous real discovery time minus DISCOVERY_OVERLAP_MINUTES, so the
whole window must fit inside that overlap, with a safety margin for a slow run.

The same lag decides when the worker closes a completed job (``SettleTimings``): it keeps one
open until COMPLETED_JOB_GRACE after MGN's ``endDateTime`` (simulated) on its own real clock,
and while post-launch actions run, up to POST_LAUNCH_WAIT after it. Before the last tick MGN's
clock lags the real one by up to the whole window (45 minutes at tick 1 of the default 10),
and gains ``step`` a tick: the lag, not a speed, is what a grace in real seconds meets. No one
grace fits every tick (one short enough to close the last jobs within the run would close the
first ones, at the early ticks, before their late items and post-launch actions are shown; one
long enough for the early ticks would close nothing within the run), so the sandbox sets the
worker's local-only overrides by phase, each a cold start of the worker's environments (a
configuration change, as in Lambda):

* the ticks before the last: DISCOVERY_OVERLAP_MINUTES, longer than the window plus the run's
  time (the window is kept ``DISCOVERY_SAFETY`` shorter): no job of the live window closes
  while some of it may still be to come;
* the last tick and the drain ticks: 0. MGN's clock is at the window's end (or the real one,
  once the live wave is laid, all of it shown at once), so everything MGN will show is shown:
  a job closes once read to its end, its outcome sent;
* ``--keep-running``: MGN's clock is the real one and each round of the live wave happens
  over ``round_seconds`` from the tick before the one that lays it, so a job with anything
  left to show ended less than that before the tick, plus the tick's own time: the grace is
  ``round_seconds`` plus one interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from local.mgn_emulator.programme import Timeline
from local.sandbox.errors import SandboxError

# Real time the run may take before a job created at the window's start would fall out of the
# exporter's discovery overlap.
DISCOVERY_SAFETY = timedelta(minutes=10)
# The history must be inside the exporter's first-run backfill with room to spare.
BACKFILL_SAFETY = timedelta(hours=12)
# The worker's local-only overrides of the stack's completed-job minutes (never set by the
# stack; mgn_exporter.settings).
GRACE_VARIABLE = "COMPLETED_JOB_GRACE_SECONDS"
WAIT_VARIABLE = "POST_LAUNCH_WAIT_SECONDS"


@dataclass(frozen=True)
class SettleTimings:
    """The worker's COMPLETED_JOB_GRACE_SECONDS and POST_LAUNCH_WAIT_SECONDS (the same: every
    post-launch action of a job ends within its grace here), by phase of the run."""

    compressed: int  # the ticks before the last: MGN's clock lags the real one by the window
    caught_up: int = 0  # the last tick and the drain ticks: everything is shown
    kept_running: int = 0  # --keep-running's ticks: MGN's clock is the real one

    @staticmethod
    def overrides(seconds: int) -> dict[str, str]:
        return {GRACE_VARIABLE: str(seconds), WAIT_VARIABLE: str(seconds)}


def settle_timings(
    overlap_minutes: int, *, keep_running_every: float | None, round_ticks: int
) -> SettleTimings:
    """See the module's docstring; `keep_running_every`: None without --keep-running."""
    kept = 0 if keep_running_every is None else math.ceil(keep_running_every * (round_ticks + 1))
    return SettleTimings(compressed=overlap_minutes * 60, caught_up=0, kept_running=kept)


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
