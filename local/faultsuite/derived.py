"""The derived events of a scenario's world, and their ledger.

Besides each job log item, the exporter sends two derived events (``mgn_exporter.
derived_events``): an ``MGN Post-Launch Action`` per post-launch action execution and status
it reached, and an ``MGN Job Outcome`` per completed job once the job is settled. What they
must say is what MGN shows of a job besides its log, in DescribeJobs' participating servers.
The harness sets that in the emulator from a plan of its own (``DerivedWorld``, drawn from a
random stream of its own, so that a seed's items are what they were), and the plan is the
ground truth ``check_derived`` holds both sinks to:

* Launches, set when a job completes: a server that logged a step failure (``*_FAIL``)
  failed its launch, and so does one other server in ``1 / P_LAUNCH_FAILED``; the others
  launched an instance (``launchedEc2InstanceID``), on which the SSM agent was discovered
  and 1-3 post-launch actions of the emulator's catalogue run, each failing at
  ``P_ACTION_FAILED`` with a reason in SSM's style.
* Statuses: an action shows IN_PROGRESS, then SUCCESS or FAILED; most jobs show the final
  statuses at once, the post-launch-actions scenario moves them tick by tick. The harness
  changes a status only once the one shown reached both sinks, and never after its job
  settled: so every status an action showed must reach both sinks.
* Settling: a completed job settles when the harness moves MGN's endDateTime past the
  grace (cloud.COMPLETED_JOB_GRACE_SECONDS) with no action running, or past the wait for
  running actions (cloud.POST_LAUNCH_WAIT_SECONDS, the outcome then says so). The grace is
  longer than any scenario: a job settles when the harness says, never by a machine's speed.

The ledger's rules (``check_derived``):

* required: every status each action of an expected job showed, and the outcome of each
  settled expected job; in both sinks, else lost;
* allowed: those, and any status or outcome of a job the world holds (one not expected
  yet); a delivered derived event outside them was made up (a problem);
* content: every copy says what the world says: a status's job, server, execution, action,
  document, failure reason and instance; an outcome's counts of servers launched and failed,
  of actions succeeded, failed and still running, each server's launch, instance and actions,
  and whether the wait ran out; the DetailType of the bus entry or log line is the Detail's;
  the Detail matches its published schema;
* names: a copy that names a server carries exactly the world's names (or none: derived
  events are not counted in EventsNotEnriched, so the unnamed ones are only counted here);
* duplicates: the copies past the first, per sink, within the bound the scenario gives
  (ledger.tally).
"""

from __future__ import annotations

import functools
import json
import random
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema  # type: ignore[import-untyped]

from local.faultsuite.names import NAME_FIELDS
from local.mgn_emulator.post_launch import CATALOGUE, CatalogueAction
from mgn_exporter.derived_events import (
    JOB_OUTCOME,
    POST_LAUNCH_ACTION,
    derived_id,
    job_outcome_id,
)

if TYPE_CHECKING:
    from local.faultsuite.cloud import DerivedCopy
    from local.faultsuite.names import WorldNames
    from local.mgn_emulator import MgnEmulator

P_LAUNCH_FAILED = 0.2
P_ACTION_FAILED = 0.25
ACTIONS_PER_SERVER = (1, 3)
ENDED = ("SUCCESS", "FAILED")
SCHEMAS = Path(__file__).resolve().parents[2] / "schema"
SCHEMA_FILES = {
    POST_LAUNCH_ACTION: "mgn-post-launch-action.schema.json",
    JOB_OUTCOME: "mgn-job-outcome.schema.json",
}
EXAMPLES = 3


@dataclass
class ActionPlan:
    """One post-launch action execution on a launched server, and the statuses it showed."""

    execution_id: str
    action: CatalogueAction
    final_status: str  # SUCCESS or FAILED
    reason: str  # why it fails, if it does
    shown: list[str] = field(default_factory=list)

    @property
    def failure_reason(self) -> str | None:
        return self.reason if self.final_status == "FAILED" else None

    @property
    def status(self) -> str | None:
        return self.shown[-1] if self.shown else None

    @property
    def running(self) -> bool:
        return self.status == "IN_PROGRESS"


