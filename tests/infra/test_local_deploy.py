"""The synthesized template deploys into moto's CloudFormation, as the sandbox does it."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto.cloudformation.parsing import get_model_map

from infra import constants as c
from infra.local_deploy import (
    MOTO_UNSUPPORTED_RESOURCE_TYPES,
    LocalDeployError,
    LocalDeployment,
    deploy_assembly,
    local_session,
    moto_server,
    trim_template,
    zip_directory,
)
from tests.infra.conftest import Synth

# moto has a model for these, but not one that can create them from a CDK template.
HAS_MODEL_BUT_FAILS = {"AWS::Events::Archive"}


def test_trim_drops_only_the_listed_types_and_what_hangs_off_them() -> None:
    template: dict[str, Any] = {
        "Resources": {
            "Group": {"Type": "AWS::Logs::LogGroup", "Properties": {}},
            "Query": {
                "Type": "AWS::Logs::QueryDefinition",
                "Properties": {"LogGroupNames": [{"Ref": "Group"}]},
            },
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "DependsOn": ["Query", "Group"],
                "Properties": {"Environment": {"Variables": {"G": {"Ref": "Group"}}}},
            },
        },
        "Outputs": {
            "QueryId": {"Value": {"Fn::GetAtt": ["Query", "QueryDefinitionId"]}},
            "GroupName": {"Value": {"Ref": "Group"}},
        },
    }
    result = trim_template(template)
    assert sorted(result.template["Resources"]) == ["Fn", "Group"]
    assert result.template["Resources"]["Fn"]["DependsOn"] == ["Group"]
    assert [(d.logical_id, d.type) for d in result.dropped] == [
        ("Query", "AWS::Logs::QueryDefinition")
    ]
    assert result.dropped_outputs == ["QueryId"]
    assert list(result.template["Outputs"]) == ["GroupName"]
    assert "Query" in template["Resources"], "the input template is not modified"


def test_trim_refuses_when_a_kept_resource_needs_a_dropped_one() -> None:
    template = {
        "Resources": {
            "Registry": {"Type": "AWS::EventSchemas::Registry", "Properties": {}},
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Description": {"Fn::Sub": "uses ${Registry.RegistryArn}"}},
            },
        }
    }
    with pytest.raises(LocalDeployError, match="Registry"):
        trim_template(template)


def test_the_drop_list_is_exactly_what_moto_cannot_create(synth: Synth) -> None:
    models = get_model_map()
    for resource_type in MOTO_UNSUPPORTED_RESOURCE_TYPES - HAS_MODEL_BUT_FAILS:
        assert resource_type not in models, f"moto now supports {resource_type}: stop dropping it"
    kept = trim_template(synth.template_json).template["Resources"].values()
    unsupported_kept = {r["Type"] for r in kept} - set(models)
    assert unsupported_kept == set(), "moto would skip these silently"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(scope="module")
def deployment(synth: Synth, moto_url: str) -> LocalDeployment:
    return deploy_assembly(synth.outdir, endpoint_url=moto_url)


def test_stack_deploys_and_reports_what_was_dropped(deployment: LocalDeployment) -> None:
    assert deployment.status == "CREATE_COMPLETE"
    dropped_types = {d.type for d in deployment.dropped}
    assert dropped_types <= MOTO_UNSUPPORTED_RESOURCE_TYPES
    assert {"AWS::Logs::QueryDefinition", "AWS::EventSchemas::Schema"} <= dropped_types
    assert set(deployment.dropped_outputs) == {"SchemaRegistryName", "ArchiveName"}


def test_function_environment_resolves_to_the_deployed_resources(
    synth: Synth, deployment: LocalDeployment, moto_url: str
) -> None:
    session = local_session()
    function_name = deployment.outputs["FunctionName"]
    config = session.client("lambda", endpoint_url=moto_url).get_function_configuration(
        FunctionName=function_name
    )
    env = config["Environment"]["Variables"]
    ids = deployment.physical_ids
    table = synth.logical_id("AWS::DynamoDB::Table", "/Checkpoints/")
    event_log = synth.logical_id("AWS::Logs::LogGroup", "/EventLog/")

    assert env[c.ENV_CHECKPOINT_TABLE_NAME] == ids[table]
    assert env[c.ENV_CHECKPOINT_TABLE_NAME] == deployment.outputs["CheckpointTableName"]
    described = session.client("dynamodb", endpoint_url=moto_url).describe_table(
        TableName=env[c.ENV_CHECKPOINT_TABLE_NAME]
    )["Table"]
    assert described["KeySchema"] == [{"AttributeName": c.TABLE_PARTITION_KEY, "KeyType": "HASH"}]

    assert env[c.ENV_EVENT_BUS_NAME] == synth.config.event_bus_name
    bus = session.client("events", endpoint_url=moto_url).describe_event_bus(
        Name=env[c.ENV_EVENT_BUS_NAME]
    )
    assert bus["Arn"] == deployment.outputs["EventBusArn"]

    assert env[c.ENV_EVENT_LOG_GROUP_NAME] == ids[event_log] == synth.config.event_log_group_name
    groups = session.client("logs", endpoint_url=moto_url).describe_log_groups(
        logGroupNamePrefix=env[c.ENV_EVENT_LOG_GROUP_NAME]
    )["logGroups"]
    assert [(g["logGroupName"], g.get("retentionInDays")) for g in groups] == [
        (synth.config.event_log_group_name, synth.config.event_log_retention_days)
    ]
    assert env[c.ENV_EVENT_SOURCE] == synth.config.event_source


def test_schedule_targets_the_function_and_its_code_is_the_asset(
    synth: Synth, deployment: LocalDeployment, moto_url: str
) -> None:
    session = local_session()
    lambda_client = session.client("lambda", endpoint_url=moto_url)
    function = lambda_client.get_function(FunctionName=deployment.outputs["FunctionName"])
    schedule = synth.logical_id("AWS::Events::Rule", "/Exporter/Schedule")
    events = session.client("events", endpoint_url=moto_url)
    rule = events.describe_rule(Name=deployment.physical_ids[schedule])
    assert rule["ScheduleExpression"] == f"rate({synth.config.schedule_rate_minutes} minutes)"
    targets = events.list_targets_by_rule(Rule=deployment.physical_ids[schedule])["Targets"]
    assert [t["Arn"] for t in targets] == [function["Configuration"]["FunctionArn"]]

    assets = json.loads(next(synth.outdir.glob("*.assets.json")).read_text(encoding="utf-8"))
    (code,) = (a for a in assets["files"].values() if a["source"]["packaging"] == "zip")
    expected = base64.b64encode(
        hashlib.sha256(zip_directory(synth.outdir / code["source"]["path"])).digest()
    ).decode()
    assert function["Configuration"]["CodeSha256"] == expected
    assert function["Configuration"]["Handler"] == c.HANDLER
