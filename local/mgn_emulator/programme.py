"""A simulated migration programme: accounts, waves of test and cutover jobs, their job logs.

Pure data from a seed: the same spec gives the same accounts, ids, servers, failures and
items; only the absolute times follow the ``Timeline`` given (so a programme can be laid
before any "now").

How a programme looks:

* Accounts: the caller's (the MGN global view administrator, where the exporter runs), then
  member accounts managed by it; the last ``uninitialized`` members are listed by
  ListManagedAccounts but have MGN uninitialized (every call naming them fails).
* Waves: each wave takes a few source servers in some of the initialized accounts and runs,
  per account, a test launch job (``START_TEST``), then a cutover launch job
  (``START_CUTOVER``) of the same servers. Jobs are in programme order: wave 1's tests, its
  cutovers, wave 2's tests... The first ``history_share`` of them happened before the live
  window (spread over the history, full length, already complete); the rest start in the
  live window, in order, compressed so that each takes at most 40% of it. A wave's cutover
  can therefore start before its test has ended: time is compressed, not faithful.
* A job's log, in MGN's order: ``JOB_START``; for each server, staggered and interleaved in
  time, ``SNAPSHOT_START``, ``SNAPSHOT_END`` (or ``SNAPSHOT_FAIL`` with a rawError, then
  ``USING_PREVIOUS_SNAPSHOT``), ``CONVERSION_START``/``CONVERSION_END`` with the conversion
  server, where an attempt can fail (``CONVERSION_FAIL`` with rawError, attemptCount and
  maxAttemptsCount 3) and be retried with a new conversion server, ``LAUNCH_START`` with the
  target instance (or ``LAUNCH_FAILED`` with a rawError), ``CLEANUP_START`` and
  ``CLEANUP_END`` (or ``CLEANUP_FAIL``); rarely ``SERVER_SKIPPED`` instead of all that;
  then ``JOB_END``. A server whose conversion failed three times is not launched. Servers
  that launched are ``LAUNCHED``, the others ``FAILED``; the job ends ``COMPLETED`` either way
  (as MGN does).
* Failures are drawn at fixed chances scaled by ``failure_rate``; when it is above 0, the
  first live job always has one failed conversion attempt (then a good retry) and one live
  cutover job (if any) always has a failed launch, so that every programme shows both.
* Launch outcomes (``mgn_emulator.post_launch``): each LAUNCHED server of a job has its
  launched instance (its LAUNCH_START item's targetInstanceID), an SSM agent discovered a
  little after the job's end and 2-4 post-launch actions (MGN-style SSM documents) that go
  IN_PROGRESS, then SUCCESS or FAILED, mostly after the job shows COMPLETED, and before the
  live window ends (compressed, for the last jobs, to fit). Failures scale with
  ``failure_rate``; when it is above 0 and some live cutover job launched a server, one such
  job has a failed action with mustSucceedForCutover (and the forced launch failure above
  gives a live cutover job a FAILED server in a COMPLETED job).
  ``Programme.post_launch_actions()`` and ``Programme.server_outcomes()`` list how they end
  (ground truth).
* Late items (``late_item_share``, default 0: none): that share of the jobs (at least one
  when above 0, drawn from a stream of its own) shows COMPLETED at its JOB_END's time, and
  its last 1-2 items become readable 20-90 s later (less if the live window, or for a history
  job its start, comes sooner). Only when those items are readable (``PlannedItem.shown``)
  changes; their logDateTime stays.
* Its inventory (``mgn_emulator.inventory``): every server a job names has a hostname, fqdn,
  Name tag and (but one, in a programme of four servers or more) an application, in an MGN
  wave per programme wave and account ("Wave 1 - Finance"), created two weeks before the
  programme starts. The first live job's wave is renamed halfway through that job. Drawn
  from a random stream of its own, so the jobs and items a seed gives did not change.

Post-launch actions and late items too are drawn from streams of their own: the accounts,
jobs, ids, items and inventory a seed gives are the same with or without them, and turning
late items on changes no post-launch action.

The rawError and failureReason texts are made up in the style of MGN's and SSM's, not copied.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from local.mgn_emulator.inventory import Inventory, ServerGroup, plan_inventory, renamed
from local.mgn_emulator.post_launch import (
    JobOutline,
    LaunchedServer,
    PlannedLaunch,
    plan_post_launch,
)
from local.mgn_emulator.timefmt import as_utc, make_item

MAX_ATTEMPTS = 3
# A live job takes at most this share of the live window once compressed.
LIVE_JOB_SHARE = 0.4
# History jobs end at least this long before the live window starts.
HISTORY_GAP = timedelta(minutes=30)
# The waves and applications were set up this long before the programme's first job.
INVENTORY_LEAD = timedelta(days=14)

# Chances at failure_rate 1.0.
P_SKIP = 0.02
P_SNAPSHOT_FAIL = 0.05
P_CONVERSION_FAIL = 0.12  # per attempt
P_LAUNCH_FAIL = 0.06
P_CLEANUP_FAIL = 0.03
SERVER_COUNT_WEIGHTS = (2, 3, 3, 2, 1)  # 1..5 servers in a job
# A late job's last items become readable this long after it shows COMPLETED.
LATE_ITEM_SECONDS = (20.0, 90.0)
LATE_ITEMS = (1, 2)

SNAPSHOT_ERRORS = (
    "Failed to take snapshot: SnapshotCreationPerVolumeRateExceeded: The maximum per volume "
    "CreateSnapshot request rate has been exceeded",
    "Failed to take snapshot of vol-0b3c5d7e9f1a2b4c6: replication is not in continuous "
    "data protection state",
)
CONVERSION_ERRORS = (
    "Failed to convert: driver injection timed out after 1800 seconds",
    "Failed to convert: unable to mount the root volume /dev/xvda1: unknown filesystem type "
    "'LVM2_member'",
    "Failed to convert: the conversion server lost its connection to the MGN endpoint",
    'Failed to convert: boot configuration "GRUB_CMDLINE_LINUX" could not be updated',
)
LAUNCH_ERRORS = (
    "Failed to launch instance: InsufficientInstanceCapacity: We currently do not have "
    "sufficient m5.xlarge capacity in the Availability Zone you requested (us-east-1a)",
    "Failed to launch instance: InvalidSubnetID.NotFound: The subnet ID "
    "'subnet-0a1b2c3d4e5f6a7b8' does not exist",
    "Failed to launch instance: UnauthorizedOperation: You are not authorized to perform "
    "this operation (ec2:RunInstances)",
)
CLEANUP_ERRORS = (
    "Failed to terminate the conversion server: RequestLimitExceeded: Request limit exceeded",
)


@dataclass(frozen=True)
class ProgrammeSpec:
    accounts: int = 5  # the caller's included
    jobs: int = 40  # launch jobs over the initialized accounts
    seed: int = 1
    uninitialized: int = 1  # capped at accounts - 1: the caller's is always initialized
    history_share: float = 0.3
    failure_rate: float = 1.0
    # The share of jobs that show COMPLETED before their last items are readable (0: none).
    late_item_share: float = 0.0

    def __post_init__(self) -> None:
        if self.accounts < 1:
            raise ValueError("a programme needs at least one account")
        if self.jobs < 0 or self.uninitialized < 0:
            raise ValueError("jobs and uninitialized must not be negative")
        if not 0.0 <= self.history_share <= 1.0:
            raise ValueError("history_share must be between 0 and 1")
        if self.failure_rate < 0:
            raise ValueError("failure_rate must not be negative")
        if not 0.0 <= self.late_item_share <= 1.0:
            raise ValueError("late_item_share must be between 0 and 1")


@dataclass(frozen=True)
class Timeline:
    """Where a programme sits in time: history (optional), then the live window."""

    live_start: datetime
    live_end: datetime
    history_start: datetime | None = None

    def __post_init__(self) -> None:
        if self.live_end <= self.live_start:
            raise ValueError("the live window must end after it starts")
        if self.history_start is not None and self.history_start >= self.live_start:
            raise ValueError("the history must start before the live window")


@dataclass(frozen=True)
class PlannedAccount:
    account_id: str
    initialized: bool
    managed: bool


@dataclass(frozen=True)
class PlannedItem:
    at: datetime  # its logDateTime
    item: dict[str, Any]
    # When it becomes readable, if later than ``at`` (a late item).
    shown: datetime | None = None

    @property
    def visible_at(self) -> datetime:
        return self.at if self.shown is None else self.shown


@dataclass(frozen=True)
class PlannedJob:
    account_id: str
    job_id: str
    initiated_by: str
    wave: int
    live: bool
    created: datetime
    ended: datetime
    source_server_ids: tuple[str, ...]
    launch_statuses: dict[str, str]
    items: tuple[PlannedItem, ...]
    # Its LAUNCHED servers' instances and post-launch actions, in the servers' order.
    launches: tuple[PlannedLaunch, ...] = ()

    @property
    def tags(self) -> dict[str, str]:
        return {"wave": f"wave-{self.wave:02d}"}

    @property
    def late_items(self) -> int:
        """How many of its last items become readable after it shows COMPLETED."""
        return sum(1 for planned in self.items if planned.visible_at > self.ended)


class PostLaunchOutcome(NamedTuple):
    """One planned post-launch action execution and how it ends (ground truth)."""

    account_id: str
    job_id: str
    source_server_id: str
    execution_id: str
    action_name: str
    final_status: str  # SUCCESS or FAILED
    must_succeed: bool
    statuses_reached: tuple[str, ...]  # in order: ("IN_PROGRESS", final_status)


class ServerOutcome(NamedTuple):
    """A job's participating server as it ends."""

    account_id: str
    job_id: str
    source_server_id: str
    launch_status: str  # LAUNCHED or FAILED
    launched_instance_id: str | None  # only when LAUNCHED