@dataclass
class ServerPlan:
    server_id: str
    launch_status: str | None = None  # set when the job completes: LAUNCHED or FAILED
    instance_id: str | None = None
    actions: list[ActionPlan] = field(default_factory=list)

    def shown_actions(self) -> list[ActionPlan]:
        return [action for action in self.actions if action.shown]


@dataclass
class JobPlan:
    account_id: str
    job_id: str
    servers: list[ServerPlan]
    completed: bool = False
    past_grace: bool = False  # MGN's endDateTime is past the grace
    past_wait: bool = False  # ...and past the wait for running actions

    @property
    def running(self) -> bool:
        return any(action.running for server in self.servers for action in server.actions)

    @property
    def settled(self) -> bool:
        return self.completed and ((self.past_grace and not self.running) or self.past_wait)

    @property
    def waited_out(self) -> bool:
        return self.settled and self.running

    @property
    def outcome_id(self) -> str:
        return job_outcome_id(self.account_id, self.job_id)

    def status_id(self, server: ServerPlan, action: ActionPlan, status: str) -> str:
        return derived_id(
            self.account_id,
            self.job_id,
            POST_LAUNCH_ACTION,
            server.server_id,
            action.execution_id,
            status,
        )

    def event_ids(self) -> dict[str, DerivedKey]:
        """The derived events the job may have sent so far (every status shown; the
        outcome once settled), by eventId."""
        ids: dict[str, DerivedKey] = {}
        for server in self.servers:
            for action in server.actions:
                for status in action.shown:
                    key = DerivedKey(self.account_id, self.job_id, POST_LAUNCH_ACTION, status)
                    ids[self.status_id(server, action, status)] = key
        if self.settled:
            ids[self.outcome_id] = DerivedKey(self.account_id, self.job_id, JOB_OUTCOME)
        return ids


@dataclass(frozen=True)
class DerivedKey:
    """What a derived eventId stands for."""

    account_id: str
    job_id: str
    detail_type: str
    status: str | None = None  # a post-launch action's


