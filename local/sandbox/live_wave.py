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
conversion attempt, a failed cutover launch, and, ``wave_spec`` sees to it, a server of the
cutover launched whose post-launch action that must succeed for cutover fails, when
``--failure-rate`` is above 0), laid between the account's first export and the tick's real
time, compressed into those seconds, its late items and post-launch actions included. From
that tick on the emulator's clock is the real one. The wave's items and derived events are the
run's live ones: what the alert rules fire on.

Its servers are named in MGN before the first tick (``register``; ``sandbox.live_inventory``:
the MGN wave ``Wave <n> - Live`` after the programme's last, hostnames the programme does not
use), so the exporter names its items like any other. With ``--keep-running`` the wave is
run again after the report (``lay_round``): the same servers' test and cutover, with new job
ids, in the same MGN wave, laid over the next ticks' real time so that each tick reveals more.
"""

from __future__ import annotations

import functools
import random
import string
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from local.mgn_emulator.emulator import MgnEmulator
from local.mgn_emulator.inventory import Inventory
from local.mgn_emulator.playback import Playback, PlaybackProgress
from local.mgn_emulator.programme import Programme, ProgrammeSpec, Timeline, generate_programme
from local.sandbox.live_inventory import live_inventory, live_wave_name

WAVE_JOBS = 2  # a test job and its cutover
# The generator starts a job a second or more into its window, then moves the start to a random
# millisecond of its second: a job ends less than this after its window does.
END_MARGIN = timedelta(seconds=1)
# Where a wave's shape (its jobs and items, not their times) is drawn before it is laid.
_SHAPE_TIMELINE = Timeline(
    live_start=datetime(2000, 1, 1, tzinfo=UTC), live_end=datetime(2000, 1, 1, 0, 1, tzinfo=UTC)
)
_ALNUM = string.ascii_letters + string.digits
# wave_spec looks this many seeds on for a wave whose cutover launches a server.
SEED_TRIES = 50
_ANY = "000000000000"  # an account to draw a shape in (only its jobs' statuses are looked at)


def wave_spec(programme_spec: ProgrammeSpec) -> ProgrammeSpec:
    """One wave in the caller's account, seeded apart from the programme's (job ids differ),
    with its late items. With failures on, the seed is the first after the programme's whose
    cutover launches a server besides the one it fails to launch: the generator then fails an
    action of that server that must succeed for cutover, so that the wave shows what each
    alert rule fires on (a failed conversion attempt, a failed cutover launch, a cutover
    outcome with a failed server, a failed post-launch action that must succeed)."""
    first = ProgrammeSpec(
        accounts=1,
        jobs=WAVE_JOBS,
        seed=programme_spec.seed + 1,
        uninitialized=0,
        history_share=0.0,
        failure_rate=programme_spec.failure_rate,
        late_item_share=programme_spec.late_item_share,
    )
    if first.failure_rate <= 0:
        return first
    for offset in range(SEED_TRIES):
        spec = replace(first, seed=first.seed + offset)
        if _cutover_launches(generate_programme(spec, _SHAPE_TIMELINE, caller_account=_ANY)):
            return spec
    return first


def _cutover_launches(shape: Programme) -> bool:
    return any(job.initiated_by == "START_CUTOVER" and job.launches for job in shape.jobs)


def last_change(programme: Programme) -> datetime:
    """When the last thing the programme shows happens: a job's end, an item readable (a late
    one after its job's end), an instance, an SSM agent's discovery, an action's end."""
    moments = [job.ended for job in programme.jobs]
    moments += [planned.visible_at for job in programme.jobs for planned in job.items]
    for job in programme.jobs:
        for launch in job.launches:
            moments += [launch.launched, launch.ssm_discovered]
            moments += [execution.ended for execution in launch.executions]
    return max(moments)


