"""Assertions on the synthesized template: what a security review and on-call rely on."""

from __future__ import annotations

import ast
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import botocore.session
import pytest
from aws_cdk.assertions import Capture, Match
from botocore import xform_name
from moto.events.models import EventPattern

from infra import constants as c
from infra.event_log import SAVED_QUERIES
from infra.event_schema import load_schema_text, schema_name_for
from infra.monitoring import work_queue_age_alarm_seconds
from infra.naming import STACK_INSTANCE_SUFFIX_EXPRESSION
from tests.infra.cfn_eval import Renderer
from tests.infra.conftest import Synth
from tests.infra.sample_events import cutover_record, derived_events, envelope, export_event


def getatt(logical_id: str, attribute: str = "Arn") -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- the functions ------------------------------------------------------------------------------

FUNCTIONS = {
    # construct id: (handler, timeout in s, memory in MB)
    "Dispatcher": (c.DISPATCHER_HANDLER, c.DISPATCHER_TIMEOUT_SECONDS, c.DISPATCHER_MEMORY_MB),
    "Worker": (c.WORKER_HANDLER, c.WORKER_TIMEOUT_SECONDS, c.WORKER_MEMORY_MB),
    "Alerts": (c.ALERT_HANDLER, c.ALERT_TIMEOUT_SECONDS, c.ALERT_MEMORY_MB),
}


def function_id(synth: Synth, label: str) -> str:
    return synth.logical_id("AWS::Lambda::Function", f"/{label}/Function")


def function_resource(synth: Synth, label: str) -> dict[str, Any]:
    resource: dict[str, Any] = synth.template_json["Resources"][function_id(synth, label)]
    return resource


def work_queue_id(synth: Synth) -> str:
    return synth.logical_id("AWS::SQS::Queue", "/WorkQueue/Queue")


def work_dlq_id(synth: Synth) -> str:
    return synth.logical_id("AWS::SQS::Queue", "/WorkQueue/DeadLetterQueue")


def failure_queue_id(synth: Synth) -> str:
    return synth.logical_id("AWS::SQS::Queue", "/Dispatcher/AsyncFailureQueue")


def test_the_stack_has_exactly_the_dispatcher_the_worker_and_the_alert_function(
    synth: Synth,
) -> None:
    functions = synth.resources("AWS::Lambda::Function")
    assert sorted(f["Properties"]["Handler"] for f in functions.values()) == sorted(
        handler for handler, _, _ in FUNCTIONS.values()
    )


@pytest.mark.parametrize("label", FUNCTIONS)
def test_function_runtime_architecture_and_packaging(synth: Synth, label: str) -> None:
    handler, timeout, memory = FUNCTIONS[label]
    log_group = synth.logical_id("AWS::Logs::LogGroup", f"/{label}/LogGroup")
    role = synth.logical_id("AWS::IAM::Role", f"/{label}/Role")
    props = function_resource(synth, label)["Properties"]
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == handler
    assert props["Timeout"] == timeout
    assert props["MemorySize"] == memory
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["Role"] == getatt(role)
    assert props["LoggingConfig"] == {
        "LogGroup": ref(log_group),
        "LogFormat": "JSON",
        "ApplicationLogLevel": "INFO",
        "SystemLogLevel": "INFO",
    }
    # A file asset in the bootstrap bucket: zipped locally, no Docker, no network.
    code = props["Code"]
    assert set(code) == {"S3Bucket", "S3Key"}
    assert re.match(r"cdk-.*-assets-", code["S3Bucket"]["Fn::Sub"])
    assert re.fullmatch(r"[0-9a-f]{64}\.zip", code["S3Key"])


def test_timeouts_fit_the_schedule_and_the_deadline_margin(synth: Synth) -> None:
    cfg = synth.config
    # A dispatch ends before the next tick; the worker keeps its margin inside its timeout.
    assert cfg.schedule_rate_minutes * 60 >= c.DISPATCHER_TIMEOUT_SECONDS
    assert cfg.deadline_margin_seconds < c.WORKER_TIMEOUT_SECONDS


def test_functions_run_the_one_code_asset_lambda_src_without_caches(synth: Synth) -> None:
    assets = json.loads(next(synth.outdir.glob("*.assets.json")).read_text(encoding="utf-8"))
    code_assets = [a for a in assets["files"].values() if a["source"]["packaging"] == "zip"]
    assert len(code_assets) == 1
    asset_dir = synth.outdir / code_assets[0]["source"]["path"]
    assert (asset_dir / "mgn_exporter" / "__init__.py").is_file()
    for handler in (c.DISPATCHER_HANDLER, c.WORKER_HANDLER):
        module = handler.rpartition(".")[0]
        assert (asset_dir / (module.replace(".", "/") + ".py")).is_file()
    names = {p.name for p in asset_dir.rglob("*")}
    assert "__pycache__" not in names
    assert not any(name.endswith(".pyc") for name in names)
    codes = {
        json.dumps(f["Properties"]["Code"])
        for f in synth.resources("AWS::Lambda::Function").values()
    }
    assert len(codes) == 1


@pytest.mark.parametrize("label", FUNCTIONS)
def test_function_uses_the_managed_powertools_layer(synth: Synth, label: str) -> None:
    # Resolved as CloudFormation would in one Region (test_regions.py checks them all).
    layers = Renderer(synth.template_json, synth.stack_name).render(
        function_resource(synth, label)["Properties"]["Layers"]
    )
    version = synth.config.powertools_layer_version
    assert layers == [
        f"arn:aws:lambda:us-east-1:{c.POWERTOOLS_LAYER_ACCOUNT}:layer:"
        f"{c.POWERTOOLS_LAYER_NAME}:{version}"
    ]


