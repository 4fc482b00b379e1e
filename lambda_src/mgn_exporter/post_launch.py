"""What DescribeJobs says of a job's servers after launch, and when a completed job has nothing
more to say. Pure (no AWS I/O).

MGN's job log stops at the launch: whether each server launched, the instance it became, and
the post-launch actions (SSM documents run on the launched instance) are only in DescribeJobs'
`participatingServers`, which the discovery reads anyway. Post-launch actions often run past
the job's COMPLETED status, and MGN may make the last items readable a little after it, so a
completed job is closed only once it is settled (`settled`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mgn_exporter.events import parse_log_datetime

ENDED_STATUSES = frozenset({"SUCCESS", "FAILED"})


@dataclass(frozen=True)
class ActionRun:
    """One post-launch action execution on one server, as one DescribeJobs answer shows it."""

    server_id: str
    execution_id: str
    status: str  # IN_PROGRESS | SUCCESS | FAILED (a value MGN adds later passes through)
    action_name: str | None
    document_name: str | None
    document_type: str | None
    must_succeed: bool | None
    timeout_seconds: int | None
    failure_reason: str | None

    @property
    def ended(self) -> bool:
        return self.status in ENDED_STATUSES


@dataclass(frozen=True)
class ServerLaunch:
    """One participating server: its launch status, instance and post-launch actions."""

    server_id: str
    launch_status: str | None
    instance_id: str | None
    agent_discovered: str | None  # ssmAgentDiscoveryDatetime, MGN's string
    actions: tuple[ActionRun, ...]


def server_launches(job: Mapping[str, Any]) -> list[ServerLaunch]:
    """The job's participating servers in MGN's order; members MGN leaves out are None."""
    launches: list[ServerLaunch] = []
    for server in _list(job.get("participatingServers")):
        server_id = _str(server.get("sourceServerID"))
        if server_id is None:
            continue
        status = server.get("postLaunchActionsStatus")
        status = status if isinstance(status, Mapping) else {}
        launches.append(
            ServerLaunch(
                server_id=server_id,
                launch_status=_str(server.get("launchStatus")),
                instance_id=_str(server.get("launchedEc2InstanceID")),
                agent_discovered=_str(status.get("ssmAgentDiscoveryDatetime")),
                actions=tuple(
                    run
                    for entry in _list(status.get("postLaunchActionsLaunchStatusList"))
                    if (run := _action_run(server_id, entry)) is not None
                ),
            )
        )
    return launches


def _action_run(server_id: str, entry: Mapping[str, Any]) -> ActionRun | None:
    execution_id = _str(entry.get("executionID"))
    status = _str(entry.get("executionStatus"))
    if execution_id is None or status is None:
        return None  # nothing to identify it by, or nothing reached yet
    document = entry.get("ssmDocument")
    document = document if isinstance(document, Mapping) else {}
    must_succeed = document.get("mustSucceedForCutover")
    timeout = document.get("timeoutSeconds")
    return ActionRun(
        server_id=server_id,
        execution_id=execution_id,
        status=status,
        action_name=_str(document.get("actionName")),
        document_name=_str(document.get("ssmDocumentName")),
        document_type=_str(entry.get("ssmDocumentType")),
        must_succeed=must_succeed if isinstance(must_succeed, bool) else None,
        timeout_seconds=timeout
        if isinstance(timeout, int) and not isinstance(timeout, bool)
        else None,
        failure_reason=_str(entry.get("failureReason")),
    )


def participants(job: Mapping[str, Any]) -> set[str]:
    """The servers DescribeJobs lists for the job: the only ones its outcome names."""
    return {launch.server_id for launch in server_launches(job)}


@dataclass(frozen=True)
class SettleRule:
    """How long a completed job stays open: at least `grace` after its end (items MGN makes
    readable late), and while a post-launch action runs, up to `post_launch_wait` after it."""

    grace: timedelta
    post_launch_wait: timedelta


def ended_at(job: Mapping[str, Any], first_seen_completed: datetime | None) -> datetime | None:
    """When the job ended: MGN's endDateTime, else when it was first seen COMPLETED."""
    return parse_log_datetime(job.get("endDateTime")) or first_seen_completed


def settled(
    launches: list[ServerLaunch], ended: datetime, now: datetime, rule: SettleRule
) -> tuple[bool, bool]:
    """(settled, waited_out): whether a completed job has nothing more to come, and whether
    that is only because the wait for its running post-launch actions ran out."""
    if now < ended + rule.grace:
        return False, False
    running = any(not run.ended for launch in launches for run in launch.actions)
    if not running:
        return True, False
    if now < ended + max(rule.grace, rule.post_launch_wait):
        return False, False
    return True, True


def _list(value: object) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        return []
    return [entry for entry in value if isinstance(entry, Mapping)]


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