@dataclass(frozen=True)
class Programme:
    caller_account: str
    accounts: tuple[PlannedAccount, ...]
    jobs: tuple[PlannedJob, ...]
    timeline: Timeline
    inventory: Inventory = field(default_factory=Inventory)

    @property
    def item_count(self) -> int:
        return sum(len(job.items) for job in self.jobs)

    @property
    def exported_accounts(self) -> list[str]:
        """The accounts whose items an exporter can read (MGN initialized)."""
        return [account.account_id for account in self.accounts if account.initialized]

    @property
    def action_count(self) -> int:
        """Post-launch action executions planned, over all jobs."""
        return sum(len(launch.executions) for job in self.jobs for launch in job.launches)

    def items(self) -> Iterator[tuple[PlannedJob, int, PlannedItem]]:
        """Every item with its job and position in the job's log."""
        for job in self.jobs:
            for position, planned in enumerate(job.items):
                yield job, position, planned

    def post_launch_actions(self) -> list[PostLaunchOutcome]:
        """Every planned post-launch action execution with its final status, in programme
        order (job, server, execution)."""
        return [
            PostLaunchOutcome(
                job.account_id,
                job.job_id,
                launch.source_server_id,
                execution.execution_id,
                execution.action_name,
                execution.final_status,
                execution.must_succeed,
                execution.statuses,
            )
            for job in self.jobs
            for launch in job.launches
            for execution in launch.executions
        ]

    def server_outcomes(self) -> list[ServerOutcome]:
        """Every job's participating servers with their final launch status and launched
        instance, in programme order."""
        outcomes: list[ServerOutcome] = []
        for job in self.jobs:
            instances = {launch.source_server_id: launch.instance_id for launch in job.launches}
            for server in job.source_server_ids:
                outcomes.append(
                    ServerOutcome(
                        job.account_id,
                        job.job_id,
                        server,
                        job.launch_statuses[server],
                        instances.get(server),
                    )
                )
        return outcomes