def powertools_environment(synth: Synth) -> dict[str, str]:
    cfg = synth.config
    return {
        "POWERTOOLS_SERVICE_NAME": cfg.service_name,
        "POWERTOOLS_METRICS_NAMESPACE": c.METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "LOG_LEVEL": "INFO",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


def test_dispatcher_environment_is_the_accounts_and_the_work_queue(synth: Synth) -> None:
    env = function_resource(synth, "Dispatcher")["Properties"]["Environment"]["Variables"]
    assert env == {
        c.ENV_ACCOUNTS: "auto",
        c.ENV_WORK_QUEUE_URL: ref(work_queue_id(synth)),
        **powertools_environment(synth),
    }


def test_worker_environment_points_at_the_stack_resources(synth: Synth) -> None:
    table = synth.logical_id("AWS::DynamoDB::Table", "/Checkpoints/")
    bus = synth.logical_id("AWS::Events::EventBus", "/Events/Bus")
    event_log = synth.logical_id("AWS::Logs::LogGroup", "/EventLog/")
    cfg = synth.config
    env = function_resource(synth, "Worker")["Properties"]["Environment"]["Variables"]
    assert env == {
        c.ENV_EVENT_BUS_NAME: {"Ref": bus},
        c.ENV_EVENT_SOURCE: cfg.event_source,
        c.ENV_EVENT_LOG_GROUP_NAME: ref(event_log),
        c.ENV_CHECKPOINT_TABLE_NAME: ref(table),
        c.ENV_BACKFILL_DAYS: "7",
        c.ENV_DISCOVERY_OVERLAP_MINUTES: "60",
        c.ENV_DEADLINE_MARGIN_SECONDS: "10",
        c.ENV_WORK_QUEUE_URL: ref(work_queue_id(synth)),
        c.ENV_RETRY_BACKOFF_SECONDS: str(c.WORKER_RETRY_BACKOFF_SECONDS),
        c.ENV_ENRICHMENT_REFRESH_MINUTES: "15",
        c.ENV_COMPLETED_JOB_GRACE_MINUTES: "15",
        c.ENV_POST_LAUNCH_WAIT_MINUTES: "60",
        **powertools_environment(synth),
    }
    assert not cfg.event_source.startswith("aws.")


def test_dispatcher_retries_within_the_deduplication_window_then_parks_failures(
    synth: Synth,
) -> None:
    props = event_invoke_config(synth, "Dispatcher")
    assert props["MaximumRetryAttempts"] == c.DISPATCHER_RETRY_ATTEMPTS
    assert props["DestinationConfig"] == {
        "OnFailure": {"Destination": getatt(failure_queue_id(synth))}
    }
    age = props["MaximumEventAgeInSeconds"]
    # A retry still sends inside SQS's deduplication window of the first attempt's requests,
    # and never after the next tick.
    assert 60 <= age <= c.SQS_DEDUPLICATION_WINDOW_SECONDS - c.DISPATCHER_TIMEOUT_SECONDS
    assert age <= synth.config.schedule_rate_minutes * 60


def test_schedule_targets_the_dispatcher_with_the_scheduled_event_payload(synth: Synth) -> None:
    dispatcher = function_id(synth, "Dispatcher")
    (schedule,) = (
        rule["Properties"]
        for rule in synth.resources("AWS::Events::Rule").values()
        if "ScheduleExpression" in rule["Properties"]
    )
    assert schedule["ScheduleExpression"] == f"rate({synth.config.schedule_rate_minutes} minutes)"
    assert schedule["State"] == "ENABLED"
    (target,) = schedule["Targets"]
    event_invoke = {"Properties": event_invoke_config(synth, "Dispatcher")}
    # No Input/InputTransformer: Lambda receives EventBridge's Scheduled Event, whose `time`
    # the dispatcher deduplicates its requests by; EventBridge retries within the same window.
    assert set(target) == {"Arn", "Id", "RetryPolicy"}
    assert target["Arn"] == getatt(dispatcher)
    assert target["RetryPolicy"] == {
        "MaximumRetryAttempts": c.DISPATCHER_RETRY_ATTEMPTS,
        "MaximumEventAgeInSeconds": event_invoke["Properties"]["MaximumEventAgeInSeconds"],
    }
    (permission,) = (
        p["Properties"]
        for p in synth.resources("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == getatt(dispatcher)
    )
    assert permission["Action"] == "lambda:InvokeFunction"
    assert permission["Principal"] == "events.amazonaws.com"


# --- the work queue and the worker's event source mapping ---------------------------------------


def test_work_queue_is_fifo_and_redrives_to_a_fifo_dead_letter_queue(synth: Synth) -> None:
    cfg = synth.config
    resources = synth.template_json["Resources"]
    worker_timeout = function_resource(synth, "Worker")["Properties"]["Timeout"]
    queue = resources[work_queue_id(synth)]["Properties"]
    # Exactly these: no QueueName (CloudFormation generates one ending in .fifo), and no
    # content-based deduplication (the code sets each message's deduplication ID).
    assert queue == {
        "FifoQueue": True,
        "ContentBasedDeduplication": False,
        "SqsManagedSseEnabled": True,
        "VisibilityTimeout": c.WORK_QUEUE_VISIBILITY_TIMEOUT_FACTOR * c.WORKER_TIMEOUT_SECONDS,
        "MessageRetentionPeriod": 4 * 24 * 3600,
        "RedrivePolicy": {
            "deadLetterTargetArn": getatt(work_dlq_id(synth)),
            "maxReceiveCount": cfg.worker_max_receive_count,
        },
    }
    # AWS's guidance for SQS event sources: at least 6 x the function timeout.
    assert queue["VisibilityTimeout"] >= 6 * worker_timeout
    assert resources[work_dlq_id(synth)]["Properties"] == {
        "FifoQueue": True,
        "SqsManagedSseEnabled": True,
        "MessageRetentionPeriod": 14 * 24 * 3600,
    }


def test_worker_consumes_the_work_queue_with_partial_batch_responses(synth: Synth) -> None:
    cfg = synth.config
    (mapping,) = synth.resources("AWS::Lambda::EventSourceMapping").values()
    # Exactly these: a FIFO queue's mapping takes no batching window and at most 10 messages.
    assert mapping["Properties"] == {
        "EventSourceArn": getatt(work_queue_id(synth)),
        "FunctionName": ref(function_id(synth, "Worker")),
        "BatchSize": cfg.worker_batch_size,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": cfg.worker_max_concurrency},
    }
    assert 1 <= cfg.worker_batch_size <= 10
    assert 2 <= cfg.worker_max_concurrency <= 1000


# --- least privilege ----------------------------------------------------------------------------


def _statements(synth: Synth, label: str) -> list[dict[str, Any]]:
    role = synth.logical_id("AWS::IAM::Role", f"/{label}/Role")
    statements: list[dict[str, Any]] = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if ref(role) in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _resources_for(statements: list[dict[str, Any]], action: str) -> list[Any]:
    found: list[Any] = []
    for statement in statements:
        if action in as_list(statement["Action"]):
            assert statement["Effect"] == "Allow"
            found += as_list(statement["Resource"])
    return found


def _same(found: list[Any], expected: list[Any]) -> bool:
    return sorted(map(json.dumps, found)) == sorted(map(json.dumps, expected))


XRAY = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
# The service authorization reference: mgn:DescribeJobLogItems requires a JobResource,
# arn:${Partition}:mgn:${Region}:${Account}:job/${JobID}.
MGN_JOB_ARNS = {
    "Fn::Join": [
        "",
        ["arn:", {"Ref": "AWS::Partition"}, ":mgn:", {"Ref": "AWS::Region"}, ":*:job/*"],
    ]
}
OWN_LOGS = ("logs:CreateLogStream", "logs:PutLogEvents")


def test_each_role_trusts_lambda_only_has_no_managed_policies_and_serves_one_function(
    synth: Synth,
) -> None:
    roles = synth.resources("AWS::IAM::Role")
    assert len(roles) == len(FUNCTIONS)
    for role in roles.values():
        assert role["Properties"]["AssumeRolePolicyDocument"] == {
            "Statement": [
                {
                    "Action": "sts:AssumeRole",
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                }
            ],
            "Version": "2012-10-17",
        }
        assert "ManagedPolicyArns" not in role["Properties"]
    used = {
        json.dumps(f["Properties"]["Role"])
        for f in synth.resources("AWS::Lambda::Function").values()
    }
    assert len(used) == len(FUNCTIONS)


def test_dispatcher_can_list_accounts_and_send_work_and_nothing_else(synth: Synth) -> None:
    statements = _statements(synth, "Dispatcher")
    own_log = synth.logical_id("AWS::Logs::LogGroup", "/Dispatcher/LogGroup")
    work_queue, failure_queue = work_queue_id(synth), failure_queue_id(synth)

    for action in OWN_LOGS:
        assert _resources_for(statements, action) == [getatt(own_log)], action
    assert _resources_for(statements, "mgn:ListManagedAccounts") == ["*"]
    # The work queue for its requests, the failure queue for Lambda's on-failure destination.
    assert _same(
        _resources_for(statements, "sqs:SendMessage"), [getatt(work_queue), getatt(failure_queue)]
    )
    for action in ("sqs:GetQueueAttributes", "sqs:GetQueueUrl"):
        assert _resources_for(statements, action) == [getatt(failure_queue)], action

    granted = {action for s in statements for action in as_list(s["Action"])}
    assert granted == {
        *OWN_LOGS,
        *XRAY,
        *c.DISPATCHER_MGN_ACTIONS,
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    }
    # Spelled out: it cannot publish, touch the table, read jobs or consume the queue.
    assert not granted & {"events:PutEvents", *c.TABLE_ACTIONS, *c.WORKER_MGN_ACTIONS}
    assert "sqs:ReceiveMessage" not in granted
    assert not any("Condition" in s or s["Effect"] != "Allow" for s in statements)


def test_worker_can_export_consume_and_hand_on_and_nothing_else(synth: Synth) -> None:
    statements = _statements(synth, "Worker")
    table = synth.logical_id("AWS::DynamoDB::Table", "/Checkpoints/")
    bus = synth.logical_id("AWS::Events::EventBus", "/Events/Bus")
    event_log = synth.logical_id("AWS::Logs::LogGroup", "/EventLog/")
    own_log = synth.logical_id("AWS::Logs::LogGroup", "/Worker/LogGroup")
    work_queue = work_queue_id(synth)

    for action in c.TABLE_ACTIONS:
        assert _resources_for(statements, action) == [getatt(table)], action
    assert _resources_for(statements, "events:PutEvents") == [getatt(bus)]
    for action in OWN_LOGS:
        # The event group (GetAtt Arn ends in ":*", i.e. its streams) and the function's own.
        assert _same(_resources_for(statements, action), [getatt(event_log), getatt(own_log)])
    # DescribeJobs has no resource type; DescribeJobLogItems takes job ARNs, of any account
    # (global view: the jobs live in the member accounts), in this partition and Region.
    assert _resources_for(statements, "mgn:DescribeJobs") == ["*"]
    assert _resources_for(statements, "mgn:DescribeJobLogItems") == [MGN_JOB_ARNS]
    sqs_actions = {
        # What the event source mapping consumes the queue with ...
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        # ... and the continuation requests.
        "sqs:SendMessage",
    }
    for action in sqs_actions:
        assert _resources_for(statements, action) == [getatt(work_queue)], action

    granted = {action for s in statements for action in as_list(s["Action"])}
    assert granted == {
        *c.TABLE_ACTIONS,
        *c.WORKER_MGN_ACTIONS,
        "events:PutEvents",
        *OWN_LOGS,
        *XRAY,
        *sqs_actions,
    }
    assert not granted & set(c.DISPATCHER_MGN_ACTIONS)
    assert not any("*" in action for action in granted)
    assert not any("Condition" in s or s["Effect"] != "Allow" for s in statements)


def test_no_role_can_read_the_dead_letter_queues(synth: Synth) -> None:
    dead_letter_queues = {
        json.dumps(getatt(q)) for q in (work_dlq_id(synth), failure_queue_id(synth))
    }
    for policy in synth.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if dead_letter_queues & {json.dumps(r) for r in as_list(statement["Resource"])}:
                assert not any(
                    a.startswith(("sqs:Receive", "sqs:Delete"))
                    for a in as_list(statement["Action"])
                )


@pytest.mark.parametrize(
    ("label", "policy_id"),
    [
        ("Dispatcher", "MgnReadPolicy"),
        ("Worker", "MgnReadPolicy"),
        ("Worker", "MgnJobLogPolicy"),
    ],
)
def test_functions_wait_for_their_mgn_policies(synth: Synth, label: str, policy_id: str) -> None:
    # Without the DependsOn the first invocation could run before the policy exists.
    policy = synth.logical_id("AWS::IAM::Policy", f"/{label}/{policy_id}")
    assert policy in function_resource(synth, label)["DependsOn"]


def test_only_actions_without_resource_types_use_a_wildcard_resource(synth: Synth) -> None:
    wildcard_actions = {
        action
        for policy in synth.resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "*" in as_list(statement["Resource"])
        for action in as_list(statement["Action"])
    }
    # X-Ray and MGN's List actions (accounts, jobs, the inventory reads) support no resource ARN.
    assert wildcard_actions == {
        *XRAY,
        "mgn:ListManagedAccounts",
        "mgn:DescribeJobs",
        "mgn:DescribeSourceServers",
        "mgn:ListApplications",
        "mgn:ListWaves",
    }


def _dynamodb_calls(path: Path) -> set[str]:
    """The IAM actions of the DynamoDB client methods a module calls (client.update_item ->
    dynamodb:UpdateItem), found in its syntax tree."""
    model = botocore.session.get_session().get_service_model("dynamodb")
    actions = {xform_name(name): f"dynamodb:{name}" for name in model.operation_names}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        actions[node.func.attr]
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in actions
    }


def test_the_worker_gets_exactly_the_table_calls_the_code_makes(synth: Synth) -> None:
    calls = _dynamodb_calls(c.LAMBDA_SRC_DIR / "mgn_exporter" / "checkpoint_store.py")
    assert calls, "the checkpoint store makes no DynamoDB call?"
    # Nothing else in the functions' code talks to DynamoDB.
    others = {
        path.name
        for path in (c.LAMBDA_SRC_DIR / "mgn_exporter").glob("*.py")
        if path.name != "checkpoint_store.py" and _dynamodb_calls(path)
    }
    assert others == set()
    assert set(c.TABLE_ACTIONS) == calls
    table = synth.logical_id("AWS::DynamoDB::Table", "/Checkpoints/")
    granted = {
        action
        for statement in _statements(synth, "Worker")
        if getatt(table) in as_list(statement["Resource"])
        for action in as_list(statement["Action"])
    }
    assert granted == calls


def test_mgn_actions_are_read_only_and_split_between_the_functions(synth: Synth) -> None:
    assert all(a.split(":")[1].startswith(("Describe", "List")) for a in c.MGN_ACTIONS)
    assert not set(c.DISPATCHER_MGN_ACTIONS) & set(c.WORKER_MGN_ACTIONS)
    assert set(c.MGN_ACTIONS) == {*c.DISPATCHER_MGN_ACTIONS, *c.WORKER_MGN_ACTIONS}


# --- state, encryption, retention ---------------------------------------------------------------


def test_checkpoint_table(synth: Synth) -> None:
    synth.template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": {
                "KeySchema": [{"AttributeName": c.TABLE_PARTITION_KEY, "KeyType": "HASH"}],
                "AttributeDefinitions": [
                    {"AttributeName": c.TABLE_PARTITION_KEY, "AttributeType": "S"}
                ],
                "BillingMode": "PAY_PER_REQUEST",
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "TimeToLiveSpecification": {
                    "AttributeName": c.TABLE_TTL_ATTRIBUTE,
                    "Enabled": True,
                },
                "SSESpecification": {"SSEEnabled": True},
                # A retained table with a fixed name would block the next deployment.
                "TableName": Match.absent(),
            },
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )


