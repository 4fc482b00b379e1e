"""Post-launch actions of a programme's launched servers, as DescribeJobs reports them.

MGN installs the SSM agent on each instance a launch job launched, then runs the server's
post-launch actions (SSM Automation or Command documents, in their order) on it, and reports
them per participating server: ``launchedEc2InstanceID`` and ``postLaunchActionsStatus``
(``ssmAgentDiscoveryDatetime`` and one ``JobPostLaunchActionsLaunchStatus`` per execution,
``IN_PROGRESS`` then ``SUCCESS`` or ``FAILED`` with a ``failureReason``). They run past the
job's end: the job shows ``COMPLETED`` while its actions are still running.

How a programme's look (pure data from a seed, drawn from a random stream of its own,
``post_launch_random``, so that the jobs, ids and items a seed gives are unchanged):

* Each source server has 2-4 actions of ``CATALOGUE`` (its launch configuration: the same in
  its test and its cutover job), run in catalogue order. The catalogue is modelled on MGN's
  predefined actions (the AWS-owned ``AWSMigration-*`` documents and the CloudWatch agent's
  ``AWSEC2-*`` one) plus one custom Command document of the customer's, ``Join-ADDomain``.
  The names are real; the document types, timeouts, parameters and durations are made up.
* For each ``LAUNCHED`` server of a job: its instance is the ``targetInstanceID`` of its
  ``LAUNCH_START`` item (reported from that item's time on); its SSM agent is discovered
  20-120 s after the job's end; the first action starts 5-30 s later, each next one 2-10 s
  after the previous ended. A failed server has none of this.
* An execution fails at ``P_ACTION_FAIL`` x ``failure_rate``, with a reason in SSM's style
  (made up, not copied: "Step fails when it is ...", "Command ... exited with code 1 ...");
  one that timed out ends at its ``timeoutSeconds``. When ``failure_rate`` > 0 and a live
  cutover job launched a server, one such job has a failed action with
  ``mustSucceedForCutover`` true (on a test job the flag is shown but means nothing).
* Times after the job's end are compressed like the live job's own (its scale), and further
  so that everything ends before the bound given (the live window's end, or its start for a
  history job): a programme is over by the end of its live window, as before.

Execution ids are UUIDs, as SSM's automation execution and command ids are.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

# Chance that an execution fails, at failure_rate 1.0.
P_ACTION_FAIL = 0.08
ACTIONS_PER_SERVER = (2, 4)
SSM_DISCOVERY_SECONDS = (20.0, 120.0)  # after the job's end
FIRST_ACTION_SECONDS = (5.0, 30.0)  # after the discovery
NEXT_ACTION_SECONDS = (2.0, 10.0)  # after the previous action ended


@dataclass(frozen=True)
class Failure:
    """A failure reason: ``{execution}``, ``{instance}`` and ``{timeout}`` are filled in."""

    reason: str
    timed_out: bool = False


@dataclass(frozen=True)
class CatalogueAction:
    name: str
    document: str
    document_type: str  # AUTOMATION or COMMAND
    timeout_seconds: int
    must_succeed: bool
    seconds: tuple[float, float]  # how long a run that does not time out takes
    failures: tuple[Failure, ...]
    # SSM Parameter Store references, as MGN stores an action's parameters.
    parameters: dict[str, list[dict[str, str]]] | None = None


def _store(name: str, kind: str = "STRING") -> list[dict[str, str]]:
    return [{"parameterType": kind, "parameterName": name}]


CATALOGUE = (
    CatalogueAction(
        "Install CloudWatch agent",
        "AWSEC2-ApplicationInsightsCloudwatchAgentInstallAndConfigure",
        "AUTOMATION",
        900,
        False,
        (90.0, 300.0),
        (
            Failure(
                "Step fails when it is Executing. Fail type: Step timed out. The agent package "
                "was still downloading on {instance} when the {timeout} s limit was reached.",
                timed_out=True,
            ),
            Failure(
                "Step fails when it is ConfigureAgent. Fail type: Exception. Message: "
                "amazon-cloudwatch-agent-ctl exited with status 1: no agent configuration "
                "found in Parameter Store."
            ),
        ),
    ),
    CatalogueAction(
        "Disk space validation",
        "AWSMigration-ValidateDiskSpace",
        "AUTOMATION",
        300,
        True,
        (20.0, 90.0),
        (
            Failure(
                "Step fails when it is ValidateFreeSpace. Fail type: Exception. Message: "
                "volume /var on {instance} has 4% free space, below the required 10%."
            ),
            Failure(
                "Step fails when it is Executing. Fail type: Step timed out after {timeout} s "
                "waiting for the SSM agent on {instance} to report its volumes.",
                timed_out=True,
            ),
        ),
    ),
    CatalogueAction(
        "HTTP(S) response validation",
        "AWSMigration-ValidateHttpResponse",
        "AUTOMATION",
        300,
        True,
        (20.0, 120.0),
        (
            Failure(
                "Step fails when it is CheckResponse. Fail type: Exception. Message: "
                "https://localhost:8443/health answered HTTP 503, expected 200."
            ),
            Failure(
                "Step fails when it is CheckResponse. Fail type: Exception. Message: the "
                "connection to http://localhost:8080/ on {instance} was refused."
            ),
        ),
        parameters={"url": _store("mgn-pla-http-check-url")},
    ),
    CatalogueAction(
        "Time sync",
        "AWSMigration-LinuxTimeSyncSetting",
        "AUTOMATION",
        300,
        False,
        (30.0, 120.0),
        (
            Failure(
                "Step fails when it is ConfigureChrony. Fail type: Exception. Message: chronyd "
                "on {instance} could not reach 169.254.169.123 within 60 seconds."
            ),
        ),
    ),
    CatalogueAction(
        "Volume integrity validation",
        "AWSMigration-VerifyMountedVolumes",
        "COMMAND",
        300,
        False,
        (20.0, 90.0),
        (
            Failure(
                "Command {execution} exited with code 1 on {instance}: /data is listed in "
                "/etc/fstab but is not mounted."
            ),
            Failure(
                "Command {execution} timed out on {instance} after {timeout} seconds.",
                timed_out=True,
            ),
        ),
    ),
    CatalogueAction(
        "Join AD domain",
        "Join-ADDomain",
        "COMMAND",
        600,
        True,
        (60.0, 240.0),
        (
            Failure(
                "Command {execution} exited with code 1 on {instance}: Add-Computer: the "
                "domain corp.example.com could not be contacted."
            ),
            Failure(
                "Command {execution} exited with code 1 on {instance}: Add-Computer: access "
                "is denied for the account used to join the domain."
            ),
        ),
        parameters={
            "domainName": _store("corp-ad-domain-name"),
            "joinPassword": _store("corp-ad-join-password", "SECURE_STRING"),
        },
    ),
)


@dataclass(frozen=True)
class PlannedExecution:
    """One action's execution: ``IN_PROGRESS`` from ``started``, ``final_status`` from
    ``ended`` (with ``failure_reason`` when FAILED)."""

    execution_id: str
    action_name: str
    document_name: str
    document_type: str
    must_succeed: bool
    timeout_seconds: int
    started: datetime
    ended: datetime
    final_status: str
    failure_reason: str | None = None
    parameters: dict[str, list[dict[str, str]]] | None = None

    @property
    def statuses(self) -> tuple[str, ...]:
        """The statuses it shows, in order."""
        return ("IN_PROGRESS", self.final_status)

    def changes(self) -> tuple[tuple[datetime, str], ...]:
        """(moment, status) of each status it shows."""
        return ((self.started, "IN_PROGRESS"), (self.ended, self.final_status))


@dataclass(frozen=True)
class PlannedLaunch:
    """A launched server of a job: its instance (from ``launched`` on), the SSM agent's
    discovery and its post-launch action executions."""

    source_server_id: str
    instance_id: str
    launched: datetime
    ssm_discovered: datetime
    executions: tuple[PlannedExecution, ...]


@dataclass(frozen=True)
class LaunchedServer:
    source_server_id: str
    instance_id: str  # its LAUNCH_START item's targetInstanceID
    launched: datetime  # that item's time


@dataclass(frozen=True)
class JobOutline:
    """What planning a job's post-launch actions needs of it."""

    account_id: str
    servers: tuple[LaunchedServer, ...]  # its LAUNCHED servers, in the job's order
    ended: datetime
    bound: datetime  # everything of the job ends before this
    scale: float  # how much its time was compressed
    live_cutover: bool