class DerivedWorld:
    """What MGN shows of the world's jobs besides their logs, set in the emulator."""

    def __init__(self, seed: int, emulator: MgnEmulator) -> None:
        self._rng = random.Random(f"faultsuite-derived:{seed}")
        self._emulator = emulator
        self.jobs: dict[tuple[str, str], JobPlan] = {}

    def add_job(self, account_id: str, job_id: str, servers: Iterable[str]) -> None:
        """A new job and the servers taking part in it (MGN's participatingServers)."""
        plan = JobPlan(account_id, job_id, [ServerPlan(server) for server in servers])
        self.jobs[(account_id, job_id)] = plan

    def job(self, account_id: str, job_id: str) -> JobPlan:
        return self.jobs[(account_id, job_id)]

    def launch(
        self,
        account_id: str,
        job_id: str,
        log: list[dict[str, Any]],
        *,
        actions: str = "final",
        fail_one: bool = False,
    ) -> None:
        """The job launched its servers: each failed or launched (see the module's docstring),
        with its post-launch actions shown at their final status (`actions="final"`), or the
        first one running and the others to come (`"planned"`: moved on by `advance`). With
        `fail_one`, at least one action fails (one that must succeed for cutover if any)."""
        plan = self.job(account_id, job_id)
        failed_steps = {
            str(item["eventData"].get("sourceServerID"))
            for item in log
            if isinstance(item, dict)
            and str(item.get("event", "")).endswith("_FAIL")
            and isinstance(item.get("eventData"), dict)
        }
        launching = [server for server in plan.servers if server.launch_status is None]
        for server in launching:
            drawn_failure = self._rng.random() < P_LAUNCH_FAILED
            failed = server.server_id in failed_steps or drawn_failure
            server.launch_status = "FAILED" if failed else "LAUNCHED"
            if not failed:
                server.instance_id = "i-" + "".join(self._rng.choices("0123456789abcdef", k=17))
                server.actions = self._plan_actions(server.instance_id)
        planned = [action for server in launching for action in server.actions]
        if fail_one and planned and not any(a.final_status == "FAILED" for a in planned):
            chosen = next((a for a in planned if a.action.must_succeed), planned[0])
            chosen.final_status = "FAILED"
        for server in launching:
            self._emulator.set_launch_status(
                account_id, job_id, server.server_id, server.launch_status
            )
            if server.instance_id is None:
                continue
            self._emulator.set_launched_instance(
                account_id, job_id, server.server_id, server.instance_id
            )
            self._emulator.set_ssm_agent_discovered(account_id, job_id, server.server_id)
            if actions == "final":
                for action in server.actions:
                    self._show(plan, server, action, action.final_status)
            elif server.actions:
                self._show(plan, server, server.actions[0], "IN_PROGRESS")

    def _plan_actions(self, instance_id: str) -> list[ActionPlan]:
        """1-3 actions of the catalogue, in its order, each failing at P_ACTION_FAILED."""
        chosen = self._rng.sample(CATALOGUE, self._rng.randint(*ACTIONS_PER_SERVER))
        planned = []
        for action in sorted(chosen, key=CATALOGUE.index):
            failure = self._rng.choice(action.failures)
            execution_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            fails = self._rng.random() < P_ACTION_FAILED
            reason = failure.reason.format(
                execution=execution_id, instance=instance_id, timeout=action.timeout_seconds
            )
            planned.append(
                ActionPlan(execution_id, action, "FAILED" if fails else "SUCCESS", reason)
            )
        return planned

    def advance(self, account_id: str, job_id: str) -> int:
        """One step of every launched server's actions, which run one after the other: the
        next one not started shows IN_PROGRESS, then the one running shows its final status
        (in that order: MGN never shows a server with nothing more to run in between).
        Returns the statuses changed."""
        plan = self.job(account_id, job_id)
        finishing: list[tuple[ServerPlan, ActionPlan]] = []
        changed = 0
        for server in plan.servers:
            running = [action for action in server.actions if action.running]
            waiting = [action for action in server.actions if not action.shown]
            if waiting:
                self._show(plan, server, waiting[0], "IN_PROGRESS")
                changed += 1
            finishing.extend((server, action) for action in running)
        for server, action in finishing:
            self._show(plan, server, action, action.final_status)
            changed += 1
        return changed

    def _show(self, plan: JobPlan, server: ServerPlan, action: ActionPlan, status: str) -> None:
        if plan.settled:
            raise RuntimeError(f"job {plan.job_id} is settled: its actions show nothing new")
        catalogue = action.action
        self._emulator.set_post_launch_action(
            plan.account_id,
            plan.job_id,
            server.server_id,
            execution_id=action.execution_id,
            action_name=catalogue.name,
            document_name=catalogue.document,
            status=status,
            document_type=catalogue.document_type,
            must_succeed=catalogue.must_succeed,
            timeout_seconds=catalogue.timeout_seconds,
            failure_reason=action.failure_reason if status == "FAILED" else None,
            parameters=catalogue.parameters,
        )
        action.shown.append(status)

    # -- ground truth ----------------------------------------------------------------------

    def required(self, jobs: Mapping[str, list[str]]) -> dict[str, DerivedKey]:
        """The derived events of these jobs ({account: [job ids]}) that must be in both sinks."""
        required: dict[str, DerivedKey] = {}
        for account_id, job_ids in jobs.items():
            for job_id in job_ids:
                plan = self.jobs.get((account_id, job_id))
                if plan is not None:
                    required.update(plan.event_ids())
        return required

    def allowed(self) -> dict[str, DerivedKey]:
        """Every derived event any job of the world may have sent so far."""
        allowed: dict[str, DerivedKey] = {}
        for plan in self.jobs.values():
            allowed.update(plan.event_ids())
        return allowed

    def most_per_account(self) -> int:
        """The most derived events one account's jobs may send (one export of the account
        may deliver all of them before its state is saved)."""
        counts: Counter[str] = Counter()
        for plan in self.jobs.values():
            counts[plan.account_id] += len(plan.event_ids())
        return max(counts.values(), default=0)


# -- the ledger ------------------------------------------------------------------------------


@dataclass
class DerivedTally:
    """What the sinks show of the derived events."""

    required: int = 0
    delivered: int = 0  # required events in both sinks
    lost: int = 0
    duplicates_bus: int = 0
    duplicates_logs: int = 0
    outcomes: int = 0  # outcomes required
    statuses: int = 0  # action statuses required
    failed_servers: int = 0  # servers of the required outcomes that failed their launch
    unnamed: int = 0  # delivered post-launch action events of a named server without names
    problems: list[str] = field(default_factory=list)


