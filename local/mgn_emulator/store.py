"""In-memory MGN state: accounts, jobs (with their append-only logs and, per participating
server, its launched instance and post-launch actions), source servers, and the waves and
applications that group the servers.

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
from local.mgn_emulator.validation import summary, validate_value

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
EXECUTION_STATUSES = _enum("PostLaunchActionExecutionStatus")
SSM_DOCUMENT_TYPES = _enum("SsmDocumentType")
_JOB_ID = _pattern("JobID")
_SOURCE_SERVER_ID = _pattern("SourceServerID")
_ACCOUNT_ID = re.compile(r"[0-9]{12}")
_APPLICATION_ID = _pattern("ApplicationID")
_WAVE_ID = _pattern("WaveID")


def random_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(17))


def _check(kind: str, value: str, allowed: frozenset[str] | re.Pattern[str]) -> str:
    ok = value in allowed if isinstance(allowed, frozenset) else allowed.fullmatch(value)
    if not ok:
        raise ValueError(f"invalid {kind}: {value!r}")
    return value


def _check_text(kind: str, value: str, shape_name: str) -> str:
    """``value`` if the model's string shape (length, pattern) allows it: what MGN would
    render must parse, so set-up mistakes fail here rather than in a client."""
    metadata = service_model().shape_for(shape_name).metadata
    pattern = metadata.get("pattern")
    too_short = len(value) < metadata.get("min", 0)
    too_long = "max" in metadata and len(value) > metadata["max"]
    if too_short or too_long or (pattern is not None and not re.fullmatch(pattern, value)):
        raise ValueError(f"invalid {kind}: {value!r}")
    return value


def _check_shape(kind: str, value: Any, shape_name: str) -> Any:
    """``value`` if the model's shape ``shape_name`` (any kind) allows it."""
    problems = validate_value(service_model().shape_for(shape_name), value, kind)
    if problems:
        raise ValueError(f"invalid {kind}: {summary(problems)}")
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
    # DescribeJobs answers that leave the job out still (a listing that misses a job).
    hidden_from_listings: int = 0
    # Per participating server: the EC2 instance it launched, when the SSM agent on it was
    # discovered, and its post-launch action executions (by execution id, insertion order).
    launched_instances: dict[str, str] = field(default_factory=dict)
    ssm_discovered: dict[str, datetime] = field(default_factory=dict)
    post_launch: dict[str, dict[str, PostLaunchExecution]] = field(default_factory=dict)

    def require_server(self, source_server_id: str) -> None:
        if source_server_id not in self.source_server_ids:
            raise KeyError(f"{source_server_id} does not take part in job {self.job_id}")


@dataclass
class PostLaunchExecution:
    """One post-launch action's SSM execution on a launched server (what MGN reports as a
    JobPostLaunchActionsLaunchStatus)."""

    execution_id: str
    action_name: str
    document_name: str
    document_type: str
    status: str
    must_succeed: bool
    timeout_seconds: int
    failure_reason: str | None = None
    parameters: dict[str, list[dict[str, str]]] | None = None
    external_parameters: dict[str, dict[str, str]] | None = None


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
    hostname: str | None = None
    fqdn: str | None = None


@dataclass
class Wave:
    account_id: str
    wave_id: str
    name: str
    description: str
    is_archived: bool
    tags: dict[str, str]
    created: datetime
    modified: datetime
    seq: int


