"""What names a job log event's server, application and wave, served by the MGN emulator:
DescribeSourceServers' identification hints, ListApplications and ListWaves, over HTTP
through boto3's real ``mgn`` client, and a played programme's inventory."""

from __future__ import annotations

import json
import random
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.validate import ParamValidator

from local.mgn_emulator import MgnEmulator, ProgrammeSpec, Timeline, generate_programme
from local.mgn_emulator.inventory import (
    RENAME_SUFFIX,
    UNASSIGNED_FROM,
    ServerGroup,
    plan_inventory,
)
from local.mgn_emulator.timefmt import format_datetime
from local.mgn_emulator.worlds import job_log, log_inventory

CALLER = "111111111111"
MANAGED = "222222222222"
T0 = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})
MODEL = botocore.session.get_session().get_service_model("mgn")
# 22 characters, so botocore's client-side length check passes and the server's pattern fails.
BAD_WAVE_ID = "wave-!!!!!!!!!!!!!!!!!"


def _pattern(shape: str) -> re.Pattern[str]:
    return re.compile(MODEL.shape_for(shape).metadata["pattern"])


WAVE_ID = _pattern("WaveID")
APPLICATION_ID = _pattern("ApplicationID")


@pytest.fixture
def emu() -> Iterator[MgnEmulator]:
    with MgnEmulator(caller_account=CALLER, region="us-east-1") as emulator:
        emulator.set_now(T0)
        emulator.add_account(MANAGED, initialized=True, managed=True)
        yield emulator


@pytest.fixture
def client(emu: MgnEmulator) -> Any:
    return boto3.client(
        "mgn",
        region_name="us-east-1",
        endpoint_url=emu.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=NO_RETRIES,
    )


