"""MGN API semantics of the served operations, on already-validated request parameters."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from local.mgn_emulator.clock import SimClock
from local.mgn_emulator.errors import access_denied, field_error, uninitialized
from local.mgn_emulator.store import (
    Application,
    Job,
    PostLaunchExecution,
    SourceServer,
    Store,
    Wave,
)
from local.mgn_emulator.timefmt import format_datetime, parse_datetime, sort_key
from local.mgn_emulator.tokens import TokenCodec, TokenError

DEFAULT_MAX_RESULTS = 1000

Params = dict[str, Any]
Record = tuple[list[str], dict[str, Any]]  # (page cursor key, rendered item)


@dataclass
class Settings:
    caller_account: str
    region: str
    token_ttl_seconds: float = 3600
    max_page_size: int | None = None


class MgnService:
    def __init__(
        self, store: Store, tokens: TokenCodec, clock: SimClock, settings: Settings
    ) -> None:
        self.store = store
        self.tokens = tokens
        self.clock = clock
        self.settings = settings
        self._handlers: dict[str, Callable[[str, Params], dict[str, Any]]] = {
            "ListManagedAccounts": self.list_managed_accounts,
            "DescribeJobs": self.describe_jobs,
            "DescribeJobLogItems": self.describe_job_log_items,
            "DescribeSourceServers": self.describe_source_servers,
            "ListApplications": self.list_applications,
            "ListWaves": self.list_waves,
        }

    def call(self, operation: str, params: Params) -> dict[str, Any]:
        account = self.target_account(params)
        with self.store.lock:
            return self._handlers[operation](account, params)

    def target_account(self, params: Params) -> str:
        """The account a request is for: ``accountID`` (global view) or the caller's."""
        caller = self.settings.caller_account
        caller_account = self.store.account(caller)
        if caller_account is None:
            raise access_denied(caller)
        if not caller_account.initialized:
            raise uninitialized(caller)
        requested = params.get("accountID")
        if requested is None or requested == caller:
            return caller
        account = self.store.account(requested)
        if account is None:
            raise access_denied(requested)
        if not account.initialized:
            raise uninitialized(requested)
        return str(requested)

    # -- pagination ---------------------------------------------------------------------------

    def _page_size(self, params: Params) -> int:
        size = params.get("maxResults") or DEFAULT_MAX_RESULTS
        if self.settings.max_page_size is not None:
            size = min(size, max(1, self.settings.max_page_size))
        return int(size)

    def _resume(self, operation: str, account: str, scope: str, params: Params) -> Any:
        token = params.get("nextToken")
        if not token:  # absent or "" (the model allows length 0): first page
            return None
        try:
            return self.tokens.decode(
                token,
                operation=operation,
                account=account,
                scope=scope,
                now=self.clock.now(),
                ttl_seconds=self.settings.token_ttl_seconds,
            )
        except TokenError as exc:
            reason = "other" if exc.expired else "fieldValidationFailed"
            raise field_error("nextToken", str(exc), reason) from None

    def _issue(self, operation: str, account: str, scope: str, position: Any) -> str:
        return self.tokens.issue(
            operation=operation,
            account=account,
            scope=scope,
            position=position,
            now=self.clock.now(),
        )

    def _keyset_page(
        self, operation: str, account: str, records: Sequence[Record], params: Params
    ) -> dict[str, Any]:
        ordered = sorted(records, key=lambda record: record[0])
        after = self._resume(operation, account, "", params)
        if after is not None:
            ordered = [record for record in ordered if record[0] > after]
        size = self._page_size(params)
        page = ordered[:size]
        result: dict[str, Any] = {"items": [item for _, item in page]}
        if len(ordered) > size:
            result["nextToken"] = self._issue(operation, account, "", page[-1][0])
        return result

    # -- operations ---------------------------------------------------------------------------

    def list_managed_accounts(self, account: str, params: Params) -> dict[str, Any]:
        records: list[Record] = [
            ([acct.account_id], {"accountId": acct.account_id})
            for acct in self.store.accounts.values()
            if acct.managed
        ]
        return self._keyset_page("ListManagedAccounts", account, records, params)

    def describe_jobs(self, account: str, params: Params) -> dict[str, Any]:
        filters: Params = params.get("filters") or {}
        job_ids = set(filters.get("jobIDs") or [])
        from_date = _filter_date(filters, "fromDate")
        to_date = _filter_date(filters, "toDate")
        records: list[Record] = []
        for job in self.store.jobs.values():
            if job.account_id != account or (job_ids and job.job_id not in job_ids):
                continue
            if (from_date is not None and job.created < from_date) or (
                to_date is not None and job.created > to_date
            ):
                continue
            if job.hidden_from_listings:
                job.hidden_from_listings -= 1
                continue
            records.append(([sort_key(job.created), job.job_id], self._render_job(job)))
        return self._keyset_page("DescribeJobs", account, records, params)

    def describe_job_log_items(self, account: str, params: Params) -> dict[str, Any]:
        job_id = params["jobID"]
        job = self.store.jobs.get((account, job_id))
        if job is None:
            message = f"Job {job_id} not found in account {account}"
            raise field_error("jobID", message, reason="other")
        start = self._resume("DescribeJobLogItems", account, job_id, params) or 0
        end = min(start + self._page_size(params), len(job.items))
        result: dict[str, Any] = {"items": copy.deepcopy(job.items[start:end])}
        if end < len(job.items):
            result["nextToken"] = self._issue("DescribeJobLogItems", account, job_id, end)
        return result

    def describe_source_servers(self, account: str, params: Params) -> dict[str, Any]:
        filters: Params = params.get("filters") or {}
        ids = set(filters.get("sourceServerIDs") or [])
        archived = filters.get("isArchived")
        replication_types = set(filters.get("replicationTypes") or [])
        states = set(filters.get("lifeCycleStates") or [])
        application_ids = set(filters.get("applicationIDs") or [])
        records: list[Record] = []
        for server in self.store.servers.values():
            if (
                server.account_id != account
                or (ids and server.source_server_id not in ids)
                or (archived is not None and server.is_archived != archived)
                or (replication_types and server.replication_type not in replication_types)
                or (states and server.life_cycle_state not in states)
                or (application_ids and server.application_id not in application_ids)
            ):
                continue
            records.append(([f"{server.seq:012d}"], self._render_server(server)))
        return self._keyset_page("DescribeSourceServers", account, records, params)

    def list_applications(self, account: str, params: Params) -> dict[str, Any]:
        filters: Params = params.get("filters") or {}
        ids = set(filters.get("applicationIDs") or [])
        wave_ids = set(filters.get("waveIDs") or [])
        archived = filters.get("isArchived")
        servers = Counter(
            server.application_id
            for server in self.store.servers.values()
            if server.account_id == account
        )
        records: list[Record] = [
            ([f"{app.seq:012d}"], self._render_application(app, servers[app.application_id]))
            for app in self.store.applications.values()
            if app.account_id == account
            and _wanted(app.application_id, ids)
            and _wanted(app.wave_id, wave_ids)
            and (archived is None or app.is_archived == archived)
        ]
        return self._keyset_page("ListApplications", account, records, params)

    def list_waves(self, account: str, params: Params) -> dict[str, Any]:
        filters: Params = params.get("filters") or {}
        ids = set(filters.get("waveIDs") or [])
        archived = filters.get("isArchived")
        applications = Counter(
            app.wave_id for app in self.store.applications.values() if app.account_id == account
        )
        records: list[Record] = [
            ([f"{wave.seq:012d}"], self._render_wave(wave, applications[wave.wave_id]))
            for wave in self.store.waves.values()
            if wave.account_id == account
            and _wanted(wave.wave_id, ids)
            and (archived is None or wave.is_archived == archived)
        ]
        return self._keyset_page("ListWaves", account, records, params)

    # -- rendering ----------------------------------------------------------------------------

    def _arn(self, account: str, resource: str) -> str:
        return f"arn:aws:mgn:{self.settings.region}:{account}:{resource}"

    def _render_job(self, job: Job) -> dict[str, Any]:
        rendered: dict[str, Any] = {
            "jobID": job.job_id,
            "arn": self._arn(job.account_id, f"job/{job.job_id}"),
            "type": job.type,
            "initiatedBy": job.initiated_by,
            "creationDateTime": format_datetime(job.created),
            "status": job.status,
            "participatingServers": [
                _render_participant(job, server_id) for server_id in job.source_server_ids
            ],
            "tags": dict(job.tags),
        }
        if job.ended is not None:
            rendered["endDateTime"] = format_datetime(job.ended)
        return rendered

    def _render_server(self, server: SourceServer) -> dict[str, Any]:
        rendered: dict[str, Any] = {
            "sourceServerID": server.source_server_id,
            "arn": self._arn(server.account_id, f"source-server/{server.source_server_id}"),
            "isArchived": server.is_archived,
            "tags": dict(server.tags),
            "lifeCycle": {"state": server.life_cycle_state},
            "replicationType": server.replication_type,
            "sourceProperties": {"identificationHints": _hints(server)},
        }
        if server.application_id is not None:
            rendered["applicationID"] = server.application_id
        return rendered

    def _render_application(self, app: Application, servers: int) -> dict[str, Any]:
        rendered: dict[str, Any] = {
            "applicationID": app.application_id,
            "arn": self._arn(app.account_id, f"application/{app.application_id}"),
            "name": app.name,
            "description": app.description,
            "isArchived": app.is_archived,
            "applicationAggregatedStatus": {"totalSourceServers": servers},
            "creationDateTime": format_datetime(app.created),
            "lastModifiedDateTime": format_datetime(app.modified),
            "tags": dict(app.tags),
        }
        if app.wave_id is not None:
            rendered["waveID"] = app.wave_id
        return rendered

    def _render_wave(self, wave: Wave, applications: int) -> dict[str, Any]:
        return {
            "waveID": wave.wave_id,
            "arn": self._arn(wave.account_id, f"wave/{wave.wave_id}"),
            "name": wave.name,
            "description": wave.description,
            "isArchived": wave.is_archived,
            "waveAggregatedStatus": {"totalApplications": applications},
            "creationDateTime": format_datetime(wave.created),
            "lastModifiedDateTime": format_datetime(wave.modified),
            "tags": dict(wave.tags),
        }


