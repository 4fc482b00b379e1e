"""In-memory MGN state: accounts, jobs (with their append-only logs) and source servers.

The store checks the inputs of the test-facing API (job ids, enums) so that mistakes in
test set-up fail loudly, but stores log items verbatim, however malformed.
Callers hold ``store.lock`` around reads that must be consistent.
"""

from __future__ import annotations

import copy
import re
import secrets
import string
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from local.mgn_emulator.model import service_model

_ALNUM = string.ascii_letters + string.digits


def _enum(shape_name: str) -> frozenset[str]:
    return frozenset(service_model().shape_for(shape_name).metadata["enum"])


def _pattern(shape_name: str) -> re.Pattern[str]:
    return re.compile(service_model().shape_for(shape_name).metadata["pattern"])


JOB_TYPES = _enum("JobType")
INITIATED_BY = _enum("InitiatedBy")
JOB_STATUSES = _enum("JobStatus")
LAUNCH_STATUSES = _enum("LaunchStatus")
LIFE_CYCLE_STATES = _enum("LifeCycleState")
REPLICATION_TYPES = _enum("ReplicationType")
_JOB_ID = _pattern("JobID")
_SOURCE_SERVER_ID = _pattern("SourceServerID")
_ACCOUNT_ID = re.compile(r"[0-9]{12}")
_APPLICATION_ID = _pattern("ApplicationID")


def random_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(17))


def _check(kind: str, value: str, allowed: frozenset[str] | re.Pattern[str]) -> str:
    ok = value in allowed if isinstance(allowed, frozenset) else allowed.fullmatch(value)
    if not ok:
        raise ValueError(f"invalid {kind}: {value!r}")
    return value


@dataclass
class Account:
    account_id: str
    initialized: bool
    managed: bool


@dataclass
class Job:
    account_id: str
    job_id: str
    type: str
    initiated_by: str
    status: str
    created: datetime
    source_server_ids: list[str]
    tags: dict[str, str]
    ended: datetime | None = None
    launch_statuses: dict[str, str] = field(default_factory=dict)
    items: list[Any] = field(default_factory=list)


@dataclass
class SourceServer:
    account_id: str
    source_server_id: str
    is_archived: bool
    life_cycle_state: str
    replication_type: str
    tags: dict[str, str]
    application_id: str | None
    seq: int


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.jobs: dict[tuple[str, str], Job] = {}
        self.servers: dict[tuple[str, str], SourceServer] = {}
        self._seq = 0

    # -- accounts ---------------------------------------------------------------------------

    def put_account(self, account_id: str, *, initialized: bool, managed: bool) -> None:
        _check("account id", account_id, _ACCOUNT_ID)
        with self.lock:
            self.accounts[account_id] = Account(account_id, initialized, managed)

    def account(self, account_id: str) -> Account | None:
        with self.lock:
            return self.accounts.get(account_id)

    def _require_account(self, account_id: str) -> None:
        if account_id not in self.accounts:
            raise KeyError(f"account {account_id} is not registered; call add_account first")

    # -- jobs -------------------------------------------------------------------------------

    def add_job(
        self,
        account_id: str,
        *,
        job_id: str | None,
        type: str,
        initiated_by: str,
        status: str,
        created: datetime,
        source_server_ids: list[str],
        tags: dict[str, str],
        now: datetime,
    ) -> str:
        _check("job type", type, JOB_TYPES)
        _check("initiated_by", initiated_by, INITIATED_BY)
        _check("job status", status, JOB_STATUSES)
        for server_id in source_server_ids:
            _check("source server id", server_id, _SOURCE_SERVER_ID)
        with self.lock:
            self._require_account(account_id)
            if job_id is None:
                job_id = random_id("mgnjob-")
                while (account_id, job_id) in self.jobs:  # pragma: no cover - 62**17 ids
                    job_id = random_id("mgnjob-")
            _check("job id", job_id, _JOB_ID)
            if (account_id, job_id) in self.jobs:
                raise ValueError(f"job {job_id} already exists in account {account_id}")
            job = Job(
                account_id=account_id,
                job_id=job_id,
                type=type,
                initiated_by=initiated_by,
                status=status,
                created=created,
                source_server_ids=list(source_server_ids),
                tags=dict(tags),
            )
            if status == "COMPLETED":
                job.ended = max(created, now)
            self.jobs[(account_id, job_id)] = job
            for server_id in source_server_ids:
                if (account_id, server_id) not in self.servers:
                    self.add_source_server(account_id, server_id)
            return job_id

    def job(self, account_id: str, job_id: str) -> Job:
        with self.lock:
            try:
                return self.jobs[(account_id, job_id)]
            except KeyError:
                raise KeyError(f"no job {job_id} in account {account_id}") from None

    def append_items(self, account_id: str, job_id: str, items: list[Any]) -> None:
        copied = copy.deepcopy(list(items))
        with self.lock:
            self.job(account_id, job_id).items.extend(copied)

    def replace_items(self, account_id: str, job_id: str, items: list[Any]) -> None:
        copied = copy.deepcopy(list(items))
        with self.lock:
            self.job(account_id, job_id).items[:] = copied

    def set_job_status(self, account_id: str, job_id: str, status: str, now: datetime) -> None:
        _check("job status", status, JOB_STATUSES)
        with self.lock:
            job = self.job(account_id, job_id)
            job.status = status
            job.ended = now if status == "COMPLETED" else None

    def set_launch_status(
        self, account_id: str, job_id: str, source_server_id: str, launch_status: str | None
    ) -> None:
        with self.lock:
            job = self.job(account_id, job_id)
            if source_server_id not in job.source_server_ids:
                raise KeyError(f"{source_server_id} does not take part in job {job_id}")
            if launch_status is None:
                job.launch_statuses.pop(source_server_id, None)
            else:
                job.launch_statuses[source_server_id] = _check(
                    "launch status", launch_status, LAUNCH_STATUSES
                )

    # -- source servers ---------------------------------------------------------------------

    def add_source_server(
        self,
        account_id: str,
        source_server_id: str | None = None,
        *,
        is_archived: bool = False,
        life_cycle_state: str = "READY_FOR_TEST",
        replication_type: str = "AGENT_BASED",
        tags: dict[str, str] | None = None,
        application_id: str | None = None,
    ) -> str:
        _check("life cycle state", life_cycle_state, LIFE_CYCLE_STATES)
        _check("replication type", replication_type, REPLICATION_TYPES)
        if application_id is not None:
            _check("application id", application_id, _APPLICATION_ID)
        with self.lock:
            self._require_account(account_id)
            if source_server_id is None:
                source_server_id = random_id("s-")
            _check("source server id", source_server_id, _SOURCE_SERVER_ID)
            if (account_id, source_server_id) in self.servers:
                raise ValueError(f"source server {source_server_id} already exists")
            self._seq += 1
            self.servers[(account_id, source_server_id)] = SourceServer(
                account_id=account_id,
                source_server_id=source_server_id,
                is_archived=is_archived,
                life_cycle_state=life_cycle_state,
                replication_type=replication_type,
                tags=dict(tags or {}),
                application_id=application_id,
                seq=self._seq,
            )
            return source_server_id