def post_launch_random(seed: int) -> random.Random:
    """The stream post-launch actions are drawn from, apart from the programme's own."""
    return random.Random(f"mgn-emulator-post-launch:{seed}")


def plan_post_launch(
    seed: int, failure_rate: float, outlines: Sequence[JobOutline]
) -> list[tuple[PlannedLaunch, ...]]:
    """Each job's launched servers with their post-launch actions, in the outlines' order."""
    rng = post_launch_random(seed)
    candidates = [
        (index, position)
        for index, outline in enumerate(outlines)
        if outline.live_cutover
        for position in range(len(outline.servers))
    ]
    forced = rng.choice(candidates) if candidates and failure_rate > 0 else None
    forced_key = None
    if forced is not None:
        outline = outlines[forced[0]]
        forced_key = (outline.account_id, outline.servers[forced[1]].source_server_id)
    configured: dict[tuple[str, str], tuple[CatalogueAction, ...]] = {}
    planned: list[tuple[PlannedLaunch, ...]] = []
    for index, outline in enumerate(outlines):
        launches: list[PlannedLaunch] = []
        for position, server in enumerate(outline.servers):
            key = (outline.account_id, server.source_server_id)
            if key not in configured:
                configured[key] = _configure(rng, must_succeed=key == forced_key)
            launches.append(
                _launch(
                    rng,
                    outline,
                    server,
                    configured[key],
                    failure_rate,
                    force_failure=(index, position) == forced,
                )
            )
        planned.append(tuple(launches))
    return planned


