"""The synthesized template deploys into moto's CloudFormation, as the sandbox does it."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.cloudformation.parsing import get_model_map

from infra import constants as c
from local.moto_deploy import (
    MOTO_UNSUPPORTED_RESOURCE_TYPES,
    LocalDeployError,
    LocalDeployment,
    deploy_assembly,
    local_session,
    moto_server,
    name_fifo_queues,
    trim_template,
    zip_directory,
)
from local.sandbox.planned import read_planned
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


def test_a_kept_resource_gets_the_arn_of_a_dropped_alarm_spelled_out() -> None:
    # The dashboard refers to the alarms (GetAtt Arn); moto cannot create alarms, so the local
    # deploy writes each ARN out from the alarm's name, as CloudFormation would resolve it.
    template: dict[str, Any] = {
        "Resources": {
            "Errors": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"AlarmName": "S-Errors"}},
            "Unnamed": {"Type": "AWS::CloudWatch::Alarm", "Properties": {}},
            "Board": {
                "Type": "AWS::CloudWatch::Dashboard",
                "Properties": {
                    "DashboardBody": {
                        "Fn::Join": ["", ['{"alarms":["', {"Fn::GetAtt": ["Errors", "Arn"]}, '"]}']]
                    }
                },
            },
        },
        "Outputs": {"ErrorsAlarm": {"Value": {"Ref": "Errors"}}},
    }
    result = trim_template(template)
    assert result.respelled == {"Board": ["Errors"]}
    body = result.template["Resources"]["Board"]["Properties"]["DashboardBody"]
    (arn,) = (part for part in body["Fn::Join"][1] if isinstance(part, dict))
    assert arn == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":cloudwatch:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":alarm:S-Errors",
            ],
        ]
    }
    # Outputs of dropped resources still go: an output is no kept resource.
    assert result.dropped_outputs == ["ErrorsAlarm"]
    assert (
        "Errors"
        in template["Resources"]["Board"]["Properties"]["DashboardBody"]["Fn::Join"][1][1][
            "Fn::GetAtt"
        ]
    ), "the input template is not modified"
    # An alarm without a literal name has no ARN to spell: the reference is refused as before.
    template["Resources"]["Board"]["Properties"]["DashboardBody"]["Fn::Join"][1][1] = {
        "Fn::GetAtt": ["Unnamed", "Arn"]
    }
    with pytest.raises(LocalDeployError, match="Unnamed"):
        trim_template(template)


def test_the_drop_list_is_exactly_what_moto_cannot_create(synth: Synth) -> None:
    models = get_model_map()
    for resource_type in MOTO_UNSUPPORTED_RESOURCE_TYPES - HAS_MODEL_BUT_FAILS:
        assert resource_type not in models, f"moto now supports {resource_type}: stop dropping it"
    kept = trim_template(synth.template_json).template["Resources"].values()
    unsupported_kept = {r["Type"] for r in kept} - set(models)
    assert unsupported_kept == set(), "moto would skip these silently"


def test_unnamed_fifo_queues_get_a_fifo_name_and_nothing_else_changes() -> None:
    template: dict[str, Any] = {
        "Resources": {
            "Work": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": True}},
            "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": "true"}},
            "Named": {
                "Type": "AWS::SQS::Queue",
                "Properties": {"FifoQueue": True, "QueueName": "mine.fifo"},
            },
            "Standard": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Bare": {"Type": "AWS::SQS::Queue"},
            "Fn": {"Type": "AWS::Lambda::Function"},
        }
    }
    original = json.loads(json.dumps(template))
    stack = "S" * 100  # long enough to need truncating
    named = name_fifo_queues(template, stack)
    assert sorted(named) == ["Dlq", "Work"]
    for logical_id, name in named.items():
        assert template["Resources"][logical_id]["Properties"]["QueueName"] == name
        assert name.endswith(".fifo") and len(name) <= 80, name
    assert named["Work"] != named["Dlq"]
    assert name_fifo_queues(json.loads(json.dumps(original)), stack) == named, "stable"
    for logical_id in ("Named", "Standard", "Bare", "Fn"):
        assert template["Resources"][logical_id] == original["Resources"][logical_id]


def test_moto_still_refuses_an_unnamed_fifo_queue(moto_url: str) -> None:
    # Why name_fifo_queues exists: once this passes, moto names FIFO queues as CloudFormation
    # does and the step can go.
    cfn = local_session().client("cloudformation", endpoint_url=moto_url)
    template = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": True}}}}
    with pytest.raises(ClientError, match=r"\.fifo"):
        cfn.create_stack(StackName="UnnamedFifoProbe", TemplateBody=json.dumps(template))


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
    # The event source mapping and the FIFO queues are created for real.
    assert "AWS::Lambda::EventSourceMapping" not in dropped_types
    assert "AWS::SQS::Queue" not in dropped_types


def test_only_the_fifo_queues_were_named_for_moto(
    synth: Synth, deployment: LocalDeployment
) -> None:
    fifo = {
        logical_id
        for logical_id, queue in synth.resources("AWS::SQS::Queue").items()
        if queue["Properties"].get("FifoQueue") is True
    }
    assert fifo == {
        synth.logical_id("AWS::SQS::Queue", "/WorkQueue/Queue"),
        synth.logical_id("AWS::SQS::Queue", "/WorkQueue/DeadLetterQueue"),
    }
    assert set(deployment.named_fifo_queues) == fifo
    for logical_id, name in deployment.named_fifo_queues.items():
        assert deployment.physical_ids[logical_id].endswith(f"/{name}")


def _environment(moto_url: str, function_name: str) -> dict[str, str]:
    config = (
        local_session()
        .client("lambda", endpoint_url=moto_url)
        .get_function_configuration(FunctionName=function_name)
    )
    return dict(config["Environment"]["Variables"])


def test_worker_environment_resolves_to_the_deployed_resources(
    synth: Synth, deployment: LocalDeployment, moto_url: str
) -> None:
    session = local_session()
    env = _environment(moto_url, deployment.outputs["WorkerFunctionName"])
    ids = deployment.physical_ids
    table = synth.logical_id("AWS::DynamoDB::Table", "/Checkpoints/")
    event_log = synth.logical_id("AWS::Logs::LogGroup", "/EventLog/")

    assert env[c.ENV_CHECKPOINT_TABLE_NAME] == ids[table]
    assert env[c.ENV_CHECKPOINT_TABLE_NAME] == deployment.outputs["CheckpointTableName"]
    described = session.client("dynamodb", endpoint_url=moto_url).describe_table(
        TableName=env[c.ENV_CHECKPOINT_TABLE_NAME]
    )["Table"]
    assert described["KeySchema"] == [{"AttributeName": c.TABLE_PARTITION_KEY, "KeyType": "HASH"}]

    # Named after the stack, and unique to this stack instance (the stack ID's first group).
    suffix = deployment.stack_id.rsplit("/", 1)[1].split("-")[0]
    assert env[c.ENV_EVENT_BUS_NAME] == f"{synth.stack_name}-events-{suffix}"
    assert env[c.ENV_EVENT_BUS_NAME] == deployment.outputs["EventBusName"]
    bus = session.client("events", endpoint_url=moto_url).describe_event_bus(
        Name=env[c.ENV_EVENT_BUS_NAME]
    )
    assert bus["Arn"] == deployment.outputs["EventBusArn"]

    log_group_name = f"/{synth.stack_name}/events-{suffix}"
    assert env[c.ENV_EVENT_LOG_GROUP_NAME] == ids[event_log] == log_group_name
    assert deployment.outputs["EventLogGroupName"] == log_group_name
    groups = session.client("logs", endpoint_url=moto_url).describe_log_groups(
        logGroupNamePrefix=env[c.ENV_EVENT_LOG_GROUP_NAME]
    )["logGroups"]
    assert [(g["logGroupName"], g.get("retentionInDays")) for g in groups] == [
        (log_group_name, synth.config.event_log_retention_days)
    ]
    assert env[c.ENV_EVENT_SOURCE] == synth.config.event_source
    assert env[c.ENV_WORK_QUEUE_URL] == deployment.outputs["WorkQueueUrl"]
    assert c.ENV_ACCOUNTS not in env


def test_dispatcher_environment_names_the_work_queue_and_the_accounts(
    synth: Synth, deployment: LocalDeployment, moto_url: str
) -> None:
    env = _environment(moto_url, deployment.outputs["DispatcherFunctionName"])
    assert env[c.ENV_WORK_QUEUE_URL] == deployment.outputs["WorkQueueUrl"]
    assert env[c.ENV_ACCOUNTS] == synth.config.accounts
    attributes = (
        local_session()
        .client("sqs", endpoint_url=moto_url)
        .get_queue_attributes(QueueUrl=env[c.ENV_WORK_QUEUE_URL], AttributeNames=["QueueArn"])
    )
    assert attributes["Attributes"]["QueueArn"] == deployment.outputs["WorkQueueArn"]
    assert not {c.ENV_CHECKPOINT_TABLE_NAME, c.ENV_EVENT_BUS_NAME} & set(env)


def test_work_queue_feeds_the_worker_through_an_event_source_mapping(
    synth: Synth, deployment: LocalDeployment, moto_url: str
) -> None:
    lambda_client = local_session().client("lambda", endpoint_url=moto_url)
    worker = lambda_client.get_function_configuration(
        FunctionName=deployment.outputs["WorkerFunctionName"]
    )
    queue_arn = deployment.outputs["WorkQueueArn"]
    (mapping,) = lambda_client.list_event_source_mappings(EventSourceArn=queue_arn)[
        "EventSourceMappings"
    ]
    assert mapping["FunctionArn"] == worker["FunctionArn"]
    assert mapping["State"] == "Enabled"
    assert mapping["BatchSize"] == synth.config.worker_batch_size
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": synth.config.worker_max_concurrency}
    # The dispatcher is the schedule's target only.
    dispatcher = deployment.outputs["DispatcherFunctionName"]
    assert (
        lambda_client.list_event_source_mappings(FunctionName=dispatcher)["EventSourceMappings"]
        == []
    )


def test_work_queue_is_fifo_and_redrives_to_a_fifo_dead_letter_queue(
    synth: Synth, deployment: LocalDeployment, moto_url: str
) -> None:
    sqs = local_session().client("sqs", endpoint_url=moto_url)
    queue = sqs.get_queue_attributes(
        QueueUrl=deployment.outputs["WorkQueueUrl"], AttributeNames=["All"]
    )["Attributes"]
    dlq = sqs.get_queue_attributes(
        QueueUrl=deployment.outputs["WorkDeadLetterQueueUrl"], AttributeNames=["All"]
    )["Attributes"]
    assert queue["QueueArn"] == deployment.outputs["WorkQueueArn"]
    assert queue["FifoQueue"] == "true"
    assert queue["ContentBasedDeduplication"] == "false"
    assert int(queue["VisibilityTimeout"]) == (
        c.WORK_QUEUE_VISIBILITY_TIMEOUT_FACTOR * c.WORKER_TIMEOUT_SECONDS
    )
    assert json.loads(queue["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq["QueueArn"],
        "maxReceiveCount": synth.config.worker_max_receive_count,
    }
    assert dlq["FifoQueue"] == "true"
    assert int(dlq["MessageRetentionPeriod"]) == 14 * 24 * 3600


def test_schedule_targets_the_dispatcher_and_the_code_is_the_asset(
    synth: Synth, deployment: LocalDeployment, moto_url: str
) -> None:
    session = local_session()
    lambda_client = session.client("lambda", endpoint_url=moto_url)
    dispatcher = lambda_client.get_function(
        FunctionName=deployment.outputs["DispatcherFunctionName"]
    )
    worker = lambda_client.get_function(FunctionName=deployment.outputs["WorkerFunctionName"])
    schedule = synth.logical_id("AWS::Events::Rule", "/Dispatcher/Schedule")
    events = session.client("events", endpoint_url=moto_url)
    rule = events.describe_rule(Name=deployment.physical_ids[schedule])
    assert rule["ScheduleExpression"] == f"rate({synth.config.schedule_rate_minutes} minutes)"
    targets = events.list_targets_by_rule(Rule=deployment.physical_ids[schedule])["Targets"]
    assert [t["Arn"] for t in targets] == [dispatcher["Configuration"]["FunctionArn"]]

    assets = json.loads(next(synth.outdir.glob("*.assets.json")).read_text(encoding="utf-8"))
    (code,) = (a for a in assets["files"].values() if a["source"]["packaging"] == "zip")
    expected = base64.b64encode(
        hashlib.sha256(zip_directory(synth.outdir / code["source"]["path"])).digest()
    ).decode()
    assert dispatcher["Configuration"]["CodeSha256"] == expected
    assert worker["Configuration"]["CodeSha256"] == expected
    assert dispatcher["Configuration"]["Handler"] == c.DISPATCHER_HANDLER
    assert worker["Configuration"]["Handler"] == c.WORKER_HANDLER


def test_the_sandbox_reads_the_settings_its_options_must_fit_before_deploying(
    synth: Synth,
) -> None:
    planned = read_planned(synth.outdir)
    assert planned.overlap_minutes == synth.config.discovery_overlap_minutes
    assert planned.backfill_days == synth.config.backfill_days
    assert planned.schedule_minutes == synth.config.schedule_rate_minutes
    assert planned.max_concurrency == synth.config.worker_max_concurrency