@dataclass
class Application:
    account_id: str
    application_id: str
    name: str
    description: str
    is_archived: bool
    tags: dict[str, str]
    created: datetime
    modified: datetime
    seq: int
    wave_id: str | None = None


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.jobs: dict[tuple[str, str], Job] = {}
        self.servers: dict[tuple[str, str], SourceServer] = {}
        self.waves: dict[tuple[str, str], Wave] = {}
        self.applications: dict[tuple[str, str], Application] = {}
        self._seq = 0

    def _next_seq(self) -> int:
        # One counter for every listed kind: insertion order is the page order.
        self._seq += 1
        return self._seq

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

    def delete_job(self, account_id: str, job_id: str) -> None:
        """As DeleteJob: the job and its log are gone."""
        with self.lock:
            self.job(account_id, job_id)
            del self.jobs[(account_id, job_id)]

    def hide_job(self, account_id: str, job_id: str, answers: int) -> None:
        """Leave the job out of the next `answers` DescribeJobs answers that would list it."""
        with self.lock:
            self.job(account_id, job_id).hidden_from_listings = answers

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
            job.require_server(source_server_id)
            if launch_status is None:
                job.launch_statuses.pop(source_server_id, None)
            else:
                job.launch_statuses[source_server_id] = _check(
                    "launch status", launch_status, LAUNCH_STATUSES
                )

    def set_launched_instance(
        self, account_id: str, job_id: str, source_server_id: str, instance_id: str | None
    ) -> None:
        if instance_id is not None:
            _check_text("EC2 instance id", instance_id, "EC2InstanceID")
        with self.lock:
            job = self.job(account_id, job_id)
            job.require_server(source_server_id)
            if instance_id is None:
                job.launched_instances.pop(source_server_id, None)
            else:
                job.launched_instances[source_server_id] = instance_id

    def set_ssm_agent_discovered(
        self, account_id: str, job_id: str, source_server_id: str, when: datetime | None
    ) -> None:
        with self.lock:
            job = self.job(account_id, job_id)
            job.require_server(source_server_id)
            if when is None:
                job.ssm_discovered.pop(source_server_id, None)
            else:
                job.ssm_discovered[source_server_id] = when

    def set_post_launch_action(
        self, account_id: str, job_id: str, source_server_id: str, execution: PostLaunchExecution
    ) -> None:
        """Add the execution, or replace the one with its execution id where it stands."""
        _check_execution(execution)
        stored = copy.deepcopy(execution)
        with self.lock:
            job = self.job(account_id, job_id)
            job.require_server(source_server_id)
            job.post_launch.setdefault(source_server_id, {})[execution.execution_id] = stored

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
        hostname: str | None = None,
        fqdn: str | None = None,
        name: str | None = None,
    ) -> str:
        _check("life cycle state", life_cycle_state, LIFE_CYCLE_STATES)
        _check("replication type", replication_type, REPLICATION_TYPES)
        for kind, text in (("hostname", hostname), ("fqdn", fqdn)):
            if text is not None:
                _check_text(kind, text, "BoundedString")
        all_tags = dict(tags or {})
        if name is not None:
            all_tags["Name"] = name
        with self.lock:
            self._require_account(account_id)
            if application_id is not None:
                self.application(account_id, application_id)
            if source_server_id is None:
                source_server_id = random_id("s-")
            _check("source server id", source_server_id, _SOURCE_SERVER_ID)
            if (account_id, source_server_id) in self.servers:
                raise ValueError(f"source server {source_server_id} already exists")
            self.servers[(account_id, source_server_id)] = SourceServer(
                account_id=account_id,
                source_server_id=source_server_id,
                is_archived=is_archived,
                life_cycle_state=life_cycle_state,
                replication_type=replication_type,
                tags=all_tags,
                application_id=application_id,
                seq=self._next_seq(),
                hostname=hostname,
                fqdn=fqdn,
            )
            return source_server_id

    def source_server(self, account_id: str, source_server_id: str) -> SourceServer:
        with self.lock:
            try:
                return self.servers[(account_id, source_server_id)]
            except KeyError:
                message = f"no source server {source_server_id} in account {account_id}"
                raise KeyError(message) from None

    def assign_application(
        self, account_id: str, source_server_id: str, application_id: str | None
    ) -> None:
        """Put the server in the application (None: in none); both in the same account."""
        with self.lock:
            server = self.source_server(account_id, source_server_id)
            if application_id is not None:
                self.application(account_id, application_id)
            server.application_id = application_id

    # -- waves and applications -------------------------------------------------------------

    def add_wave(
        self,
        account_id: str,
        wave_id: str | None,
        *,
        name: str,
        description: str,
        is_archived: bool,
        tags: dict[str, str],
        created: datetime,
    ) -> str:
        _check_text("wave name", name, "WaveName")
        _check_text("wave description", description, "WaveDescription")
        with self.lock:
            self._require_account(account_id)
            wave_id = self._new_id(account_id, wave_id, "wave-", _WAVE_ID, self.waves)
            self.waves[(account_id, wave_id)] = Wave(
                account_id=account_id,
                wave_id=wave_id,
                name=name,
                description=description,
                is_archived=is_archived,
                tags=dict(tags),
                created=created,
                modified=created,
                seq=self._next_seq(),
            )
            return wave_id

    def add_application(
        self,
        account_id: str,
        application_id: str | None,
        *,
        name: str,
        description: str,
        wave_id: str | None,
        is_archived: bool,
        tags: dict[str, str],
        created: datetime,
    ) -> str:
        _check_text("application name", name, "ApplicationName")
        _check_text("application description", description, "ApplicationDescription")
        with self.lock:
            self._require_account(account_id)
            if wave_id is not None:
                self.wave(account_id, wave_id)
            application_id = self._new_id(
                account_id, application_id, "app-", _APPLICATION_ID, self.applications
            )
            self.applications[(account_id, application_id)] = Application(
                account_id=account_id,
                application_id=application_id,
                name=name,
                description=description,
                is_archived=is_archived,
                tags=dict(tags),
                created=created,
                modified=created,
                seq=self._next_seq(),
                wave_id=wave_id,
            )
            return application_id

    def _new_id(
        self,
        account_id: str,
        given: str | None,
        prefix: str,
        pattern: re.Pattern[str],
        existing: dict[tuple[str, str], Any],
    ) -> str:
        if given is None:
            given = random_id(prefix)
            while (account_id, given) in existing:  # pragma: no cover - 62**17 ids
                given = random_id(prefix)
        _check(f"{prefix.rstrip('-')} id", given, pattern)
        if (account_id, given) in existing:
            raise ValueError(f"{given} already exists in account {account_id}")
        return given

    def wave(self, account_id: str, wave_id: str) -> Wave:
        with self.lock:
            try:
                return self.waves[(account_id, wave_id)]
            except KeyError:
                raise KeyError(f"no wave {wave_id} in account {account_id}") from None

    def application(self, account_id: str, application_id: str) -> Application:
        with self.lock:
            try:
                return self.applications[(account_id, application_id)]
            except KeyError:
                message = f"no application {application_id} in account {account_id}"
                raise KeyError(message) from None

    def update_wave(
        self,
        account_id: str,
        wave_id: str,
        *,
        now: datetime,
        name: str | None = None,
        description: str | None = None,
        is_archived: bool | None = None,
    ) -> None:
        """Change what is given (as UpdateWave, ArchiveWave and UnarchiveWave do)."""
        _check_update("Wave", name, description)
        with self.lock:
            _update(self.wave(account_id, wave_id), now, name, description, is_archived)

    def update_application(
        self,
        account_id: str,
        application_id: str,
        *,
        now: datetime,
        name: str | None = None,
        description: str | None = None,
        is_archived: bool | None = None,
    ) -> None:
        """Change what is given (as UpdateApplication and (Un)ArchiveApplication do)."""
        _check_update("Application", name, description)
        with self.lock:
            record = self.application(account_id, application_id)
            _update(record, now, name, description, is_archived)

    def assign_wave(
        self, account_id: str, application_id: str, wave_id: str | None, now: datetime
    ) -> None:
        """Put the application in the wave (None: in none); both in the same account."""
        with self.lock:
            application = self.application(account_id, application_id)
            if wave_id is not None:
                self.wave(account_id, wave_id)
            application.wave_id = wave_id
            application.modified = now