def test_topics_are_kms_encrypted_and_tls_only(synth: Synth) -> None:
    key = synth.logical_id("AWS::KMS::Key", "/NotificationKey/")
    synth.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    topics = synth.resources("AWS::SNS::Topic")
    assert len(topics) == 2
    for topic in topics.values():
        assert topic["Properties"]["KmsMasterKeyId"] == getatt(key)
    for policy in synth.resources("AWS::SNS::TopicPolicy").values():
        assert _denies_insecure_transport(policy["Properties"]["PolicyDocument"])


def test_key_lets_alarms_and_rules_publish_to_the_topics(synth: Synth) -> None:
    (key,) = synth.resources("AWS::KMS::Key").values()
    services: set[str] = set()
    for statement in key["Properties"]["KeyPolicy"]["Statement"]:
        service = statement.get("Principal", {}).get("Service")
        if service:
            assert set(as_list(statement["Action"])) == {"kms:Decrypt", "kms:GenerateDataKey*"}
            services |= set(as_list(service))
    # Alarms publish as CloudWatch; alerts as the alert function's role, whose own policy
    # names the key (the key policy lets the account's IAM policies grant it).
    assert services == {"cloudwatch.amazonaws.com"}
    alert_policy = synth.logical_id("AWS::IAM::Policy", "/Alerts/Role/DefaultPolicy")
    granted = synth.template_json["Resources"][alert_policy]["Properties"]["PolicyDocument"]
    kms = [s for s in granted["Statement"] if "kms:Decrypt" in as_list(s["Action"])]
    assert kms and kms[0]["Resource"] == getatt(
        synth.logical_id("AWS::KMS::Key", "/NotificationKey/")
    )