def _configure(rng: random.Random, *, must_succeed: bool) -> tuple[CatalogueAction, ...]:
    """A server's actions, in catalogue order; with one that must succeed if asked."""
    chosen = rng.sample(CATALOGUE, rng.randint(*ACTIONS_PER_SERVER))
    if must_succeed and not any(action.must_succeed for action in chosen):
        chosen[-1] = rng.choice([a for a in CATALOGUE if a.must_succeed and a not in chosen])
    return tuple(sorted(chosen, key=CATALOGUE.index))


def _launch(
    rng: random.Random,
    outline: JobOutline,
    server: LaunchedServer,
    actions: tuple[CatalogueAction, ...],
    failure_rate: float,
    *,
    force_failure: bool,
) -> PlannedLaunch:
    # Offsets in seconds after the job's end, before compression.
    discovered = rng.uniform(*SSM_DISCOVERY_SECONDS)
    t = discovered + rng.uniform(*FIRST_ACTION_SECONDS)
    forced = next((a for a in actions if a.must_succeed), None) if force_failure else None
    drawn: list[tuple[CatalogueAction, str, float, float, Failure | None]] = []
    for action in actions:
        fails = rng.random() < min(1.0, P_ACTION_FAIL * failure_rate)
        failure = rng.choice(action.failures)
        execution_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        run = rng.uniform(*action.seconds)
        if action is forced:
            fails = True
        duration = action.timeout_seconds if fails and failure.timed_out else run
        drawn.append((action, execution_id, t, t + duration, failure if fails else None))
        t += duration + rng.uniform(*NEXT_ACTION_SECONDS)
    span = max([discovered, *(end for _, _, _, end, _ in drawn)])
    gap = (outline.bound - outline.ended).total_seconds()
    room = max(0.0, gap - min(1.0, gap / 2))
    factor = min(outline.scale, room / span) if span > 0 else 0.0

    def at(offset: float) -> datetime:
        return outline.ended + timedelta(seconds=round(offset * factor, 3))

    executions = tuple(
        PlannedExecution(
            execution_id=execution_id,
            action_name=action.name,
            document_name=action.document,
            document_type=action.document_type,
            must_succeed=action.must_succeed,
            timeout_seconds=action.timeout_seconds,
            started=at(start),
            ended=at(end),
            final_status="SUCCESS" if failure is None else "FAILED",
            failure_reason=None
            if failure is None
            else failure.reason.format(
                execution=execution_id,
                instance=server.instance_id,
                timeout=action.timeout_seconds,
            ),
            parameters=action.parameters,
        )
        for action, execution_id, start, end, failure in drawn
    )
    return PlannedLaunch(
        source_server_id=server.source_server_id,
        instance_id=server.instance_id,
        launched=server.launched,
        ssm_discovered=at(discovered),
        executions=executions,
    )