@dataclass
class _Step:
    offset: float  # seconds after the job's start
    order: int  # ties in time keep the servers' order
    event: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Slot:
    wave: int
    account_id: str
    initiated_by: str
    servers: tuple[str, ...]


def generate_programme(
    spec: ProgrammeSpec, timeline: Timeline, *, caller_account: str
) -> Programme:
    rng = random.Random(spec.seed)
    accounts = _accounts(rng, spec, caller_account)
    slots = _slots(rng, spec, [a.account_id for a in accounts if a.initialized])
    history_count = round(len(slots) * spec.history_share) if timeline.history_start else 0
    live_slots = slots[history_count:]
    force_conversion = 0 if live_slots and spec.failure_rate > 0 else None
    cutovers = [i for i, s in enumerate(live_slots) if s.initiated_by == "START_CUTOVER"]
    force_launch = rng.choice(cutovers) if cutovers and spec.failure_rate > 0 else None

    jobs: list[PlannedJob] = []
    scales: list[float] = []
    for index, slot in enumerate(slots):
        live_index = index - history_count
        steps, statuses = _job_steps(
            rng,
            slot.servers,
            spec.failure_rate,
            force_conversion_fail=live_index == force_conversion,
            force_launch_fail=live_index == force_launch,
        )
        if live_index < 0:
            start, scale = _history_start(rng, timeline, index, history_count), 1.0
        else:
            start, scale = _live_start(rng, timeline, live_index, len(live_slots), steps)
        jobs.append(_planned_job(rng, slot, steps, statuses, start, scale, live_index >= 0))
        scales.append(scale)
    # Each from a random stream of its own: the jobs and items above do not change.
    jobs = _with_post_launch(spec, timeline, jobs, scales)
    jobs = _with_late_items(spec, timeline, jobs)
    inventory = plan_inventory(spec.seed, _server_groups(jobs), _inventory_start(timeline))
    return Programme(
        caller_account, tuple(accounts), tuple(jobs), timeline, _mid_run_rename(inventory, jobs)
    )