def test_queues_are_encrypted_and_tls_only(synth: Synth) -> None:
    queues = synth.resources("AWS::SQS::Queue")
    # The work queue and three dead-letter queues (work, dispatcher failures, alert delivery).
    assert len(queues) == 4
    dead_letter_queues = {
        work_dlq_id(synth),
        failure_queue_id(synth),
        synth.logical_id("AWS::SQS::Queue", "/Events/AlertDeliveryDlq"),
    }
    assert set(queues) == dead_letter_queues | {work_queue_id(synth)}
    for logical_id, queue in queues.items():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
        if logical_id in dead_letter_queues:
            assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    covered: list[Any] = []
    for policy in synth.resources("AWS::SQS::QueuePolicy").values():
        assert _denies_insecure_transport(policy["Properties"]["PolicyDocument"])
        covered += policy["Properties"]["Queues"]
    assert _same(covered, [ref(logical_id) for logical_id in queues])


def _denies_insecure_transport(document: dict[str, Any]) -> bool:
    return any(
        s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for s in document["Statement"]
    )


def with_instance_suffix(*parts: Any) -> dict[str, Any]:
    """A name ending in the stack instance's suffix, as the template writes it."""
    return {"Fn::Join": ["", [*parts[:-1], STACK_INSTANCE_SUFFIX_EXPRESSION, parts[-1]]]}


def test_log_groups_have_retention(synth: Synth) -> None:
    cfg = synth.config
    synth.template.has_resource(
        "AWS::Logs::LogGroup",
        {
            "Properties": {
                "LogGroupName": {
                    "Fn::Join": [
                        "",
                        [f"/{synth.stack_name}/events-", STACK_INSTANCE_SUFFIX_EXPRESSION],
                    ]
                },
                "RetentionInDays": cfg.event_log_retention_days,
                "KmsKeyId": Match.absent(),
            },
            # The audit trail: kept by `cdk destroy` (test_names.py).
            "DeletionPolicy": "Retain",
        },
    )
    for label in FUNCTIONS:
        function_log = synth.logical_id("AWS::Logs::LogGroup", f"/{label}/LogGroup")
        assert synth.template_json["Resources"][function_log]["Properties"] == {
            "RetentionInDays": cfg.function_log_retention_days
        }, label


# --- the bus, its rules and archive ---------------------------------------------------------------