def _render_participant(job: Job, server_id: str) -> dict[str, Any]:
    """A ParticipatingServer: its launch status, and its launched instance and post-launch
    actions' status only when it has them (MGN leaves absent members out)."""
    rendered: dict[str, Any] = {
        "sourceServerID": server_id,
        "launchStatus": job.launch_statuses.get(server_id, _launch_status(job)),
    }
    instance = job.launched_instances.get(server_id)
    if instance is not None:
        rendered["launchedEc2InstanceID"] = instance
    status: dict[str, Any] = {}
    discovered = job.ssm_discovered.get(server_id)
    if discovered is not None:
        status["ssmAgentDiscoveryDatetime"] = format_datetime(discovered)
    executions = job.post_launch.get(server_id, {})
    if executions:
        status["postLaunchActionsLaunchStatusList"] = [
            _render_execution(execution) for execution in executions.values()
        ]
    if status:
        rendered["postLaunchActionsStatus"] = status
    return rendered


def _render_execution(execution: PostLaunchExecution) -> dict[str, Any]:
    document: dict[str, Any] = {
        "actionName": execution.action_name,
        "ssmDocumentName": execution.document_name,
        "timeoutSeconds": execution.timeout_seconds,
        "mustSucceedForCutover": execution.must_succeed,
    }
    if execution.parameters is not None:
        document["parameters"] = copy.deepcopy(execution.parameters)
    if execution.external_parameters is not None:
        document["externalParameters"] = copy.deepcopy(execution.external_parameters)
    rendered: dict[str, Any] = {
        "executionID": execution.execution_id,
        "executionStatus": execution.status,
        "ssmDocumentType": execution.document_type,
        "ssmDocument": document,
    }
    if execution.failure_reason is not None:
        rendered["failureReason"] = execution.failure_reason
    return rendered


def _wanted(value: str | None, wanted: Collection[str]) -> bool:
    """An ID filter: an empty (or absent) list filters nothing, as in the other filters."""
    return not wanted or value in wanted


def _hints(server: SourceServer) -> dict[str, str]:
    # Only what the world gave: a server created implicitly by a job has no hints.
    hints = {"hostname": server.hostname, "fqdn": server.fqdn}
    return {key: value for key, value in hints.items() if value is not None}


def _launch_status(job: Job) -> str:
    """Default launchStatus of a job's servers, derived from the job's status and type."""
    if job.status == "PENDING":
        return "PENDING"
    if job.status == "STARTED":
        return "IN_PROGRESS"
    return "TERMINATED" if job.type == "TERMINATE" else "LAUNCHED"


def _filter_date(filters: Params, name: str) -> datetime | None:
    text = filters.get(name)
    if text is None:
        return None
    try:
        return parse_datetime(text)
    except ValueError:
        raise field_error(f"filters.{name}", f"{text!r} is not a valid date and time") from None