def _bound(timeline: Timeline, job: PlannedJob) -> datetime:
    """What happens after a job's end ends before this: the end of the live window for a live
    job, its start for a history job (so a programme is over when its window is)."""
    return as_utc(timeline.live_end if job.live else timeline.live_start)


def _with_post_launch(
    spec: ProgrammeSpec, timeline: Timeline, jobs: list[PlannedJob], scales: list[float]
) -> list[PlannedJob]:
    outlines = [
        JobOutline(
            account_id=job.account_id,
            servers=_launched_servers(job),
            ended=job.ended,
            bound=_bound(timeline, job),
            scale=scale,
            live_cutover=job.live and job.initiated_by == "START_CUTOVER",
        )
        for job, scale in zip(jobs, scales, strict=True)
    ]
    launches = plan_post_launch(spec.seed, spec.failure_rate, outlines)
    return [replace(job, launches=planned) for job, planned in zip(jobs, launches, strict=True)]


def _launched_servers(job: PlannedJob) -> tuple[LaunchedServer, ...]:
    """The job's LAUNCHED servers with the instance of their LAUNCH_START item."""
    starts = {
        planned.item["eventData"]["sourceServerID"]: planned
        for planned in job.items
        if planned.item["event"] == "LAUNCH_START"
    }
    return tuple(
        LaunchedServer(
            server, starts[server].item["eventData"]["targetInstanceID"], starts[server].at
        )
        for server in job.source_server_ids
        if job.launch_statuses[server] == "LAUNCHED"
    )


def late_items_random(seed: int) -> random.Random:
    return random.Random(f"mgn-emulator-late-items:{seed}")


def _with_late_items(
    spec: ProgrammeSpec, timeline: Timeline, jobs: list[PlannedJob]
) -> list[PlannedJob]:
    """``late_item_share`` of the jobs (at least one when above 0) show COMPLETED at their
    JOB_END's time and their last 1-2 items 20-90 s later (less when the job ends closer than
    that to its bound)."""
    if spec.late_item_share <= 0 or not jobs:
        return jobs
    rng = late_items_random(spec.seed)
    count = max(1, round(len(jobs) * spec.late_item_share))
    late = list(jobs)
    for index in sorted(rng.sample(range(len(jobs)), count)):
        job = jobs[index]
        last = rng.choice(LATE_ITEMS)
        delay = rng.uniform(*LATE_ITEM_SECONDS)
        gap = (_bound(timeline, job) - job.ended).total_seconds()
        room = max(0.0, gap - min(1.0, gap / 2))
        shown = job.ended + timedelta(seconds=round(min(delay, room), 3))
        items = job.items[:-last] + tuple(replace(p, shown=shown) for p in job.items[-last:])
        late[index] = replace(job, items=items)
    return late