def test_bus_and_archive(synth: Synth) -> None:
    bus = synth.logical_id("AWS::Events::EventBus", "/Events/Bus")
    synth.template.has_resource_properties(
        "AWS::Events::EventBus",
        {
            "Name": {
                "Fn::Join": [
                    "",
                    [f"{synth.stack_name}-events-", STACK_INSTANCE_SUFFIX_EXPRESSION],
                ]
            }
        },
    )
    synth.template.has_resource_properties(
        "AWS::Events::Archive",
        {
            "ArchiveName": with_instance_suffix(f"{synth.stack_name}-events-", "-archive"),
            "SourceArn": getatt(bus),
            "RetentionDays": synth.config.archive_retention_days,
            "EventPattern": {"source": [synth.config.event_source]},
        },
    )


def _alert_rules(synth: Synth) -> dict[str, dict[str, Any]]:
    return {
        logical_id: rule
        for logical_id, rule in synth.resources("AWS::Events::Rule").items()
        if "EventPattern" in rule["Properties"]
    }


def pattern_of(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule's pattern: the alert rules' is JSON text (it holds a null, which CloudFormation's
    object syntax refuses)."""
    pattern = rule["Properties"]["EventPattern"]
    assert isinstance(pattern, str), "the alert rules' patterns are JSON text"
    parsed: dict[str, Any] = json.loads(pattern)
    return parsed


def test_alert_rules_hand_their_events_to_the_alert_function_with_a_dlq(synth: Synth) -> None:
    bus = synth.logical_id("AWS::Events::EventBus", "/Events/Bus")
    dlq = synth.logical_id("AWS::SQS::Queue", "/Events/AlertDeliveryDlq")
    topic = synth.logical_id("AWS::SNS::Topic", "/Events/AlertTopic")
    alerts = function_id(synth, "Alerts")
    rules = _alert_rules(synth)
    assert len(rules) == 4  # two on job log items, two on derived events
    for rule in rules.values():
        assert rule["Properties"]["EventBusName"] == {"Ref": bus}
        (target,) = rule["Properties"]["Targets"]
        assert target["Arn"] == getatt(alerts)
        assert target["DeadLetterConfig"] == {"Arn": getatt(dlq)}
        # The whole event: the function writes the message (no input transformer).
        assert "InputTransformer" not in target and "Input" not in target
    function = synth.template_json["Resources"][alerts]["Properties"]
    assert function["Environment"]["Variables"][c.ENV_ALERT_TOPIC_ARN] == ref(topic)
    props = event_invoke_config(synth, "Alerts")
    assert props["DestinationConfig"] == {"OnFailure": {"Destination": getatt(dlq)}}


def event_invoke_config(synth: Synth, label: str) -> dict[str, Any]:
    function = ref(function_id(synth, label))
    (props,) = (
        config["Properties"]
        for config in synth.resources("AWS::Lambda::EventInvokeConfig").values()
        if config["Properties"]["FunctionName"] == function
    )
    return dict(props)


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """EventBridge pattern matching, as moto implements it."""
    return bool(EventPattern.load(json.dumps(pattern)).matches_event(cast(Any, event)))


CASES = [
    # (event, initiatedBy, matches ERROR rule, matches cutover rule)
    ("CONVERSION_FAIL", "START_TEST", True, False),
    ("SNAPSHOT_FAIL", "START_CUTOVER", True, False),
    # One item, one alert: the cutover rule takes it, the broad one leaves it.
    ("LAUNCH_FAILED", "START_CUTOVER", False, True),
    ("LAUNCH_FAILED", "START_TEST", True, False),
    ("CLEANUP_FAIL", "TERMINATE", True, False),
    ("JOB_CANCEL", "START_CUTOVER", False, False),
    ("CONVERSION_END", "START_CUTOVER", False, False),
]


@pytest.mark.parametrize(("event", "initiated_by", "error_rule", "cutover_rule"), CASES)
def test_rule_patterns_match_real_exporter_events(
    synth: Synth, event: str, initiated_by: str, error_rule: bool, cutover_rule: bool
) -> None:
    delivered = envelope(export_event(event, initiated_by=initiated_by))
    paths = synth.paths
    patterns = {
        paths[logical_id].split("/")[-2]: pattern_of(rule)
        for logical_id, rule in _alert_rules(synth).items()
    }
    assert matches(patterns["ErrorItemsRule"], delivered) is error_rule
    assert matches(patterns["CutoverLaunchFailureRule"], delivered) is cutover_rule
    for derived_rule in ("FailedCutoverOutcomeRule", "FailedRequiredPostLaunchActionRule"):
        assert not matches(patterns[derived_rule], delivered)


DERIVED_CASES = [
    # (record, initiatedBy, outcome rule matches the outcome, action rule matches the action)
    (cutover_record(), "START_CUTOVER", True, True),
    (cutover_record(), "START_TEST", False, True),  # a test shows what the cutover would meet
    (cutover_record(failed_server=False), "START_CUTOVER", False, True),
    (cutover_record(must_succeed=False), "START_CUTOVER", True, False),
    (cutover_record(failed_server=False, action_status="SUCCESS"), "START_CUTOVER", False, False),
    (cutover_record(action_status="IN_PROGRESS"), "START_CUTOVER", True, False),
]


@pytest.mark.parametrize(("record", "initiated_by", "outcome_rule", "action_rule"), DERIVED_CASES)
def test_derived_rules_match_real_outcomes_and_post_launch_actions(
    synth: Synth,
    record: dict[str, Any],
    initiated_by: str,
    outcome_rule: bool,
    action_rule: bool,
) -> None:
    patterns = _alert_patterns(synth)
    outcome, action = derived_events({**record, "initiatedBy": initiated_by})
    assert matches(patterns["FailedCutoverOutcomeRule"], envelope(outcome)) is outcome_rule
    assert matches(patterns["FailedRequiredPostLaunchActionRule"], envelope(action)) is action_rule
    # Each derived event matches its own rule at most, and never an item rule.
    for name in (
        "ErrorItemsRule",
        "CutoverLaunchFailureRule",
        "FailedRequiredPostLaunchActionRule",
    ):
        assert not matches(patterns[name], envelope(outcome)), name
    for name in ("ErrorItemsRule", "CutoverLaunchFailureRule", "FailedCutoverOutcomeRule"):
        assert not matches(patterns[name], envelope(action)), name
    # History pages nobody.
    later = datetime(2026, 11, 26, tzinfo=UTC)
    for old in derived_events({**record, "initiatedBy": initiated_by}, live_since=later):
        assert not any(matches(p, envelope(old)) for p in patterns.values())


def _alert_patterns(synth: Synth) -> dict[str, dict[str, Any]]:
    paths = synth.paths
    return {
        paths[logical_id].split("/")[-2]: pattern_of(rule)
        for logical_id, rule in _alert_rules(synth).items()
    }


# The account's export began after the item was logged: the first run's backfill read it.
EXPORT_BEGAN = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
BEFORE_EXPORT = "2026-11-25T10:00:00.123Z"
AFTER_EXPORT = "2026-11-25T12:30:00.000Z"


@pytest.mark.parametrize("event", sorted({*c.ERROR_EVENTS, "LAUNCH_FAILED"}))
@pytest.mark.parametrize("initiated_by", ["START_TEST", "START_CUTOVER"])
def test_a_backfilled_failure_pages_nobody_and_a_live_one_does(
    synth: Synth, event: str, initiated_by: str
) -> None:
    patterns = _alert_patterns(synth)
    history = export_event(
        event, initiated_by=initiated_by, log_date_time=BEFORE_EXPORT, live_since=EXPORT_BEGAN
    )
    live = export_event(
        event, initiated_by=initiated_by, log_date_time=AFTER_EXPORT, live_since=EXPORT_BEGAN
    )
    # What the exporter's own code says about the two items.
    assert history.detail["backfill"] is True
    assert live.detail["backfill"] is False
    assert not [name for name, p in patterns.items() if matches(p, envelope(history))]
    assert any(matches(p, envelope(live)) for p in patterns.values())


def test_every_alert_rule_matches_live_items_only(synth: Synth) -> None:
    for name, pattern in _alert_patterns(synth).items():
        assert pattern["detail"]["backfill"] == [False], name
        assert pattern["detail"]["replay"] == [{"exists": False}], name


def test_a_replayed_event_pages_nobody(synth: Synth) -> None:
    patterns = _alert_patterns(synth)
    alerting = [export_event("LAUNCH_FAILED", initiated_by="START_CUTOVER"), *derived_events()]
    for event in alerting:
        delivered = envelope(event)
        assert any(matches(p, delivered) for p in patterns.values()), event.detail_type
        replayed = {**delivered, "detail": {**delivered["detail"], "replay": True}}
        assert not any(matches(p, replayed) for p in patterns.values()), event.detail_type


def test_rules_ignore_events_from_another_source(synth: Synth) -> None:
    delivered = envelope(export_event("CONVERSION_FAIL"), source="someone.else")
    for rule in _alert_rules(synth).values():
        assert not matches(pattern_of(rule), delivered)


# --- schema, queries, monitoring ----------------------------------------------------------------


def test_schema_is_published_from_the_repo_file(synth: Synth) -> None:
    registry = synth.logical_id("AWS::EventSchemas::Registry", "/EventSchema/")
    synth.template.has_resource_properties(
        "AWS::EventSchemas::Registry",
        {"RegistryName": f"{synth.stack_name}-events"},
    )
    # One schema per DetailType: the job log item's and the two derived events'.
    assert len(synth.resources("AWS::EventSchemas::Schema")) == len(c.SCHEMA_FILES) == 3
    for detail_type, path in c.SCHEMA_FILES.items():
        content = Capture()
        synth.template.has_resource_properties(
            "AWS::EventSchemas::Schema",
            {
                "RegistryName": getatt(registry, "RegistryName"),
                "SchemaName": schema_name_for(synth.config.event_source, detail_type),
                "Type": "JSONSchemaDraft4",
                "Content": content,
            },
        )
        assert content.as_string() == load_schema_text(path)
        assert json.loads(content.as_string()) == json.loads(path.read_text("utf-8"))


def test_saved_queries_run_on_the_event_log_group(synth: Synth) -> None:
    event_log = synth.logical_id("AWS::Logs::LogGroup", "/EventLog/")
    definitions = synth.resources("AWS::Logs::QueryDefinition")
    assert len(definitions) == len(SAVED_QUERIES)
    by_name = {d["Properties"]["Name"]: d["Properties"] for d in definitions.values()}
    for saved in SAVED_QUERIES:
        props = by_name[f"{synth.config.service_name}/{saved.title}"]
        assert props["QueryString"] == saved.query
        assert props["LogGroupNames"] == [ref(event_log)]


GE = "GreaterThanOrEqualToThreshold"
DLQ_DEPTH = ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", GE, 1)
STALENESS_SECONDS = int(c.CONTEXT_DEFAULTS[c.CTX_STALENESS_ALARM_MINUTES]) * 60
EXPECTED_ALARMS: dict[str, tuple[str, str, str, str, float]] = {
    # alarm name suffix: (namespace, metric, statistic, comparison, threshold)
    "DispatcherErrors": ("AWS/Lambda", "Errors", "Sum", GE, 1),
    "DispatcherThrottles": ("AWS/Lambda", "Throttles", "Sum", GE, 1),
    "DispatcherDuration": (
        "AWS/Lambda",
        "Duration",
        "Maximum",
        GE,
        round(c.DISPATCHER_TIMEOUT_SECONDS * 1000 * c.DURATION_ALARM_FRACTION),
    ),
    "DispatcherNotRunning": ("AWS/Lambda", "Invocations", "Sum", "LessThanThreshold", 1),
    "WorkerErrors": ("AWS/Lambda", "Errors", "Sum", GE, 1),
    "WorkerThrottles": ("AWS/Lambda", "Throttles", "Sum", GE, 1),
    "WorkQueueAge": (
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        "Maximum",
        GE,
        work_queue_age_alarm_seconds(int(c.CONTEXT_DEFAULTS[c.CTX_SCHEDULE_RATE_MINUTES])),
    ),
    "AccountsFailed": (c.METRICS_NAMESPACE, "AccountsFailed", "Sum", GE, 1),
    "FailedEntries": (c.METRICS_NAMESPACE, "FailedEntries", "Sum", GE, 1),
    "MgnThrottles": (c.METRICS_NAMESPACE, "Throttles", "Sum", GE, 10),
    "AccountStaleness": (
        c.METRICS_NAMESPACE,
        "AccountStalenessSeconds",
        "Maximum",
        GE,
        STALENESS_SECONDS,
    ),
    "EventsDelivery": (c.METRICS_NAMESPACE, "EventsDeliveryFailed", "Sum", GE, 1),
    "LogsDelivery": (c.METRICS_NAMESPACE, "LogsDeliveryFailed", "Sum", GE, 1),
    "LogShifts": (c.METRICS_NAMESPACE, "LogShifts", "Sum", GE, 1),
    "JobsFailed": (c.METRICS_NAMESPACE, "JobsFailed", "Sum", GE, 1),
    "WorkDeadLetters": DLQ_DEPTH,
    "DispatcherAsyncFailures": DLQ_DEPTH,
    "AlertDelivery": DLQ_DEPTH,
}
# How much evidence each alarm wants: (datapoints to alarm, evaluation periods, missing data).
EXPECTED_EVALUATION: dict[str, tuple[int, int, str]] = {
    "DispatcherErrors": (2, 3, "notBreaching"),
    "DispatcherThrottles": (1, 1, "notBreaching"),
    "DispatcherDuration": (2, 3, "notBreaching"),
    "DispatcherNotRunning": (3, 3, "breaching"),
    "WorkerErrors": (2, 3, "notBreaching"),
    "WorkerThrottles": (1, 1, "notBreaching"),
    "WorkQueueAge": (1, 1, "notBreaching"),
    "AccountsFailed": (3, 3, "notBreaching"),
    "FailedEntries": (1, 1, "notBreaching"),
    "MgnThrottles": (3, 3, "notBreaching"),
    # One period: a stale account is news as soon as it is seen.
    "AccountStaleness": (1, 1, "notBreaching"),
    # The bus or the log group refusing whole exports: 2 of 3, not one blip.
    "EventsDelivery": (2, 3, "notBreaching"),
    "LogsDelivery": (2, 3, "notBreaching"),
    "LogShifts": (1, 1, "notBreaching"),
    # A job MGN refuses every tick: 3 of 3.
    "JobsFailed": (3, 3, "notBreaching"),
    "WorkDeadLetters": (1, 1, "notBreaching"),
    "DispatcherAsyncFailures": (1, 1, "notBreaching"),
    "AlertDelivery": (1, 1, "notBreaching"),
}


def _alarm_subjects(synth: Synth) -> dict[str, list[dict[str, Any]]]:
    """Alarm name suffix -> the dimensions naming what it watches."""
    dispatcher = [{"Name": "FunctionName", "Value": ref(function_id(synth, "Dispatcher"))}]
    worker = [{"Name": "FunctionName", "Value": ref(function_id(synth, "Worker"))}]
    service = [{"Name": c.METRIC_DIMENSION, "Value": synth.config.service_name}]

    def queue(logical_id: str) -> list[dict[str, Any]]:
        return [{"Name": "QueueName", "Value": getatt(logical_id, "QueueName")}]

    subjects = dict.fromkeys(EXPECTED_ALARMS, service)
    subjects |= {
        suffix: dispatcher for suffix in EXPECTED_ALARMS if suffix.startswith("Dispatcher")
    }
    subjects |= {suffix: worker for suffix in EXPECTED_ALARMS if suffix.startswith("Worker")}
    subjects["WorkQueueAge"] = queue(work_queue_id(synth))
    subjects["WorkDeadLetters"] = queue(work_dlq_id(synth))
    subjects["DispatcherAsyncFailures"] = queue(failure_queue_id(synth))
    subjects["AlertDelivery"] = queue(
        synth.logical_id("AWS::SQS::Queue", "/Events/AlertDeliveryDlq")
    )
    return subjects


def _alarms(synth: Synth) -> dict[str, dict[str, Any]]:
    prefix = f"{synth.stack_name}-"
    return {
        a["Properties"]["AlarmName"].removeprefix(prefix): a["Properties"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
    }


def test_alarms_watch_the_right_metrics_and_page_the_ops_topic(synth: Synth) -> None:
    ops_topic = synth.logical_id("AWS::SNS::Topic", "/Monitoring/OpsTopic")
    alarms = _alarms(synth)
    assert set(alarms) == set(EXPECTED_ALARMS)
    subjects = _alarm_subjects(synth)
    for suffix, (namespace, metric, statistic, comparison, threshold) in EXPECTED_ALARMS.items():
        alarm = alarms[suffix]
        assert (alarm["Namespace"], alarm["MetricName"]) == (namespace, metric), suffix
        assert alarm["Statistic"] == statistic, suffix
        assert alarm["ComparisonOperator"] == comparison, suffix
        assert alarm["Threshold"] == threshold, suffix
        assert alarm["Dimensions"] == subjects[suffix], suffix
        assert alarm["AlarmActions"] == [ref(ops_topic)], suffix
        assert alarm["OKActions"] == [ref(ops_topic)], suffix
        assert alarm["AlarmDescription"], suffix
    assert set(EXPECTED_EVALUATION) == set(EXPECTED_ALARMS)
    for suffix, (datapoints, periods, missing) in EXPECTED_EVALUATION.items():
        alarm = alarms[suffix]
        evaluation = (
            alarm.get("DatapointsToAlarm", alarm["EvaluationPeriods"]),
            alarm["EvaluationPeriods"],
            alarm["TreatMissingData"],
        )
        assert evaluation == (datapoints, periods, missing), suffix


def test_the_worker_has_no_duration_alarm_and_no_alarm_watches_export_lag(synth: Synth) -> None:
    # The worker runs to its deadline by design (it hands the rest of a backlog on), so a
    # duration alarm would fire on every backlog drain; staleness watches progress instead.
    worker = ref(function_id(synth, "Worker"))
    for alarm in synth.resources("AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        assert not (
            props["MetricName"] == "Duration"
            and {"Name": "FunctionName", "Value": worker} in props["Dimensions"]
        )
        assert props["MetricName"] != "ExportLagSeconds"


def test_work_queue_age_alarm_means_several_ticks_behind() -> None:
    # The default schedule: three 5-minute periods.
    assert work_queue_age_alarm_seconds(5) == 3 * 5 * 60
    # A fast schedule does not page on one long export: at least two worker timeouts.
    assert work_queue_age_alarm_seconds(1) == 2 * c.WORKER_TIMEOUT_SECONDS
    assert work_queue_age_alarm_seconds(60) == 3 * 3600
    for rate in (1, 5, 15, 60):
        # Always more than one request waiting behind a running export of its account.
        assert work_queue_age_alarm_seconds(rate) > c.WORKER_TIMEOUT_SECONDS


def test_dashboard_shows_both_functions_the_queue_and_the_exporter_metrics(synth: Synth) -> None:
    dashboard = synth.dashboard()
    (alarm_widget,) = (w for w in dashboard["widgets"] if w["type"] == "alarm")
    # The alarms themselves (GetAtt Arn), not names typed again: renaming one cannot leave
    # the dashboard pointing at nothing.
    alarm_ids = {
        f"${{{logical_id}.Arn}}": alarm["Properties"]["AlarmName"]
        for logical_id, alarm in synth.resources("AWS::CloudWatch::Alarm").items()
    }
    shown = alarm_widget["properties"]["alarms"]
    assert set(shown) <= set(alarm_ids), shown
    assert {alarm_ids[arn] for arn in shown} == {
        f"{synth.stack_name}-{suffix}" for suffix in EXPECTED_ALARMS
    }

    lines = {
        json.dumps(line[:-1] if isinstance(line[-1], dict) else line)
        for line in synth.dashboard_metrics()
    }

    def shows(*line: str) -> bool:
        return json.dumps(list(line)) in lines

    # The alert function's failures show as the AlertDelivery dead-letter queue (alarmed).
    for label in ("Dispatcher", "Worker"):
        function = f"${{{function_id(synth, label)}}}"
        for metric in ("Invocations", "Errors", "Throttles", "Duration"):
            assert shows("AWS/Lambda", metric, "FunctionName", function), (label, metric)
    worker = f"${{{function_id(synth, 'Worker')}}}"
    assert shows("AWS/Lambda", "ConcurrentExecutions", "FunctionName", worker)
    queue = f"${{{work_queue_id(synth)}.QueueName}}"
    for metric in (
        "ApproximateNumberOfMessagesVisible",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateAgeOfOldestMessage",
    ):
        assert shows("AWS/SQS", metric, "QueueName", queue), metric
    dlq = f"${{{work_dlq_id(synth)}.QueueName}}"
    assert shows("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", dlq)
    for name, value in vars(c).items():
        if name.startswith("METRIC_") and name != "METRIC_DIMENSION":
            assert shows(
                c.METRICS_NAMESPACE, value, c.METRIC_DIMENSION, synth.config.service_name
            ), value
    for metric in ("JobsDeferred", "AccountsUninitialized", "AccountStalenessSeconds"):
        assert shows(c.METRICS_NAMESPACE, metric, c.METRIC_DIMENSION, synth.config.service_name), (
            metric
        )
    assert not any(line[1:2] == ["ExportLagSeconds"] for line in synth.dashboard_metrics())
    # The step durations: a search over the metric's own dimensions, in this stack's service.
    (search,) = [
        line[0]["expression"]
        for line in synth.dashboard_metrics()
        if isinstance(line[0], dict) and "expression" in line[0]
    ]
    assert search == (
        f"SEARCH('{{{c.METRICS_NAMESPACE},initiatedBy,{c.METRIC_DIMENSION},step}} "
        f'MetricName="StepDurationSeconds" {c.METRIC_DIMENSION}="{synth.config.service_name}"\', '
        "'p90', 3600)"
    )

    annotations = {
        (widget["properties"]["title"], a["label"]): a["value"]
        for widget in dashboard["widgets"]
        if widget["type"] == "metric"
        for a in widget["properties"].get("annotations", {}).get("horizontal", [])
    }
    assert annotations[("Workers running at once", "maximum concurrency")] == (
        synth.config.worker_max_concurrency
    )
    assert annotations[("Oldest work request (s)", "alarm")] == EXPECTED_ALARMS["WorkQueueAge"][4]
    assert annotations[("Account staleness (s, max)", "alarm")] == STALENESS_SECONDS


def test_outputs_name_what_operators_need(synth: Synth) -> None:
    outputs = {key: output["Value"] for key, output in synth.template_json["Outputs"].items()}
    assert set(outputs) == {
        "DispatcherFunctionName",
        "WorkerFunctionName",
        "WorkQueueUrl",
        "WorkQueueArn",
        "WorkDeadLetterQueueUrl",
        "CheckpointTableName",
        "EventBusName",
        "EventBusArn",
        "EventSource",
        "EventLogGroupName",
        "AlertTopicArn",
        "OpsTopicArn",
        "DashboardName",
        "SchemaRegistryName",
        "ArchiveName",
    }
    assert outputs["DispatcherFunctionName"] == ref(function_id(synth, "Dispatcher"))
    assert outputs["WorkerFunctionName"] == ref(function_id(synth, "Worker"))
    assert outputs["WorkQueueUrl"] == ref(work_queue_id(synth))
    assert outputs["WorkQueueArn"] == getatt(work_queue_id(synth))
    assert outputs["WorkDeadLetterQueueUrl"] == ref(work_dlq_id(synth))


def test_no_secrets_or_account_ids_in_the_template(synth: Synth) -> None:
    text = synth.template_path.read_text(encoding="utf-8")
    # Environment-agnostic: the only 12-digit number is the Powertools layer's AWS account.
    # (Digits inside a longer alphanumeric run, such as the asset's hex hash, are no account.)
    numbers = re.findall(r"(?<![0-9A-Za-z])\d{12}(?![0-9A-Za-z])", text)
    assert set(numbers) <= {c.POWERTOOLS_LAYER_ACCOUNT}
    assert re.search(r"(?<![0-9A-Za-z])\d{12}(?![0-9A-Za-z])", "arn:aws:sqs:r:123456789012:q")
    for word in ("password", "secret", "AKIA"):
        assert word.lower() not in text.lower(), word


def test_a_failure_of_a_job_with_no_initiated_by_still_alerts_once(synth: Synth) -> None:
    patterns = _alert_patterns(synth)
    # The null is named in the pattern, not left to how anything-but treats null.
    assert {"initiatedBy": [None]} in patterns["ErrorItemsRule"]["detail"]["$or"]
    for event in ("LAUNCH_FAILED", "CONVERSION_FAIL"):
        delivered = envelope(export_event(event, initiated_by=None))  # type: ignore[arg-type]
        assert delivered["detail"]["initiatedBy"] is None
        assert matches(patterns["ErrorItemsRule"], delivered)
        assert not matches(patterns["CutoverLaunchFailureRule"], delivered)


def test_the_dashboard_shows_the_waves_from_the_event_log_group(synth: Synth) -> None:
    widgets = [w for w in synth.dashboard()["widgets"] if w["type"] == "log"]
    event_log = synth.logical_id("AWS::Logs::LogGroup", "/EventLog/")
    assert len(widgets) == 2
    for widget in widgets:
        query = widget["properties"]["query"]
        assert f"SOURCE '${{{event_log}}}'" in query
        assert "wave.name" in query
