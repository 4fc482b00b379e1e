"""The MGN emulator, exercised through boto3's real ``mgn`` client and raw HTTP."""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

from local.mgn_emulator import MgnEmulator, make_item

CALLER = "111111111111"
MANAGED = "222222222222"
T0 = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)
SERVER_A = "s-aaaaaaaaaaaaaaaaa"
SERVER_B = "s-bbbbbbbbbbbbbbbbb"
# 24 characters (passes botocore's client-side min length) but not mgnjob-[0-9a-zA-Z]{17}.
BAD_PATTERN_JOB_ID = "mgnjob-!!!!!!!!!!!!!!!!!"
UNKNOWN_JOB = "mgnjob-00000000000000000"
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})
ISO_PATTERN = (
    botocore.session.get_session()
    .get_service_model("mgn")
    .shape_for("ISO8601DatetimeString")
    .metadata["pattern"]
)


@pytest.fixture
def emu() -> Iterator[MgnEmulator]:
    with MgnEmulator(caller_account=CALLER, region="us-east-1") as emulator:
        emulator.set_now(T0)
        yield emulator


def _client(emu: MgnEmulator, config: Config = NO_RETRIES) -> Any:
    return boto3.client(
        "mgn",
        region_name="us-east-1",
        endpoint_url=emu.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


@pytest.fixture
def client(emu: MgnEmulator) -> Any:
    return _client(emu)


def _raw(
    emu: MgnEmulator, operation: str, body: bytes | dict[str, Any], method: str = "POST"
) -> tuple[int, dict[str, str], Any]:
    """(status, lower-cased headers, decoded JSON body or text) of a raw HTTP request."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{emu.endpoint_url}/{operation}",
        data=data if method == "POST" else None,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, raw = error.code, error.headers, error.read()
    lowered = {name.lower(): value for name, value in headers.items()}
    if lowered.get("content-type") == "application/json":
        return status, lowered, json.loads(raw)
    return status, lowered, raw.decode()


def _items(count: int, server: str = SERVER_A) -> list[dict[str, Any]]:
    return [
        make_item("SNAPSHOT_START", T0 + timedelta(seconds=index), server, attempt_count=index + 1)
        for index in range(count)
    ]


def _job_with_items(emu: MgnEmulator, count: int, account: str = CALLER) -> tuple[str, list[Any]]:
    job_id = emu.add_job(account, source_server_ids=[SERVER_A])
    items = _items(count)
    emu.append_items(account, job_id, items)
    return job_id, items


def _read_all_log_pages(client: Any, job_id: str, **kwargs: Any) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        extra = {"nextToken": token} if token else {}
        page = client.describe_job_log_items(jobID=job_id, **kwargs, **extra)
        pages.append(page)
        token = page.get("nextToken")
        if token is None:
            return pages
        assert len(pages) < 100, "pagination does not end"


def _validation_fields(error: ClientError) -> list[str]:
    response: dict[str, Any] = dict(error.response)
    return [field["name"] for field in response["fieldList"]]


# -- DescribeJobLogItems pagination -----------------------------------------------------------


def test_log_items_paginate_with_max_results_in_order(emu: MgnEmulator, client: Any) -> None:
    job_id, items = _job_with_items(emu, 25)

    pages = _read_all_log_pages(client, job_id, maxResults=7)

    assert [len(page["items"]) for page in pages] == [7, 7, 7, 4]
    assert [item for page in pages for item in page["items"]] == items
    assert all("nextToken" in page for page in pages[:-1])
    assert "nextToken" not in pages[-1]


def test_max_page_size_makes_short_pages(emu: MgnEmulator, client: Any) -> None:
    job_id, items = _job_with_items(emu, 10)
    emu.max_page_size = 3

    pages = _read_all_log_pages(client, job_id, maxResults=1000)

    assert [len(page["items"]) for page in pages] == [3, 3, 3, 1]
    assert [item for page in pages for item in page["items"]] == items


def test_default_page_size_is_1000(emu: MgnEmulator, client: Any) -> None:
    job_id, items = _job_with_items(emu, 1500)

    pages = _read_all_log_pages(client, job_id)

    assert [len(page["items"]) for page in pages] == [1000, 500]
    assert [item for page in pages for item in page["items"]] == items


def test_no_token_after_last_page_even_when_page_is_full(emu: MgnEmulator, client: Any) -> None:
    job_id, _ = _job_with_items(emu, 10)
    empty_job = emu.add_job(CALLER)

    pages = _read_all_log_pages(client, job_id, maxResults=5)
    empty = client.describe_job_log_items(jobID=empty_job)

    assert [len(page["items"]) for page in pages] == [5, 5]
    assert "nextToken" not in pages[-1]
    assert empty["items"] == []
    assert "nextToken" not in empty


def test_tokens_are_reusable_and_see_appended_items(emu: MgnEmulator, client: Any) -> None:
    job_id, items = _job_with_items(emu, 4)
    token = client.describe_job_log_items(jobID=job_id, maxResults=2)["nextToken"]
    extra = _items(1, SERVER_B)
    emu.append_items(CALLER, job_id, extra)

    first = client.describe_job_log_items(jobID=job_id, nextToken=token)
    again = client.describe_job_log_items(jobID=job_id, nextToken=token)

    assert first["items"] == items[2:] + extra
    assert again["items"] == first["items"]


def test_expire_tokens_invalidates_issued_tokens(emu: MgnEmulator, client: Any) -> None:
    job_id, _ = _job_with_items(emu, 4)
    token = client.describe_job_log_items(jobID=job_id, maxResults=2)["nextToken"]
    emu.expire_tokens()

    with pytest.raises(client.exceptions.ValidationException) as caught:
        client.describe_job_log_items(jobID=job_id, nextToken=token)

    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert _validation_fields(caught.value) == ["nextToken"]
    fresh = client.describe_job_log_items(jobID=job_id, maxResults=2)["nextToken"]
    assert len(client.describe_job_log_items(jobID=job_id, nextToken=fresh)["items"]) == 2


def test_tokens_expire_after_ttl_of_simulated_time(emu: MgnEmulator, client: Any) -> None:
    job_id, _ = _job_with_items(emu, 4)
    emu.token_ttl_seconds = 600
    token = client.describe_job_log_items(jobID=job_id, maxResults=2)["nextToken"]

    emu.advance(599)
    assert len(client.describe_job_log_items(jobID=job_id, nextToken=token)["items"]) == 2
    emu.advance(1)
    with pytest.raises(client.exceptions.ValidationException) as caught:
        client.describe_job_log_items(jobID=job_id, nextToken=token)

    assert caught.value.response["reason"] in ("other", "fieldValidationFailed")
    assert _validation_fields(caught.value) == ["nextToken"]


def test_default_ttl_is_an_hour(emu: MgnEmulator, client: Any) -> None:
    job_id, _ = _job_with_items(emu, 4)
    token = client.describe_job_log_items(jobID=job_id, maxResults=2)["nextToken"]
    emu.advance(3600)

    with pytest.raises(client.exceptions.ValidationException):
        client.describe_job_log_items(jobID=job_id, nextToken=token)


@pytest.mark.parametrize("kind", ["garbage", "tampered", "other job", "other account"])
def test_bad_or_foreign_tokens_are_rejected(emu: MgnEmulator, client: Any, kind: str) -> None:
    emu.add_account(MANAGED)
    job_id, _ = _job_with_items(emu, 4)
    other_job, _ = _job_with_items(emu, 4)
    managed_job, _ = _job_with_items(emu, 4, account=MANAGED)
    token = client.describe_job_log_items(jobID=job_id, maxResults=2)["nextToken"]
    request: dict[str, Any] = {
        "garbage": {"jobID": job_id, "nextToken": "not-a-token"},
        "tampered": {
            "jobID": job_id,
            "nextToken": token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),
        },
        "other job": {"jobID": other_job, "nextToken": token},
        "other account": {"jobID": managed_job, "accountID": MANAGED, "nextToken": token},
    }[kind]

    with pytest.raises(client.exceptions.ValidationException) as caught:
        client.describe_job_log_items(**request)

    assert _validation_fields(caught.value) == ["nextToken"]


def test_unknown_job_is_a_validation_error(emu: MgnEmulator, client: Any) -> None:
    with pytest.raises(client.exceptions.ValidationException) as caught:
        client.describe_job_log_items(jobID=UNKNOWN_JOB)

    assert _validation_fields(caught.value) == ["jobID"]


def test_malformed_items_are_returned_verbatim(emu: MgnEmulator, client: Any) -> None:
    job_id = emu.add_job(CALLER)
    odd: list[dict[str, Any]] = [
        {"logDateTime": "yesterday", "event": "NOT_AN_EVENT", "eventData": {}},
        {"event": "JOB_START"},
        {},
        {"logDateTime": "2026-13-45T99:00:00Z", "event": "", "eventData": {"sourceServerID": "x"}},
        {"event": "LAUNCH_FAILED", "eventData": {"rawError": "é\u0000\n" + "x" * 200_000}},
        {"event": "JOB_END", "eventData": {"unknownKey": [1, {"a": None}]}, "extra": True},
    ]
    emu.append_items(CALLER, job_id, odd)
    wrong_types = [{"event": 42, "eventData": {"attemptCount": "three"}, "logDateTime": None}]
    emu.append_items(CALLER, job_id, wrong_types)

    via_boto3 = client.describe_job_log_items(jobID=job_id, maxResults=len(odd))["items"]
    status, _, raw = _raw(emu, "DescribeJobLogItems", {"jobID": job_id})

    # botocore drops unmodeled keys and nulls when parsing; the wire carries everything.
    assert via_boto3[4] == odd[4]
    assert [item.get("event") for item in via_boto3] == [item.get("event") for item in odd]
    assert status == 200
    assert raw["items"] == odd + wrong_types
    assert emu.job_items(CALLER, job_id) == odd + wrong_types


def test_job_items_is_a_copy(emu: MgnEmulator) -> None:
    job_id, items = _job_with_items(emu, 2)

    emu.job_items(CALLER, job_id)[0]["event"] = "CHANGED"
    items[1]["event"] = "CHANGED"

    assert [item["event"] for item in emu.job_items(CALLER, job_id)] == ["SNAPSHOT_START"] * 2


# -- DescribeJobs -----------------------------------------------------------------------------


def test_describe_jobs_filters(emu: MgnEmulator, client: Any) -> None:
    ids = [
        emu.add_job(CALLER, created=T0 + timedelta(hours=hour), source_server_ids=[SERVER_A])
        for hour in range(4)
    ]

    def listed(**filters: Any) -> list[str]:
        return [job["jobID"] for job in client.describe_jobs(filters=filters)["items"]]

    assert listed() == ids
    assert listed(fromDate="2026-11-25T11:00:00Z") == ids[1:]
    assert listed(toDate="2026-11-25T12:00:00.000Z") == ids[:3]
    assert listed(fromDate="2026-11-25T10:30:00Z", toDate="2026-11-25T12:30:00Z") == ids[1:3]
    assert listed(jobIDs=[ids[3], ids[0], UNKNOWN_JOB]) == [ids[0], ids[3]]
    assert listed(jobIDs=ids[:2], fromDate="2026-11-25T11:00:00Z") == [ids[1]]


def test_describe_jobs_fields(emu: MgnEmulator, client: Any) -> None:
    running = emu.add_job(CALLER, source_server_ids=[SERVER_A, SERVER_B], tags={"k": "v"})
    done = emu.add_job(
        CALLER, type="TERMINATE", initiated_by="TERMINATE", source_server_ids=[SERVER_B]
    )
    emu.advance(90)
    emu.set_job_status(CALLER, done, "COMPLETED")
    emu.set_launch_status(CALLER, running, SERVER_B, "FAILED")

    jobs = {job["jobID"]: job for job in client.describe_jobs()["items"]}

    assert jobs[running] == {
        "jobID": running,
        "arn": f"arn:aws:mgn:us-east-1:{CALLER}:job/{running}",
        "type": "LAUNCH",
        "initiatedBy": "START_TEST",
        "creationDateTime": "2026-11-25T10:00:00.000Z",
        "status": "STARTED",
        "participatingServers": [
            {"sourceServerID": SERVER_A, "launchStatus": "IN_PROGRESS"},
            {"sourceServerID": SERVER_B, "launchStatus": "FAILED"},
        ],
        "tags": {"k": "v"},
    }
    assert jobs[done]["status"] == "COMPLETED"
    assert jobs[done]["endDateTime"] == "2026-11-25T10:01:30.000Z"
    assert jobs[done]["participatingServers"][0]["launchStatus"] == "TERMINATED"
    assert re.fullmatch(r"mgnjob-[0-9a-zA-Z]{17}", running)


def test_describe_jobs_pagination_by_creation_time(emu: MgnEmulator, client: Any) -> None:
    created = [T0 - timedelta(minutes=minute) for minute in range(12)]  # added newest first
    ids = [emu.add_job(CALLER, created=when) for when in created]

    pages = list(client.get_paginator("describe_jobs").paginate(PaginationConfig={"PageSize": 5}))

    assert [len(page["items"]) for page in pages] == [5, 5, 2]
    assert [job["jobID"] for page in pages for job in page["items"]] == ids[::-1]
    assert "nextToken" not in pages[-1]


def test_describe_jobs_rejects_impossible_dates(emu: MgnEmulator, client: Any) -> None:
    with pytest.raises(client.exceptions.ValidationException) as caught:
        client.describe_jobs(filters={"fromDate": "2026-02-30T00:00:00Z"})

    assert _validation_fields(caught.value) == ["filters.fromDate"]


# -- ListManagedAccounts, DescribeSourceServers -------------------------------------------------


def test_list_managed_accounts_pagination(emu: MgnEmulator, client: Any) -> None:
    managed = [f"3000000000{index:02d}" for index in range(7)]
    for account in reversed(managed):
        emu.add_account(account, initialized=True, managed=True)
    emu.add_account("444444444444", managed=False)

    pages = []
    token: str | None = None
    while True:
        page = client.list_managed_accounts(maxResults=3, **({"nextToken": token} if token else {}))
        pages.append(page)
        token = page.get("nextToken")
        if not token:
            break

    assert [len(page["items"]) for page in pages] == [3, 3, 1]
    assert [item["accountId"] for page in pages for item in page["items"]] == managed


def test_caller_is_listed_only_when_added_as_managed(emu: MgnEmulator, client: Any) -> None:
    assert client.list_managed_accounts()["items"] == []
    emu.add_account(CALLER, managed=True)
    assert client.list_managed_accounts()["items"] == [{"accountId": CALLER}]


def test_describe_source_servers(emu: MgnEmulator, client: Any) -> None:
    emu.add_job(CALLER, source_server_ids=[SERVER_A, SERVER_B])
    archived = emu.add_source_server(CALLER, is_archived=True, life_cycle_state="CUTOVER")

    def listed(**filters: Any) -> list[str]:
        items = client.describe_source_servers(filters=filters)["items"]
        return [server["sourceServerID"] for server in items]

    assert listed() == [SERVER_A, SERVER_B, archived]
    assert listed(isArchived=True) == [archived]
    assert listed(isArchived=False, sourceServerIDs=[SERVER_B]) == [SERVER_B]
    assert listed(lifeCycleStates=["CUTOVER"]) == [archived]
    pages = client.get_paginator("describe_source_servers").paginate(
        PaginationConfig={"PageSize": 2}
    )
    assert [len(page["items"]) for page in pages] == [2, 1]
    first = client.describe_source_servers(filters={"sourceServerIDs": [SERVER_A]})["items"][0]
    assert first["arn"] == f"arn:aws:mgn:us-east-1:{CALLER}:source-server/{SERVER_A}"


# -- accounts ---------------------------------------------------------------------------------


def test_account_id_routes_to_the_managed_account(emu: MgnEmulator, client: Any) -> None:
    emu.add_account(MANAGED, initialized=True, managed=True)
    own_job = emu.add_job(CALLER)
    managed_job, items = _job_with_items(emu, 3, account=MANAGED)

    managed_jobs = client.describe_jobs(accountID=MANAGED)["items"]
    own_jobs = client.describe_jobs()["items"]
    log = client.describe_job_log_items(jobID=managed_job, accountID=MANAGED)

    assert [job["jobID"] for job in managed_jobs] == [managed_job]
    assert managed_jobs[0]["arn"].startswith(f"arn:aws:mgn:us-east-1:{MANAGED}:job/")
    assert [job["jobID"] for job in own_jobs] == [own_job]
    assert log["items"] == items
    assert client.describe_jobs(accountID=CALLER)["items"] == own_jobs
    with pytest.raises(client.exceptions.ValidationException):
        client.describe_job_log_items(jobID=managed_job)  # not in the caller's account


def test_uninitialized_account(emu: MgnEmulator, client: Any) -> None:
    emu.add_account("333333333333", initialized=False, managed=True)
    calls: list[Callable[[], Any]] = [
        lambda: client.describe_jobs(accountID="333333333333"),
        lambda: client.describe_source_servers(accountID="333333333333"),
        lambda: client.describe_job_log_items(jobID=UNKNOWN_JOB, accountID="333333333333"),
    ]
    for call in calls:
        with pytest.raises(client.exceptions.UninitializedAccountException) as caught:
            call()
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert client.list_managed_accounts()["items"] == [{"accountId": "333333333333"}]


def test_uninitialized_caller_fails_every_operation(emu: MgnEmulator, client: Any) -> None:
    emu.add_account(CALLER, initialized=False, managed=False)

    with pytest.raises(client.exceptions.UninitializedAccountException):
        client.list_managed_accounts()
    with pytest.raises(client.exceptions.UninitializedAccountException):
        client.describe_jobs()


def test_unknown_account_is_access_denied(emu: MgnEmulator, client: Any) -> None:
    with pytest.raises(client.exceptions.AccessDeniedException) as caught:
        client.describe_jobs(accountID="999999999999")

    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"


# -- request validation -----------------------------------------------------------------------


def test_max_results_above_model_limit(emu: MgnEmulator, client: Any) -> None:
    job_id, _ = _job_with_items(emu, 1)

    with pytest.raises(client.exceptions.ValidationException) as caught:
        client.describe_job_log_items(jobID=job_id, maxResults=1001)

    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["reason"] == "fieldValidationFailed"
    assert response["fieldList"] == [
        {"name": "maxResults", "message": "Member must have value less than or equal to 1000"}
    ]


def test_job_id_pattern_checked_by_server(emu: MgnEmulator, client: Any) -> None:
    with pytest.raises(client.exceptions.ValidationException) as caught:
        client.describe_job_log_items(jobID=BAD_PATTERN_JOB_ID)

    assert caught.value.response["reason"] == "fieldValidationFailed"
    assert _validation_fields(caught.value) == ["jobID"]
    assert "pattern" in caught.value.response["fieldList"][0]["message"]
    # A short id never leaves the client: botocore checks min length itself.
    with pytest.raises(ParamValidationError):
        client.describe_job_log_items(jobID="bad-id")


@pytest.mark.parametrize(
    ("operation", "body", "fields"),
    [
        ("DescribeJobLogItems", {}, ["jobID"]),
        ("DescribeJobLogItems", {"jobID": "bad-id"}, ["jobID", "jobID"]),  # length and pattern
        ("DescribeJobLogItems", {"jobID": UNKNOWN_JOB, "maxResults": 0}, ["maxResults"]),
        ("DescribeJobLogItems", {"jobID": 5, "maxResults": "10"}, ["jobID", "maxResults"]),
        ("DescribeJobLogItems", {"jobID": UNKNOWN_JOB, "accountID": "abcdefghijkl"}, ["accountID"]),
        ("DescribeJobs", {"filters": {"jobIDs": [UNKNOWN_JOB] * 1001}}, ["filters.jobIDs"]),
        ("DescribeJobs", {"filters": {"jobIDs": [BAD_PATTERN_JOB_ID]}}, ["filters.jobIDs[0]"]),
        ("DescribeJobs", {"filters": {"fromDate": "2026-11-25 10:00:00"}}, ["filters.fromDate"]),
        ("DescribeJobs", {"filters": "all"}, ["filters"]),
        (
            "DescribeSourceServers",
            {"filters": {"replicationTypes": ["CARRIER_PIGEON"]}},
            ["filters.replicationTypes[0]"],
        ),
        ("DescribeSourceServers", {"filters": {"isArchived": "yes"}}, ["filters.isArchived"]),
        (
            "ListManagedAccounts",
            {"maxResults": True, "nextToken": "x" * 2049},
            ["maxResults", "nextToken"],
        ),
    ],
)
def test_server_side_validation_over_raw_http(
    emu: MgnEmulator, operation: str, body: dict[str, Any], fields: list[str]
) -> None:
    status, headers, payload = _raw(emu, operation, body)

    assert status == 400
    assert headers["x-amzn-errortype"] == "ValidationException"
    assert payload["reason"] == "fieldValidationFailed"
    assert [field["name"] for field in payload["fieldList"]] == fields
    assert payload["message"].startswith(f"{len(fields)} validation error")


def test_required_member_message(emu: MgnEmulator) -> None:
    _, _, payload = _raw(emu, "DescribeJobLogItems", {"maxResults": 5})

    assert payload["fieldList"] == [{"name": "jobID", "message": "Member must not be null"}]


def test_unparseable_body_and_unknown_operation(emu: MgnEmulator) -> None:
    status, headers, payload = _raw(emu, "DescribeJobs", b"{not json")
    assert (status, headers["x-amzn-errortype"], payload["reason"]) == (
        400,
        "ValidationException",
        "cannotParse",
    )
    status, _, payload = _raw(emu, "DescribeJobs", b"[1, 2]")
    assert (status, payload["reason"]) == (400, "cannotParse")
    status, _, payload = _raw(emu, "StartCutover", {})
    assert (status, payload["reason"]) == (400, "unknownOperation")
    status, _, payload = _raw(emu, "DescribeJobs", b"", method="GET")
    assert (status, payload["reason"]) == (400, "unknownOperation")
    status, _, payload = _raw(emu, "ListManagedAccounts", b"")
    assert (status, payload) == (200, {"items": []})


# -- injected faults --------------------------------------------------------------------------


def test_throttling_surfaces_with_retry_after(emu: MgnEmulator, client: Any) -> None:
    job_id, items = _job_with_items(emu, 2)
    emu.inject_fault("DescribeJobLogItems", "ThrottlingException", retry_after=7)

    with pytest.raises(client.exceptions.ThrottlingException) as caught:
        client.describe_job_log_items(jobID=job_id)

    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "7"
    assert response["retryAfterSeconds"] == "7"
    assert client.describe_job_log_items(jobID=job_id)["items"] == items  # times=1 used up


def test_throttling_default_retry_after(emu: MgnEmulator, client: Any) -> None:
    emu.inject_fault("*", "ThrottlingException")

    with pytest.raises(client.exceptions.ThrottlingException) as caught:
        client.list_managed_accounts()

    assert caught.value.response["retryAfterSeconds"] == "1"


def test_boto3_retries_through_a_single_fault(emu: MgnEmulator) -> None:
    job_id, items = _job_with_items(emu, 2)
    # botocore's retries.max_attempts counts retries, not attempts: 1 retry here.
    retrying = _client(emu, Config(retries={"max_attempts": 1, "mode": "standard"}))
    emu.inject_fault("DescribeJobLogItems", "InternalServerException")

    assert retrying.describe_job_log_items(jobID=job_id)["items"] == items
    assert emu.calls["DescribeJobLogItems"] == 2


def test_internal_server_error_and_plain_503(emu: MgnEmulator, client: Any) -> None:
    emu.inject_fault("DescribeJobs", "InternalServerException")
    emu.inject_fault("DescribeJobs", "ServiceUnavailable")

    with pytest.raises(client.exceptions.InternalServerException) as internal:
        client.describe_jobs()
    with pytest.raises(ClientError) as unavailable:
        client.describe_jobs()

    assert internal.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert unavailable.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert unavailable.value.response["Error"]["Code"] == "503"
    assert client.describe_jobs()["items"] == []


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("ValidationException", 400),
        ("UninitializedAccountException", 400),
        ("AccessDeniedException", 403),
    ],
)
def test_injected_client_errors(emu: MgnEmulator, client: Any, error: str, status: int) -> None:
    emu.inject_fault("ListManagedAccounts", error)

    with pytest.raises(getattr(client.exceptions, error)) as caught:
        client.list_managed_accounts()

    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_fault_filters_and_forever(emu: MgnEmulator, client: Any) -> None:
    emu.add_account(MANAGED)
    job_a, _ = _job_with_items(emu, 1)
    job_b, _ = _job_with_items(emu, 1)
    managed_job, _ = _job_with_items(emu, 1, account=MANAGED)
    emu.inject_fault("DescribeJobLogItems", "InternalServerException", times=None, job_id=job_b)
    emu.inject_fault("*", "ThrottlingException", times=None, account_id=MANAGED)

    for _ in range(3):
        assert len(client.describe_job_log_items(jobID=job_a)["items"]) == 1
        with pytest.raises(client.exceptions.InternalServerException):
            client.describe_job_log_items(jobID=job_b)
        with pytest.raises(client.exceptions.ThrottlingException):
            client.describe_job_log_items(jobID=managed_job, accountID=MANAGED)
    emu.clear_faults()

    assert len(client.describe_job_log_items(jobID=job_b)["items"]) == 1
    assert len(client.describe_jobs(accountID=MANAGED)["items"]) == 1


def test_fault_times(emu: MgnEmulator, client: Any) -> None:
    emu.inject_fault("DescribeJobs", "InternalServerException", times=2)

    outcomes = []
    for _ in range(3):
        try:
            client.describe_jobs()
            outcomes.append("ok")
        except client.exceptions.InternalServerException:
            outcomes.append("500")

    assert outcomes == ["500", "500", "ok"]


def test_inject_fault_rejects_unknown_errors(emu: MgnEmulator) -> None:
    with pytest.raises(ValueError):
        emu.inject_fault("*", "NoSuchError")


# -- calls counter, clock, items, transport ------------------------------------------------------


def test_calls_counter(emu: MgnEmulator, client: Any) -> None:
    job_id, _ = _job_with_items(emu, 3)
    emu.inject_fault("DescribeJobs", "ThrottlingException")

    _read_all_log_pages(client, job_id, maxResults=1)
    with pytest.raises(client.exceptions.ThrottlingException):
        client.describe_jobs()
    client.describe_jobs()
    with pytest.raises(client.exceptions.ValidationException):
        client.list_managed_accounts(maxResults=5000)

    assert emu.calls == {"DescribeJobLogItems": 3, "DescribeJobs": 2, "ListManagedAccounts": 1}
    emu.reset_calls()
    assert emu.calls == {}


def test_clock() -> None:
    emu = MgnEmulator()
    before = datetime.now(UTC)
    assert before - timedelta(seconds=5) <= emu.now() <= datetime.now(UTC)
    emu.set_now(T0)
    emu.advance(1.5)
    assert emu.now() == T0 + timedelta(seconds=1.5)
    assert emu.now().tzinfo is not None


def test_make_item() -> None:
    when = datetime(2026, 11, 25, 10, 0, 0, 123456, tzinfo=UTC)

    bare = make_item("JOB_START", when)
    full = make_item(
        "CONVERSION_FAIL",
        when,
        SERVER_A,
        conversion_server_id="i-0123456789abcdef0",
        raw_error="boom",
        attempt_count=1,
        max_attempts_count=3,
    )

    assert bare == {
        "logDateTime": "2026-11-25T10:00:00.123Z",
        "event": "JOB_START",
        "eventData": {},
    }
    assert re.fullmatch(ISO_PATTERN, bare["logDateTime"])
    assert full["eventData"] == {
        "sourceServerID": SERVER_A,
        "conversionServerID": "i-0123456789abcdef0",
        "rawError": "boom",
        "attemptCount": 1,
        "maxAttemptsCount": 3,
    }


def test_endpoint_from_environment(emu: MgnEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_MGN", emu.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    job_id, items = _job_with_items(emu, 2)

    client = boto3.client("mgn", region_name="us-east-1", config=NO_RETRIES)

    assert client.describe_job_log_items(jobID=job_id)["items"] == items


def test_concurrent_clients(emu: MgnEmulator) -> None:
    job_id, items = _job_with_items(emu, 40)
    results: list[list[dict[str, Any]]] = []
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            pages = _read_all_log_pages(_client(emu), job_id, maxResults=3)
            results.append([item for page in pages for item in page["items"]])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert results == [items] * 8
    assert emu.calls["DescribeJobLogItems"] == 8 * 14


def test_stop_closes_the_endpoint() -> None:
    emu = MgnEmulator().start()
    client = _client(emu)
    client.list_managed_accounts()
    emu.stop()

    with pytest.raises(Exception):  # noqa: B017 - any connection failure
        client.list_managed_accounts()