def _server_groups(jobs: list[PlannedJob]) -> list[ServerGroup]:
    """Each wave's servers per account, in programme order; from the jobs rather than the
    slots, so that a server no job names (past the last job) has no record."""
    groups: dict[tuple[int, str], ServerGroup] = {}
    for job in jobs:
        key = (job.wave, job.account_id)
        groups.setdefault(key, ServerGroup(job.wave, job.account_id, job.source_server_ids))
    return list(groups.values())


def _inventory_start(timeline: Timeline) -> datetime:
    return as_utc(timeline.history_start or timeline.live_start) - INVENTORY_LEAD


def _mid_run_rename(inventory: Inventory, jobs: list[PlannedJob]) -> Inventory:
    # Halfway through a running job: an exporter sees the wave under both names.
    live = next((job for job in jobs if job.live), None)
    if live is None:
        return inventory
    return renamed(inventory, live.wave, live.created + (live.ended - live.created) / 2)


def _accounts(rng: random.Random, spec: ProgrammeSpec, caller: str) -> list[PlannedAccount]:
    members: list[str] = []
    while len(members) < spec.accounts - 1:
        candidate = str(rng.randint(100_000_000_000, 999_999_999_999))
        if candidate != caller and candidate not in members:
            members.append(candidate)
    uninitialized = min(spec.uninitialized, len(members))
    planned = [PlannedAccount(caller, initialized=True, managed=False)]
    for index, account_id in enumerate(members):
        initialized = index < len(members) - uninitialized
        planned.append(PlannedAccount(account_id, initialized=initialized, managed=True))
    return planned


def _slots(rng: random.Random, spec: ProgrammeSpec, accounts: list[str]) -> list[_Slot]:
    slots: list[_Slot] = []
    wave = 0
    while len(slots) < spec.jobs:
        wave += 1
        members = sorted(rng.sample(accounts, rng.randint(1, len(accounts))), key=accounts.index)
        servers = {
            account: tuple(
                _source_server_id(rng)
                for _ in range(rng.choices(range(1, 6), SERVER_COUNT_WEIGHTS)[0])
            )
            for account in members
        }
        for initiated_by in ("START_TEST", "START_CUTOVER"):
            slots.extend(_Slot(wave, a, initiated_by, servers[a]) for a in members)
    return slots[: spec.jobs]


def _history_start(rng: random.Random, timeline: Timeline, index: int, count: int) -> datetime:
    assert timeline.history_start is not None
    end = timeline.live_start - HISTORY_GAP - timedelta(hours=1)
    span = max(0.0, (end - timeline.history_start).total_seconds())
    return timeline.history_start + timedelta(seconds=span * (index + rng.random() * 0.5) / count)


def _live_start(
    rng: random.Random, timeline: Timeline, index: int, count: int, steps: list[_Step]
) -> tuple[datetime, float]:
    window = (timeline.live_end - timeline.live_start).total_seconds()
    duration = max(step.offset for step in steps)
    scale = min(1.0, LIVE_JOB_SHARE * window / duration) if duration > 0 else 1.0
    room = max(0.0, window - duration * scale - 1.0)
    fraction = (index + rng.random()) / count
    return timeline.live_start + timedelta(seconds=1.0 + room * fraction), scale


def _planned_job(
    rng: random.Random,
    slot: _Slot,
    steps: list[_Step],
    statuses: dict[str, str],
    start: datetime,
    scale: float,
    live: bool,
) -> PlannedJob:
    start = as_utc(start).replace(microsecond=rng.randrange(1000) * 1000)
    items: list[PlannedItem] = []
    for step in sorted(steps, key=lambda s: (s.offset, s.order)):
        at = start + timedelta(seconds=round(step.offset * scale, 3))
        data = step.data
        items.append(
            PlannedItem(
                at,
                make_item(
                    step.event,
                    at,
                    data.get("sourceServerID"),
                    conversion_server_id=data.get("conversionServerID"),
                    target_instance_id=data.get("targetInstanceID"),
                    raw_error=data.get("rawError"),
                    attempt_count=data.get("attemptCount"),
                    max_attempts_count=data.get("maxAttemptsCount"),
                ),
            )
        )
    return PlannedJob(
        account_id=slot.account_id,
        job_id="mgnjob-" + "".join(rng.choices(string.ascii_letters + string.digits, k=17)),
        initiated_by=slot.initiated_by,
        wave=slot.wave,
        live=live,
        created=start,
        ended=items[-1].at,
        source_server_ids=slot.servers,
        launch_statuses=statuses,
        items=tuple(items),
    )