def check_derived(
    world: DerivedWorld,
    jobs: Mapping[str, list[str]],
    copies: Iterable[DerivedCopy],
    names: WorldNames | None = None,
) -> DerivedTally:
    """Every derived event the sinks delivered against the world (see the module's rules)."""
    copies = list(copies)
    required = world.required(jobs)
    allowed = world.allowed()
    bus = Counter(copy.event_id for copy in copies if copy.sink == "eventbridge")
    logs = Counter(copy.event_id for copy in copies if copy.sink == "logs")
    tally = DerivedTally(required=len(required))
    tally.delivered = sum(1 for event_id in required if bus[event_id] and logs[event_id])
    tally.lost = tally.required - tally.delivered
    tally.duplicates_bus = sum(count - 1 for count in bus.values() if count > 1)
    tally.duplicates_logs = sum(count - 1 for count in logs.values() if count > 1)
    tally.outcomes = sum(1 for key in required.values() if key.detail_type == JOB_OUTCOME)
    tally.statuses = tally.required - tally.outcomes
    tally.failed_servers = sum(
        1
        for key in required.values()
        if key.detail_type == JOB_OUTCOME
        for server in world.job(key.account_id, key.job_id).servers
        if server.launch_status == "FAILED"
    )
    problems: dict[str, dict[str, str]] = {}

    def problem(kind: str, event_id: str, text: str) -> None:
        problems.setdefault(kind, {}).setdefault(event_id, text)

    if tally.lost:
        missing = [
            f"{' '.join(filter(None, (key.detail_type, key.status)))} of {key.job_id} "
            f"(EventBridge {bus[event_id]}, logs {logs[event_id]})"
            for event_id, key in required.items()
            if not (bus[event_id] and logs[event_id])
        ]
        problems["lost"] = {str(index): text for index, text in enumerate(missing)}
    validated: set[tuple[str, str]] = set()
    unnamed: set[str] = set()
    for copy in copies:
        key = allowed.get(copy.event_id)
        if key is None:
            problem("unknown", copy.event_id, f"{copy.sink} {copy.detail_type} {copy.event_id}")
            continue
        detail = copy.detail
        if detail.get("detailType") != copy.detail_type or copy.detail_type != key.detail_type:
            problem(
                "type",
                copy.event_id,
                f"{copy.sink}: entry {copy.detail_type!r}, Detail "
                f"{detail.get('detailType')!r}, expected {key.detail_type!r}",
            )
            continue
        if (copy.sink, copy.event_id) not in validated:
            validated.add((copy.sink, copy.event_id))
            error = jsonschema.exceptions.best_match(
                _validator(copy.detail_type).iter_errors(detail)
            )
            if error is not None:
                problem("schema", copy.event_id, f"{copy.detail_type}: {error.message}")
        plan = world.job(key.account_id, key.job_id)
        if key.detail_type == JOB_OUTCOME:
            wrong = _outcome_differences(plan, detail)
        else:
            wrong = _status_differences(plan, detail)
        if wrong:
            problem("content", copy.event_id, f"{copy.sink} {key.detail_type}: {wrong}")
        for where, named in _named_servers(detail, key.detail_type):
            expected = names.names(plan.account_id, where) if names is not None else None
            present = {name: named[name] for name in NAME_FIELDS if name in named}
            if not present:
                if expected is not None and key.detail_type == POST_LAUNCH_ACTION:
                    unnamed.add(copy.event_id)
            elif present != expected:
                problem("names", copy.event_id, f"{where}: {present}, the world's {expected}")
    tally.unnamed = len(unnamed)
    messages = {
        "lost": "derived events lost",
        "unknown": "delivered derived events the world did not make",
        "type": "derived events under the wrong DetailType",
        "schema": "derived events break their schema",
        "content": "derived events say what the world does not",
        "names": "derived events carry names that are not the world's",
    }
    for kind, found in problems.items():
        examples = "; ".join(list(found.values())[:EXAMPLES])
        tally.problems.append(f"{len(found)} {messages[kind]}, e.g. {examples}")
    return tally