def _check_execution(execution: PostLaunchExecution) -> None:
    """Every value of an execution against the model (what DescribeJobs would render)."""
    _check_text("execution id", execution.execution_id, "BoundedString")
    _check_text("action name", execution.action_name, "BoundedString")
    _check_text("SSM document name", execution.document_name, "SsmDocumentName")
    _check("SSM document type", execution.document_type, SSM_DOCUMENT_TYPES)
    _check("execution status", execution.status, EXECUTION_STATUSES)
    if not isinstance(execution.must_succeed, bool):
        raise ValueError(f"invalid must_succeed: {execution.must_succeed!r}")
    _check_shape("timeout_seconds", execution.timeout_seconds, "StrictlyPositiveInteger")
    if execution.failure_reason is not None:
        _check_text("failure reason", execution.failure_reason, "BoundedString")
    if execution.parameters is not None:
        _check_shape("parameters", execution.parameters, "SsmDocumentParameters")
    if execution.external_parameters is not None:
        _check_shape(
            "external_parameters", execution.external_parameters, "SsmDocumentExternalParameters"
        )


def _check_update(shape: str, name: str | None, description: str | None) -> None:
    """A new name or description of a wave or an application, checked against the model's
    `<shape>Name` and `<shape>Description` (shape: "Wave" or "Application")."""
    if name is not None:
        _check_text(f"{shape.lower()} name", name, f"{shape}Name")
    if description is not None:
        _check_text(f"{shape.lower()} description", description, f"{shape}Description")


def _update(
    record: Wave | Application,
    now: datetime,
    name: str | None,
    description: str | None,
    is_archived: bool | None,
) -> None:
    if name is not None:
        record.name = name
    if description is not None:
        record.description = description
    if is_archived is not None:
        record.is_archived = is_archived
    record.modified = now