@dataclass
class LiveWave:
    spec: ProgrammeSpec
    account_id: str  # the stack's own
    # Each time the wave was laid: the first at the last tick, more with --keep-running.
    rounds: list[Programme] = field(default_factory=list)
    playbacks: list[Playback] = field(default_factory=list)
    # Its MGN wave, applications and named servers (register); numbered 1 until then.
    inventory: Inventory = field(default_factory=Inventory)
    # The wave's jobs and items as they will be (only their times are not known yet).
    shape: Programme = field(init=False)

    def __post_init__(self) -> None:
        self.shape = generate_programme(self.spec, _SHAPE_TIMELINE, caller_account=self.account_id)

    @property
    def laid(self) -> Programme | None:
        """The first round (the run's own live wave), once laid."""
        return self.rounds[0] if self.rounds else None

    @property
    def number(self) -> int:
        return self.inventory.waves[0].number if self.inventory.waves else 1

    @property
    def name(self) -> str:
        """The name of the wave's MGN wave."""
        return self.inventory.waves[0].name if self.inventory.waves else live_wave_name(1)

    @property
    def server_ids(self) -> list[str]:
        """The servers its jobs launch, in order (every round launches the same ones)."""
        ids = [server for job in self.shape.jobs for server in job.source_server_ids]
        return list(dict.fromkeys(ids))

    def register(self, emulator: MgnEmulator, programme: Programme) -> None:
        """Name the wave's servers in MGN, against `programme` (see ``live_inventory``): call
        before the first tick, so that the worker's first read of the inventory holds them."""
        self.inventory = live_inventory(programme, self.account_id, self.server_ids, self.spec.seed)
        emulator.add_inventory(self.inventory)

    def lay(self, emulator: MgnEmulator, since: datetime) -> None:
        """Play the wave into the emulator, logged after `since` (the account's first export)
        and by now, all of it (its late items and post-launch actions too): the tick that
        lays it shows the whole of it. A window too short to hold the wave makes it end a
        moment later: this waits for that moment, as the emulator's clock must never be ahead
        of the real one."""
        now = datetime.now(UTC)
        end = max(now - END_MARGIN, since + timedelta(milliseconds=10))
        laid = self.lay_round(emulator, since, end)
        last = last_change(laid)
        while (ahead := (last - datetime.now(UTC)).total_seconds()) > 0:
            time.sleep(ahead + 0.01)

    def lay_round(self, emulator: MgnEmulator, start: datetime, end: datetime) -> Programme:
        """Play the wave once more, its jobs between `start` and `end` (which may be ahead of
        the real clock: the emulator shows each item once its clock has passed it)."""
        laid = self._round(Timeline(live_start=start, live_end=end))
        # Shows at once what is due by the emulator's clock, the rest as the clock passes it.
        self.playbacks.append(emulator.play(laid))
        self.rounds.append(laid)
        return laid

    def _round(self, timeline: Timeline) -> Programme:
        """The wave's jobs in `timeline`, in its MGN wave (their ``wave`` tag), with new job
        ids after the first round (MGN never reuses one); the inventory is registered once,
        not with each round."""
        drawn = generate_programme(self.spec, timeline, caller_account=self.account_id)
        index = len(self.rounds)
        rng = random.Random(f"sandbox-live-wave-round:{self.spec.seed}:{index}")
        jobs = tuple(
            replace(
                job,
                wave=self.number,
                job_id=job.job_id if index == 0 else "mgnjob-" + "".join(rng.choices(_ALNUM, k=17)),
            )
            for job in drawn.jobs
        )
        return replace(drawn, jobs=jobs, inventory=Inventory())

    def progress(self) -> PlaybackProgress:
        if self.playbacks:
            return _sum(playback.progress() for playback in self.playbacks)
        return PlaybackProgress(
            jobs_created=0,
            jobs_completed=0,
            items_revealed=0,
            jobs_total=len(self.shape.jobs),
            items_total=self.shape.item_count,
            actions_total=self.shape.action_count,
        )

    def reveal_until(self, when: datetime) -> PlaybackProgress:
        if self.playbacks:
            return _sum(playback.reveal_until(when) for playback in self.playbacks)
        return self.progress()

    def joined(self, programme: Programme) -> Programme:
        """The programme with the wave's jobs, once laid, and its inventory, once registered:
        what MGN held in all."""
        jobs = tuple(job for laid in self.rounds for job in laid.jobs)
        inventory = programme.inventory
        if self.inventory.waves:
            inventory = Inventory(
                waves=inventory.waves + self.inventory.waves,
                applications=inventory.applications + self.inventory.applications,
                servers=inventory.servers + self.inventory.servers,
                renames=inventory.renames,
            )
        if not jobs and inventory is programme.inventory:
            return programme
        return replace(programme, jobs=programme.jobs + jobs, inventory=inventory)


def _sum(progresses: Iterable[PlaybackProgress]) -> PlaybackProgress:
    return functools.reduce(combined, progresses)


def combined(first: PlaybackProgress, second: PlaybackProgress) -> PlaybackProgress:
    return PlaybackProgress(
        jobs_created=first.jobs_created + second.jobs_created,
        jobs_completed=first.jobs_completed + second.jobs_completed,
        items_revealed=first.items_revealed + second.items_revealed,
        jobs_total=first.jobs_total + second.jobs_total,
        items_total=first.items_total + second.items_total,
        actions_ended=first.actions_ended + second.actions_ended,
        actions_total=first.actions_total + second.actions_total,
        changes_left=first.changes_left + second.changes_left,
    )