def _pages(client: Any, operation: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Every page of a listing, following nextToken by hand (not botocore's paginator)."""
    call = getattr(client, operation)
    pages: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = call(**kwargs, **({"nextToken": token} if token else {}))
        pages.append(page)
        token = page.get("nextToken")
        if token is None:
            return pages
        assert len(pages) < 100, "pagination does not end"


def _ids(items: list[dict[str, Any]], key: str) -> list[str]:
    return [item[key] for item in items]


def _raw(emu: MgnEmulator, operation: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{emu.endpoint_url}/{operation}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _three_servers_in_a_wave(emu: MgnEmulator, account: str = CALLER) -> dict[str, str]:
    wave = emu.add_wave(account, name="Wave 1 - Finance", description="Finance workloads")
    payroll = emu.add_application(account, name="Payroll", wave_id=wave, tags={"cc": "42"})
    ledger = emu.add_application(account, name="Ledger", wave_id=wave)
    server = emu.add_source_server(
        account,
        hostname="fin-db-01",
        fqdn="fin-db-01.corp.example.com",
        name="fin-db-01",
        application_id=payroll,
    )
    return {"wave": wave, "payroll": payroll, "ledger": ledger, "server": server}


# -- rendering --------------------------------------------------------------------------------


def test_waves_and_applications_are_rendered_with_the_model_fields(
    emu: MgnEmulator, client: Any
) -> None:
    ids = _three_servers_in_a_wave(emu)

    waves = client.list_waves()["items"]
    apps = client.list_applications()["items"]

    assert WAVE_ID.fullmatch(ids["wave"]) and APPLICATION_ID.fullmatch(ids["payroll"])
    assert waves == [
        {
            "waveID": ids["wave"],
            "arn": f"arn:aws:mgn:us-east-1:{CALLER}:wave/{ids['wave']}",
            "name": "Wave 1 - Finance",
            "description": "Finance workloads",
            "isArchived": False,
            "waveAggregatedStatus": {"totalApplications": 2},
            "creationDateTime": format_datetime(T0),
            "lastModifiedDateTime": format_datetime(T0),
            "tags": {},
        }
    ]
    assert apps[0] == {
        "applicationID": ids["payroll"],
        "arn": f"arn:aws:mgn:us-east-1:{CALLER}:application/{ids['payroll']}",
        "name": "Payroll",
        "description": "",
        "isArchived": False,
        "applicationAggregatedStatus": {"totalSourceServers": 1},
        "creationDateTime": format_datetime(T0),
        "lastModifiedDateTime": format_datetime(T0),
        "tags": {"cc": "42"},
        "waveID": ids["wave"],
    }
    assert [app["name"] for app in apps] == ["Payroll", "Ledger"]


def test_source_servers_have_identification_hints_name_tag_and_application(
    emu: MgnEmulator, client: Any
) -> None:
    ids = _three_servers_in_a_wave(emu)
    implicit = "s-00000000000000001"
    emu.add_job(CALLER, source_server_ids=[implicit])

    named, bare = client.describe_source_servers()["items"]

    assert named["sourceServerID"] == ids["server"]
    assert named["sourceProperties"]["identificationHints"] == {
        "hostname": "fin-db-01",
        "fqdn": "fin-db-01.corp.example.com",
    }
    assert named["tags"] == {"Name": "fin-db-01"}
    assert named["applicationID"] == ids["payroll"]
    # A server MGN learnt of from a job only: no hints, no application.
    assert bare["sourceServerID"] == implicit
    assert bare["sourceProperties"] == {"identificationHints": {}}
    assert "applicationID" not in bare


def test_raw_responses_hold_only_members_of_the_model_output_shapes(emu: MgnEmulator) -> None:
    """botocore's parser drops unknown members silently, so the raw bodies are checked
    against the output shapes with botocore's own validator (unknown members, types)."""
    ids = _three_servers_in_a_wave(emu)
    emu.add_wave(CALLER, name="Wave 2 - Retail")
    emu.add_source_server(CALLER)
    # Jobs with every optional member of a participating server, and one without them.
    job = emu.add_job(CALLER, initiated_by="START_CUTOVER", source_server_ids=[ids["server"]])
    emu.add_job(CALLER, created=T0 + timedelta(minutes=1), source_server_ids=[ids["server"]])
    emu.set_launched_instance(CALLER, job, ids["server"], "i-0a1b2c3d4e5f60718")
    emu.set_ssm_agent_discovered(CALLER, job, ids["server"], T0 + timedelta(minutes=20))
    emu.set_post_launch_action(
        CALLER,
        job,
        ids["server"],
        execution_id="7f0e5a8c-2b1d-4c3e-9f8a-6b5c4d3e2f10",
        action_name="HTTP(S) response validation",
        document_name="AWSMigration-ValidateHttpResponse",
        status="FAILED",
        must_succeed=True,
        timeout_seconds=300,
        failure_reason="Step fails when it is CheckResponse. Fail type: Exception.",
        parameters={"url": [{"parameterType": "STRING", "parameterName": "check-url"}]},
        external_parameters={"instance": {"dynamicPath": "launchedEc2InstanceID"}},
    )
    validator = ParamValidator()
    for operation in ("ListWaves", "ListApplications", "DescribeSourceServers", "DescribeJobs"):
        status, body = _raw(emu, operation, {"maxResults": 1})
        assert status == 200
        assert body["items"] and body["nextToken"]
        shape = MODEL.operation_model(operation).output_shape
        assert shape is not None
        report = validator.validate(body, shape)
        assert not report.has_errors(), report.generate_report()
    (rendered,) = _raw(emu, "DescribeJobs", {"maxResults": 1})[1]["items"]
    assert rendered["jobID"] == job
    assert set(rendered["participatingServers"][0]) == {
        "sourceServerID",
        "launchStatus",
        "launchedEc2InstanceID",
        "postLaunchActionsStatus",
    }


# -- pagination -------------------------------------------------------------------------------


def test_listings_paginate_in_insertion_order(emu: MgnEmulator, client: Any) -> None:
    waves = [emu.add_wave(CALLER, name=f"Wave {n}") for n in range(1, 8)]
    apps = [emu.add_application(CALLER, name=f"App {n}", wave_id=waves[n % 7]) for n in range(9)]
    servers = [
        emu.add_source_server(CALLER, hostname=f"h{n}", application_id=apps[n % 9])
        for n in range(11)
    ]

    wave_pages = _pages(client, "list_waves", maxResults=3)
    app_pages = _pages(client, "list_applications", maxResults=4)
    server_pages = _pages(client, "describe_source_servers", maxResults=5)

    assert [len(page["items"]) for page in wave_pages] == [3, 3, 1]
    assert [len(page["items"]) for page in app_pages] == [4, 4, 1]
    assert [len(page["items"]) for page in server_pages] == [5, 5, 1]
    assert _ids([i for p in wave_pages for i in p["items"]], "waveID") == waves
    assert _ids([i for p in app_pages for i in p["items"]], "applicationID") == apps
    assert _ids([i for p in server_pages for i in p["items"]], "sourceServerID") == servers
    assert "nextToken" not in wave_pages[-1]
    # botocore's own paginators, with the emulator's short pages on top.
    emu.max_page_size = 2
    for operation, key, expected in (
        ("list_waves", "waveID", waves),
        ("list_applications", "applicationID", apps),
    ):
        pages = list(client.get_paginator(operation).paginate())
        assert max(len(page["items"]) for page in pages) == 2
        assert _ids([i for p in pages for i in p["items"]], key) == expected


def test_a_wave_added_between_pages_is_not_repeated_nor_skipped(
    emu: MgnEmulator, client: Any
) -> None:
    first = [emu.add_wave(CALLER, name=f"Wave {n}") for n in range(3)]
    page = client.list_waves(maxResults=2)
    later = emu.add_wave(CALLER, name="Wave 9")

    rest = client.list_waves(nextToken=page["nextToken"])["items"]

    assert _ids(page["items"], "waveID") + _ids(rest, "waveID") == [*first, later]


def test_tokens_are_bound_to_their_operation(emu: MgnEmulator, client: Any) -> None:
    for n in range(3):
        emu.add_application(CALLER, name=f"App {n}", wave_id=emu.add_wave(CALLER, name=f"W{n}"))
    token = client.list_waves(maxResults=1)["nextToken"]

    with pytest.raises(client.exceptions.ValidationException) as caught:
        client.list_applications(nextToken=token)

    assert [f["name"] for f in caught.value.response["fieldList"]] == ["nextToken"]


# -- filters ----------------------------------------------------------------------------------


def test_list_applications_filters(emu: MgnEmulator, client: Any) -> None:
    one = emu.add_wave(CALLER, name="Wave 1 - Finance")
    two = emu.add_wave(CALLER, name="Wave 2 - Retail")
    payroll = emu.add_application(CALLER, name="Payroll", wave_id=one)
    shop = emu.add_application(CALLER, name="Web shop", wave_id=two)
    loose = emu.add_application(CALLER, name="Print")
    old = emu.add_application(CALLER, name="Fax", wave_id=one, is_archived=True)

    def listed(**filters: Any) -> list[str]:
        return _ids(client.list_applications(filters=filters)["items"], "applicationID")

    assert listed() == [payroll, shop, loose, old]
    assert listed(waveIDs=[one]) == [payroll, old]
    assert listed(waveIDs=[one], isArchived=False) == [payroll]
    assert listed(isArchived=True) == [old]
    assert listed(applicationIDs=[shop, loose]) == [shop, loose]
    assert listed(applicationIDs=[shop], waveIDs=[one]) == []
    assert listed(applicationIDs=[], waveIDs=[]) == [payroll, shop, loose, old]
    assert "waveID" not in client.list_applications(filters={"applicationIDs": [loose]})["items"][0]


def test_list_waves_filters_and_archiving(emu: MgnEmulator, client: Any) -> None:
    one = emu.add_wave(CALLER, name="Wave 1")
    two = emu.add_wave(CALLER, name="Wave 2")
    emu.archive_wave(CALLER, one)

    def listed(**filters: Any) -> list[str]:
        return _ids(client.list_waves(filters=filters)["items"], "waveID")

    assert listed() == [one, two]
    assert listed(isArchived=True) == [one]
    assert listed(isArchived=False, waveIDs=[one, two]) == [two]
    assert listed(waveIDs=[two]) == [two]
    emu.archive_wave(CALLER, one, archived=False)
    assert listed(isArchived=False) == [one, two]


def test_describe_source_servers_filters_by_application(emu: MgnEmulator, client: Any) -> None:
    ids = _three_servers_in_a_wave(emu)
    other = emu.add_source_server(CALLER, hostname="fin-app-01", application_id=ids["ledger"])
    loose = emu.add_source_server(CALLER, hostname="fin-app-02")

    def listed(application: str) -> list[str]:
        items = client.describe_source_servers(filters={"applicationIDs": [application]})
        return _ids(items["items"], "sourceServerID")

    assert listed(ids["payroll"]) == [ids["server"]]
    assert listed(ids["ledger"]) == [other]
    emu.assign_application(CALLER, loose, ids["ledger"])
    emu.assign_application(CALLER, other, None)
    assert listed(ids["ledger"]) == [loose]


def test_filters_are_validated_against_the_model(emu: MgnEmulator) -> None:
    status, body = _raw(emu, "ListApplications", {"filters": {"waveIDs": [BAD_WAVE_ID]}})
    assert status == 400
    assert body["reason"] == "fieldValidationFailed"
    assert [f["name"] for f in body["fieldList"]] == ["filters.waveIDs[0]"]
    status, body = _raw(emu, "ListWaves", {"filters": {"isArchived": "no"}, "maxResults": 0})
    assert status == 400
    assert sorted(f["name"] for f in body["fieldList"]) == ["filters.isArchived", "maxResults"]


# -- accounts ---------------------------------------------------------------------------------


def test_global_view_lists_a_managed_accounts_waves_and_applications(
    emu: MgnEmulator, client: Any
) -> None:
    ids = _three_servers_in_a_wave(emu, account=MANAGED)
    emu.add_account("333333333333", initialized=False, managed=True)

    waves = client.list_waves(accountID=MANAGED)["items"]
    apps = client.list_applications(accountID=MANAGED, filters={"waveIDs": [ids["wave"]]})
    servers = client.describe_source_servers(accountID=MANAGED)["items"]

    assert _ids(waves, "waveID") == [ids["wave"]]
    assert waves[0]["arn"] == f"arn:aws:mgn:us-east-1:{MANAGED}:wave/{ids['wave']}"
    assert _ids(apps["items"], "applicationID") == [ids["payroll"], ids["ledger"]]
    assert _ids(servers, "sourceServerID") == [ids["server"]]
    assert client.list_waves()["items"] == []  # the caller's own account has none
    assert client.list_applications(accountID=CALLER)["items"] == []
    with pytest.raises(client.exceptions.UninitializedAccountException):
        client.list_waves(accountID="333333333333")
    with pytest.raises(client.exceptions.UninitializedAccountException):
        client.list_applications(accountID="333333333333")
    with pytest.raises(client.exceptions.AccessDeniedException):
        client.list_applications(accountID="444444444444")
    token = client.list_applications(accountID=MANAGED, maxResults=1)["nextToken"]
    with pytest.raises(client.exceptions.ValidationException):
        client.list_applications(nextToken=token)  # issued for another account


# -- changes ----------------------------------------------------------------------------------


def test_a_renamed_wave_shows_its_new_name(emu: MgnEmulator, client: Any) -> None:
    ids = _three_servers_in_a_wave(emu)
    emu.advance(90)
    emu.rename_wave(CALLER, ids["wave"], "Wave 1 - Finance and HR", description="Grown")
    emu.rename_application(CALLER, ids["ledger"], "General ledger")

    (wave,) = client.list_waves()["items"]
    ledger = client.list_applications(filters={"applicationIDs": [ids["ledger"]]})["items"][0]

    assert (wave["name"], wave["description"]) == ("Wave 1 - Finance and HR", "Grown")
    assert wave["creationDateTime"] == format_datetime(T0)
    assert wave["lastModifiedDateTime"] == format_datetime(T0 + timedelta(seconds=90))
    assert ledger["name"] == "General ledger" and ledger["waveID"] == ids["wave"]


def test_moving_an_application_to_another_wave(emu: MgnEmulator, client: Any) -> None:
    ids = _three_servers_in_a_wave(emu)
    later = emu.add_wave(CALLER, name="Wave 2 - Retail")
    emu.assign_wave(CALLER, ids["ledger"], later)

    waves = {w["waveID"]: w for w in client.list_waves()["items"]}
    moved = client.list_applications(filters={"waveIDs": [later]})["items"]

    assert _ids(moved, "applicationID") == [ids["ledger"]]
    assert waves[ids["wave"]]["waveAggregatedStatus"] == {"totalApplications": 1}
    assert waves[later]["waveAggregatedStatus"] == {"totalApplications": 1}


def test_set_up_mistakes_fail_loudly(emu: MgnEmulator) -> None:
    ids = _three_servers_in_a_wave(emu)
    with pytest.raises(KeyError):
        emu.add_application(MANAGED, name="Payroll", wave_id=ids["wave"])  # another account's
    with pytest.raises(KeyError):
        emu.add_source_server(MANAGED, application_id=ids["payroll"])
    with pytest.raises(KeyError):
        emu.assign_application(CALLER, "s-00000000000000009", ids["payroll"])
    with pytest.raises(ValueError):
        emu.add_wave(CALLER, name=" leading space")  # not the model's WaveName pattern
    with pytest.raises(ValueError):
        emu.add_wave(CALLER, ids["wave"], name="Again")  # the id is taken
    with pytest.raises(ValueError):
        emu.add_application(CALLER, "app-short", name="Payroll")
    with pytest.raises(ValueError):
        emu.add_source_server(CALLER, hostname="h" * 257)


# -- a played programme -------------------------------------------------------------------------

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TIMELINE = Timeline(
    live_start=NOW - timedelta(minutes=50), live_end=NOW, history_start=NOW - timedelta(days=3)
)


def _all(client: Any, operation: str, account: str) -> list[dict[str, Any]]:
    pages = client.get_paginator(operation).paginate(accountID=account)
    return [item for page in pages for item in page["items"]]


def test_a_played_programme_names_every_server_application_and_wave(emu: MgnEmulator) -> None:
    programme = generate_programme(ProgrammeSpec(seed=1), TIMELINE, caller_account=CALLER)
    emu.set_now(TIMELINE.live_start)
    emu.play(programme)
    client = emu.client(NO_RETRIES)
    named = {(job.account_id, s) for job in programme.jobs for s in job.source_server_ids}

    servers: dict[tuple[str, str], dict[str, Any]] = {}
    unassigned = 0
    for account in programme.exported_accounts:
        waves = {w["waveID"]: w for w in _all(client, "list_waves", account)}
        apps = {a["applicationID"]: a for a in _all(client, "list_applications", account)}
        for server in _all(client, "describe_source_servers", account):
            servers[(account, server["sourceServerID"])] = server
            hints = server["sourceProperties"]["identificationHints"]
            assert re.fullmatch(r"[a-z]+-[a-z]+-[0-9]{2}", hints["hostname"])
            assert hints["fqdn"] == f"{hints['hostname']}.corp.example.com"
            assert server["tags"]["Name"] == hints["hostname"]
            if "applicationID" not in server:
                unassigned += 1
                continue
            wave = waves[apps[server["applicationID"]]["waveID"]]
            assert re.fullmatch(r"Wave [0-9]+ - [A-Za-z ]+", wave["name"])
        assert {a["waveID"] for a in apps.values()} == set(waves)
    assert set(servers) == named
    assert unassigned == 1
    hostnames = [s["sourceProperties"]["identificationHints"]["hostname"] for s in servers.values()]
    assert len(set(hostnames)) == len(hostnames)


def test_a_programme_maps_each_of_its_waves_to_one_mgn_wave_per_account(
    emu: MgnEmulator,
) -> None:
    programme = generate_programme(ProgrammeSpec(seed=1), TIMELINE, caller_account=CALLER)
    emu.set_now(TIMELINE.live_start)
    emu.play(programme)
    client = emu.client(NO_RETRIES)
    expected = {(job.account_id, job.wave) for job in programme.jobs}

    listed = {
        (account, int(wave["name"].split()[1]))
        for account in programme.exported_accounts
        for wave in _all(client, "list_waves", account)
    }

    assert listed == expected
    assert len(programme.inventory.waves) == len(expected)


def test_a_programme_renames_a_wave_mid_run(emu: MgnEmulator) -> None:
    programme = generate_programme(ProgrammeSpec(seed=1), TIMELINE, caller_account=CALLER)
    (rename, *_) = programme.inventory.renames
    emu.set_now(TIMELINE.live_start)
    emu.play(programme)
    client = emu.client(NO_RETRIES)

    def name() -> str:
        waves = client.list_waves(
            accountID=rename.account_id, filters={"waveIDs": [rename.wave_id]}
        )
        return str(waves["items"][0]["name"])

    before = name()
    emu.set_now(rename.at)
    after = name()

    assert after == before + RENAME_SUFFIX == rename.name
    live = next(job for job in programme.jobs if job.live)
    assert live.created < rename.at < live.ended


def test_the_inventory_is_deterministic_and_apart_from_the_jobs() -> None:
    spec = ProgrammeSpec(accounts=4, jobs=12, seed=3)
    first = generate_programme(spec, TIMELINE, caller_account=CALLER)
    again = generate_programme(spec, TIMELINE, caller_account=CALLER)
    other = generate_programme(
        ProgrammeSpec(accounts=4, jobs=12, seed=4), TIMELINE, caller_account=CALLER
    )

    assert first.inventory == again.inventory
    assert {w.wave_id for w in first.inventory.waves}.isdisjoint(
        w.wave_id for w in other.inventory.waves
    )
    # Only the jobs' servers have records, each once.
    servers = [(s.account_id, s.source_server_id) for s in first.inventory.servers]
    assert len(servers) == len(set(servers))
    assert set(servers) == {(j.account_id, s) for j in first.jobs for s in j.source_server_ids}


@pytest.mark.parametrize(("count", "unassigned"), [(3, 0), (UNASSIGNED_FROM, 1), (9, 1)])
def test_one_server_is_left_out_of_applications_once_there_are_enough(
    count: int, unassigned: int
) -> None:
    servers = tuple(f"s-{n:017x}" for n in range(count))
    inventory = plan_inventory(1, [ServerGroup(1, CALLER, servers)], T0)

    assert [s.application_id for s in inventory.servers].count(None) == unassigned
    # Taken from a shared application: none is left empty for it.
    used = {s.application_id for s in inventory.servers}
    assert {a.application_id for a in inventory.applications} <= used


def test_a_job_log_worlds_servers_get_records(emu: MgnEmulator, client: Any) -> None:
    items = job_log(40, start=T0, rng=random.Random(5))
    job = emu.add_job(CALLER)
    emu.append_items(CALLER, job, items)
    emu.add_inventory(log_inventory(CALLER, items, created=T0 - timedelta(days=1), seed=5))

    mentioned = {i["eventData"]["sourceServerID"] for i in items if i["eventData"]}
    servers = client.describe_source_servers()["items"]

    assert {s["sourceServerID"] for s in servers} == mentioned
    assert all(s["sourceProperties"]["identificationHints"]["hostname"] for s in servers)
    (wave,) = client.list_waves()["items"]
    assert wave["name"].startswith("Wave 1 - ")
    assert log_inventory(CALLER, [], created=T0).servers == ()