def _job_steps(
    rng: random.Random,
    servers: tuple[str, ...],
    failure_rate: float,
    *,
    force_conversion_fail: bool,
    force_launch_fail: bool,
) -> tuple[list[_Step], dict[str, str]]:
    steps = [_Step(0.0, 0, "JOB_START")]
    statuses: dict[str, str] = {}
    for order, server in enumerate(servers, start=1):
        server_steps, status = _server_steps(
            rng,
            server,
            order,
            lambda p: rng.random() < min(1.0, p * failure_rate),
            force_conversion_fail=force_conversion_fail and order == 1,
            force_launch_fail=force_launch_fail and order == 1,
        )
        steps.extend(server_steps)
        statuses[server] = status
    last = max(step.offset for step in steps)
    steps.append(_Step(last + rng.uniform(5, 30), len(servers) + 1, "JOB_END"))
    return steps, statuses


def _server_steps(
    rng: random.Random,
    server: str,
    order: int,
    fails: Callable[[float], bool],
    *,
    force_conversion_fail: bool,
    force_launch_fail: bool,
) -> tuple[list[_Step], str]:
    t = rng.uniform(5, 90)
    steps: list[_Step] = []

    def log(event: str, **data: Any) -> None:
        steps.append(_Step(t, order, event, {"sourceServerID": server, **data}))

    if not (force_conversion_fail or force_launch_fail) and fails(P_SKIP):
        log("SERVER_SKIPPED")
        return steps, "FAILED"
    log("SNAPSHOT_START")
    t += rng.uniform(60, 240)
    if fails(P_SNAPSHOT_FAIL):
        log("SNAPSHOT_FAIL", rawError=rng.choice(SNAPSHOT_ERRORS))
        t += rng.uniform(2, 10)
        log("USING_PREVIOUS_SNAPSHOT")
    else:
        log("SNAPSHOT_END")
    converted = False
    conversion_server = ""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        t += rng.uniform(10, 40)
        conversion_server = _instance_id(rng)
        log("CONVERSION_START", conversionServerID=conversion_server)
        t += rng.uniform(180, 480)
        forced = force_conversion_fail and attempt == 1
        if forced or (not force_conversion_fail and fails(P_CONVERSION_FAIL)):
            log(
                "CONVERSION_FAIL",
                conversionServerID=conversion_server,
                rawError=rng.choice(CONVERSION_ERRORS),
                attemptCount=attempt,
                maxAttemptsCount=MAX_ATTEMPTS,
            )
            continue
        log("CONVERSION_END", conversionServerID=conversion_server)
        converted = True
        break
    status = "FAILED"
    if converted:
        t += rng.uniform(10, 30)
        target = _instance_id(rng)
        log("LAUNCH_START", targetInstanceID=target)
        t += rng.uniform(120, 360)
        if force_launch_fail or fails(P_LAUNCH_FAIL):
            log("LAUNCH_FAILED", targetInstanceID=target, rawError=rng.choice(LAUNCH_ERRORS))
        else:
            status = "LAUNCHED"
    t += rng.uniform(10, 30)
    log("CLEANUP_START", conversionServerID=conversion_server)
    t += rng.uniform(30, 120)
    if fails(P_CLEANUP_FAIL):
        log(
            "CLEANUP_FAIL",
            conversionServerID=conversion_server,
            rawError=rng.choice(CLEANUP_ERRORS),
        )
    else:
        log("CLEANUP_END", conversionServerID=conversion_server)
    return steps, status


def _source_server_id(rng: random.Random) -> str:
    return "s-" + "".join(rng.choices("0123456789abcdef", k=17))


def _instance_id(rng: random.Random) -> str:
    return "i-" + "".join(rng.choices("0123456789abcdef", k=17))
