"""MGN adapter: the read calls the exporter makes, with MGN's errors translated at the edge."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from mgn_exporter.errors import (
    AccountUnavailable,
    AccountUninitialized,
    InventoryUnavailable,
    JobUnavailable,
    TokenRejected,
)
from mgn_exporter.inventory import Inventory, inventory_from

if TYPE_CHECKING:
    from mypy_boto3_mgn import MgnClient

PAGE_SIZE = 1000
JOB_IDS_PER_CALL = 1000  # DescribeJobsRequestFiltersJobIDs max length
SERVER_IDS_PER_CALL = 200  # DescribeSourceServersRequestFilters.sourceServerIDs max length


@dataclass(frozen=True)
class LogPage:
    items: list[dict[str, Any]]
    next_token: str | None


def mgn_timestamp(moment: datetime) -> str:
    """The ISO8601DatetimeString MGN's filters accept (UTC, Z suffix)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class MgnReader:
    """Reads accounts, jobs and job log pages.

    `own_account_id` is the caller's account: calls for it leave `accountID` out, so the
    exporter also works where MGN global view is not enabled.
    """

    def __init__(self, client: MgnClient, *, own_account_id: str | None) -> None:
        self._client = client
        self._own = own_account_id

    def managed_accounts(self) -> list[str]:
        """Accounts of MGN global view (ListManagedAccounts, all pages)."""
        accounts: list[str] = []
        with self._account_errors("*"):
            for page in self._client.get_paginator("list_managed_accounts").paginate():
                accounts.extend(
                    str(item["accountId"])
                    for item in page.get("items", [])
                    if item.get("accountId")
                )
        return accounts

    def jobs_since(self, account_id: str, from_date: datetime) -> list[dict[str, Any]]:
        """Jobs created at or after `from_date` (DescribeJobs, all pages)."""
        return self._describe_jobs(account_id, {"fromDate": mgn_timestamp(from_date)})

    def jobs_by_id(self, account_id: str, job_ids: Sequence[str]) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = []
        for start in range(0, len(job_ids), JOB_IDS_PER_CALL):
            chunk = list(job_ids[start : start + JOB_IDS_PER_CALL])
            jobs.extend(self._describe_jobs(account_id, {"jobIDs": chunk}))
        return jobs

    def log_page(
        self, account_id: str, job_id: str, token: str | None, *, max_results: int = PAGE_SIZE
    ) -> LogPage:
        params: dict[str, Any] = {"jobID": job_id, "maxResults": max_results}
        params.update(self._account_param(account_id))
        if token:
            params["nextToken"] = token
        client = self._client
        try:
            response = client.describe_job_log_items(**params)
        except client.exceptions.ValidationException as exc:
            if token:
                # MGN answers an expired or foreign nextToken with ValidationException; the same
                # request without the token tells a bad token from a bad job.
                raise TokenRejected(job_id) from exc
            raise JobUnavailable(f"{job_id}: {_error_code(exc)}") from exc
        except client.exceptions.UninitializedAccountException as exc:
            raise AccountUninitialized(f"{account_id}: {_error_code(exc)}") from exc
        except (
            client.exceptions.AccessDeniedException,
            client.exceptions.ThrottlingException,
        ) as exc:
            raise AccountUnavailable(f"{account_id}: {_error_code(exc)}") from exc
        except (ClientError, BotoCoreError) as exc:
            raise JobUnavailable(f"{job_id}: {_error_code(exc)}") from exc
        items = cast(list[dict[str, Any]], response.get("items", []))
        return LogPage(items=list(items), next_token=response.get("nextToken"))

    def applications_and_waves(self, account_id: str) -> Inventory:
        """The account's applications and waves (ListApplications, ListWaves, all pages,
        archived ones included: old items still name them), and no server yet."""
        with self._inventory_errors(account_id):
            return inventory_from(
                (),
                self._all(account_id, "list_applications", {}),
                self._all(account_id, "list_waves", {}),
            )

    def source_servers(self, account_id: str, server_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The servers of `server_ids` MGN lists (DescribeSourceServers, 200 ids a call: only
        what the items name, not an account's thousands of servers and their disks)."""
        records: list[dict[str, Any]] = []
        with self._inventory_errors(account_id):
            for start in range(0, len(server_ids), SERVER_IDS_PER_CALL):
                chunk = list(server_ids[start : start + SERVER_IDS_PER_CALL])
                filters = {"filters": {"sourceServerIDs": chunk}}
                records += self._all(account_id, "describe_source_servers", filters)
        return records

    def _all(self, account_id: str, operation: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
        # `operation` is Any: the stubs type get_paginator per literal name, not for a union.
        request: dict[str, Any] = {**params, "PaginationConfig": {"PageSize": PAGE_SIZE}}
        request.update(self._account_param(account_id))
        records: list[dict[str, Any]] = []
        for page in self._client.get_paginator(operation).paginate(**request):
            records.extend(cast(list[dict[str, Any]], page.get("items", [])))
        return records

    @contextmanager
    def _inventory_errors(self, account_id: str) -> Iterator[None]:
        try:
            yield
        except (ClientError, BotoCoreError) as exc:
            raise InventoryUnavailable(f"{account_id}: {_error_code(exc)}") from exc

    def _describe_jobs(self, account_id: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = []
        params: dict[str, Any] = {"filters": filters, "PaginationConfig": {"PageSize": PAGE_SIZE}}
        params.update(self._account_param(account_id))
        with self._account_errors(account_id):
            for page in self._client.get_paginator("describe_jobs").paginate(**params):
                items = cast(list[dict[str, Any]], page.get("items", []))
                jobs.extend(job for job in items if job.get("jobID"))
        return jobs

    def _account_param(self, account_id: str) -> dict[str, str]:
        return {} if account_id == self._own else {"accountID": account_id}

    @contextmanager
    def _account_errors(self, account_id: str) -> Iterator[None]:
        # Anything botocore could not absorb with its own retries makes the whole account
        # unavailable for this tick; the other accounts go on.
        try:
            yield
        except (ClientError, BotoCoreError) as exc:
            code = _error_code(exc)
            if code == "UninitializedAccountException":
                raise AccountUninitialized(f"{account_id}: {code}") from exc
            raise AccountUnavailable(f"{account_id}: {code}") from exc


def _error_code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", type(exc).__name__))
    return type(exc).__name__