@functools.cache
def _validator(detail_type: str) -> Any:
    """The published schema's validator (made once: checking the schema costs milliseconds)."""
    schema = json.loads((SCHEMAS / SCHEMA_FILES[detail_type]).read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def _status_differences(plan: JobPlan, detail: Mapping[str, Any]) -> dict[str, Any]:
    """Where a post-launch action event differs from the world: {field: (sent, world's)}."""
    server_id = detail.get("sourceServerID")
    action_detail = detail.get("postLaunchAction") or {}
    server = next((s for s in plan.servers if s.server_id == server_id), None)
    action = next(
        (
            a
            for a in (server.actions if server else [])
            if a.execution_id == action_detail.get("executionID")
        ),
        None,
    )
    if server is None or action is None:
        return {"execution": (server_id, action_detail.get("executionID"))}
    status = detail.get("status")
    catalogue = action.action
    want_top = {
        "accountID": plan.account_id,
        "jobID": plan.job_id,
        "status": status if status in action.shown else f"one of {action.shown}",
        "severity": "ERROR" if status == "FAILED" else "INFO",
        "launchedEc2InstanceID": server.instance_id,
    }
    want_action = {
        "actionName": catalogue.name,
        "ssmDocumentName": catalogue.document,
        "ssmDocumentType": catalogue.document_type,
        "mustSucceedForCutover": catalogue.must_succeed,
        "timeoutSeconds": catalogue.timeout_seconds,
        "failureReason": action.failure_reason if status == "FAILED" else None,
    }
    wrong = {
        name: (detail.get(name), value)
        for name, value in want_top.items()
        if detail.get(name) != value
    }
    wrong.update(
        (f"postLaunchAction.{name}", (action_detail.get(name), value))
        for name, value in want_action.items()
        if action_detail.get(name) != value
    )
    return wrong


def _outcome_differences(plan: JobPlan, detail: Mapping[str, Any]) -> dict[str, Any]:
    """Where an outcome differs from the world: {field: (sent, world's)}."""
    actions = [a for s in plan.servers for a in s.actions if a.shown]
    failed = [a for a in actions if a.status == "FAILED"]
    want: dict[str, Any] = {
        "accountID": plan.account_id,
        "jobID": plan.job_id,
        "status": "COMPLETED",
        "serversTotal": len(plan.servers),
        "serversLaunched": sum(1 for s in plan.servers if s.launch_status == "LAUNCHED"),
        "serversFailed": sum(1 for s in plan.servers if s.launch_status == "FAILED"),
        "postLaunchWaitExpired": plan.waited_out,
        "postLaunchActions": {
            "total": len(actions),
            "succeeded": sum(1 for a in actions if a.status == "SUCCESS"),
            "failed": len(failed),
            "mustSucceedFailed": sum(1 for a in failed if a.action.must_succeed),
            "stillRunning": sum(1 for a in actions if a.running),
        },
        "participatingServers": [
            {
                "sourceServerID": s.server_id,
                "launchStatus": s.launch_status,
                "launchedEc2InstanceID": s.instance_id,
                "postLaunchActions": [
                    (a.execution_id, a.status, a.failure_reason if a.status == "FAILED" else None)
                    for a in s.shown_actions()
                ],
            }
            for s in plan.servers
        ],
    }
    sent: dict[str, Any] = {name: detail.get(name) for name in want}
    sent["participatingServers"] = [
        {
            "sourceServerID": s.get("sourceServerID"),
            "launchStatus": s.get("launchStatus"),
            "launchedEc2InstanceID": s.get("launchedEc2InstanceID"),
            "postLaunchActions": [
                (a.get("executionID"), a.get("status"), a.get("failureReason"))
                for a in s.get("postLaunchActions", [])
            ],
        }
        for s in detail.get("participatingServers") or []
        if isinstance(s, Mapping)
    ]
    return {name: (sent[name], value) for name, value in want.items() if sent[name] != value}


def _named_servers(
    detail: Mapping[str, Any], detail_type: str
) -> list[tuple[str, Mapping[str, Any]]]:
    """(server id, the object that carries its names) for each server the event names."""
    if detail_type == POST_LAUNCH_ACTION:
        server = detail.get("sourceServerID")
        return [(server, detail)] if isinstance(server, str) else []
    return [
        (str(s.get("sourceServerID")), s)
        for s in detail.get("participatingServers") or []
        if isinstance(s, Mapping)
    ]
