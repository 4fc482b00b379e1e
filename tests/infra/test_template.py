"""Assertions on the synthesized template: what a security review and on-call rely on."""

from __future__ import annotations

import json
import re
from typing import Any, cast

import pytest
from aws_cdk.assertions import Capture, Match
from moto.events.models import EventPattern

from infra import constants as c
from infra.event_bus import archive_name_for
from infra.event_log import SAVED_QUERIES
from infra.event_schema import load_schema_text, registry_name_for, schema_name_for
from tests.infra.conftest import Synth
from tests.infra.sample_events import envelope, export_event


def getatt(logical_id: str, attribute: str = "Arn") -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- the function -------------------------------------------------------------------------------


def test_function_runtime_architecture_and_packaging(synth: Synth) -> None:
    log_group = synth.logical_id("AWS::Logs::LogGroup", "/Exporter/LogGroup")
    synth.template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.12",
            "Architectures": ["arm64"],
            "Handler": c.HANDLER,
            "Timeout": c.FUNCTION_TIMEOUT_SECONDS,
            "MemorySize": c.FUNCTION_MEMORY_MB,
            "TracingConfig": {"Mode": "Active"},
            "LoggingConfig": {
                "LogGroup": ref(log_group),
                "LogFormat": "JSON",
                "ApplicationLogLevel": "INFO",
                "SystemLogLevel": "INFO",
            },
            # A file asset in the bootstrap bucket: zipped locally, no Docker, no network.
            "Code": {
                "S3Bucket": {"Fn::Sub": Match.string_like_regexp("cdk-.*-assets-")},
                "S3Key": Match.string_like_regexp(r"^[0-9a-f]{64}\.zip$"),
            },
        },
    )


def test_function_asset_is_lambda_src_without_caches(synth: Synth) -> None:
    assets = json.loads(next(synth.outdir.glob("*.assets.json")).read_text(encoding="utf-8"))
    code_assets = [a for a in assets["files"].values() if a["source"]["packaging"] == "zip"]
    assert len(code_assets) == 1
    asset_dir = synth.outdir / code_assets[0]["source"]["path"]
    assert (asset_dir / "mgn_exporter" / "__init__.py").is_file()
    names = {p.name for p in asset_dir.rglob("*")}
    assert "__pycache__" not in names
    assert not any(name.endswith(".pyc") for name in names)


def test_function_uses_the_managed_powertools_layer(synth: Synth) -> None:
    layers = Capture()
    synth.template.has_resource_properties("AWS::Lambda::Function", {"Layers": layers})
    joined = json.dumps(layers.as_array())
    assert f":{c.POWERTOOLS_LAYER_ACCOUNT}:layer:{c.POWERTOOLS_LAYER_NAME}:" in joined
    version = synth.config.powertools_layer_version
    assert f'{c.POWERTOOLS_LAYER_NAME}:{version}"' in joined


def test_function_environment_points_at_the_stack_resources(synth: Synth) -> None:
    table = synth.logical_id("AWS::DynamoDB::Table", "/Checkpoints/")
    bus = synth.logical_id("AWS::Events::EventBus", "/Events/Bus")
    event_log = synth.logical_id("AWS::Logs::LogGroup", "/EventLog/")
    cfg = synth.config
    synth.template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": {
                    c.ENV_EVENT_BUS_NAME: getatt(bus, "Name"),
                    c.ENV_EVENT_SOURCE: cfg.event_source,
                    c.ENV_EVENT_LOG_GROUP_NAME: ref(event_log),
                    c.ENV_CHECKPOINT_TABLE_NAME: ref(table),
                    c.ENV_ACCOUNTS: "auto",
                    c.ENV_BACKFILL_DAYS: "7",
                    c.ENV_DISCOVERY_OVERLAP_MINUTES: "60",
                    c.ENV_DEADLINE_MARGIN_SECONDS: "10",
                    "POWERTOOLS_SERVICE_NAME": cfg.service_name,
                    "POWERTOOLS_METRICS_NAMESPACE": c.METRICS_NAMESPACE,
                    "POWERTOOLS_LOG_LEVEL": "INFO",
                    "LOG_LEVEL": "INFO",
                }
            }
        },
    )
    assert not cfg.event_source.startswith("aws.")


def test_async_failures_go_to_a_queue_without_retries(synth: Synth) -> None:
    queue = synth.logical_id("AWS::SQS::Queue", "/Exporter/AsyncFailureQueue")
    synth.template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "MaximumRetryAttempts": 0,
            "DestinationConfig": {"OnFailure": {"Destination": getatt(queue)}},
        },
    )


def test_schedule_targets_the_function_with_the_scheduled_event_payload(synth: Synth) -> None:
    function = synth.logical_id("AWS::Lambda::Function", "/Exporter/Function")
    synth.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": f"rate({synth.config.schedule_rate_minutes} minutes)",
            "State": "ENABLED",
            "Targets": [
                {
                    "Arn": getatt(function),
                    "Id": Match.any_value(),
                    # No Input/InputTransformer: Lambda receives EventBridge's Scheduled Event.
                    "Input": Match.absent(),
                    "InputTransformer": Match.absent(),
                    "RetryPolicy": {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 300},
                }
            ],
        },
    )
    synth.template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": getatt(function),
            "Principal": "events.amazonaws.com",
        },
    )


# --- least privilege ----------------------------------------------------------------------------


def _exporter_statements(synth: Synth) -> list[dict[str, Any]]:
    role = synth.logical_id("AWS::IAM::Role", "/Exporter/Role")
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


def test_role_has_no_managed_policies_and_trusts_lambda_only(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                    }
                ],
                "Version": "2012-10-17",
            },
            "ManagedPolicyArns": Match.absent(),
        },
    )


def test_iam_statements_are_scoped_to_their_resources(synth: Synth) -> None:
    statements = _exporter_statements(synth)
    table = synth.logical_id("AWS::DynamoDB::Table", "/Checkpoints/")
    bus = synth.logical_id("AWS::Events::EventBus", "/Events/Bus")
    event_log = synth.logical_id("AWS::Logs::LogGroup", "/EventLog/")
    function_log = synth.logical_id("AWS::Logs::LogGroup", "/Exporter/LogGroup")
    queue = synth.logical_id("AWS::SQS::Queue", "/Exporter/AsyncFailureQueue")

    for action in c.TABLE_ACTIONS:
        assert _resources_for(statements, action) == [getatt(table)], action
    assert _resources_for(statements, "events:PutEvents") == [getatt(bus)]
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        # The event group (GetAtt Arn ends in ":*", i.e. its streams) and the function's own.
        resources = _resources_for(statements, action)
        assert sorted(map(json.dumps, resources)) == sorted(
            json.dumps(getatt(group)) for group in (event_log, function_log)
        )
    for action in c.MGN_ACTIONS:
        assert _resources_for(statements, action) == ["*"], action
    assert _resources_for(statements, "sqs:SendMessage") == [getatt(queue)]

    granted = {action for s in statements for action in as_list(s["Action"])}
    assert granted == {
        *c.TABLE_ACTIONS,
        *c.MGN_ACTIONS,
        "events:PutEvents",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    }
    assert not any("*" in action for action in granted)
    assert not any("Condition" in s or s["Effect"] != "Allow" for s in statements)


def test_only_xray_and_mgn_reads_use_a_wildcard_resource(synth: Synth) -> None:
    wildcard_actions = {
        action
        for policy in synth.resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "*" in as_list(statement["Resource"])
        for action in as_list(statement["Action"])
    }
    assert wildcard_actions == {"xray:PutTraceSegments", "xray:PutTelemetryRecords", *c.MGN_ACTIONS}


def test_mgn_actions_are_read_only(synth: Synth) -> None:
    assert all(a.split(":")[1].startswith(("Describe", "List")) for a in c.MGN_ACTIONS)


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
    assert services == {"cloudwatch.amazonaws.com", "events.amazonaws.com"}


def test_queues_are_encrypted_and_tls_only(synth: Synth) -> None:
    queues = synth.resources("AWS::SQS::Queue")
    assert len(queues) == 2
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
        assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    for policy in synth.resources("AWS::SQS::QueuePolicy").values():
        assert _denies_insecure_transport(policy["Properties"]["PolicyDocument"])


def _denies_insecure_transport(document: dict[str, Any]) -> bool:
    return any(
        s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for s in document["Statement"]
    )


def test_log_groups_have_retention(synth: Synth) -> None:
    cfg = synth.config
    synth.template.has_resource(
        "AWS::Logs::LogGroup",
        {
            "Properties": {
                "LogGroupName": cfg.event_log_group_name,
                "RetentionInDays": cfg.event_log_retention_days,
                "KmsKeyId": Match.absent(),
            },
            "DeletionPolicy": "Delete",
        },
    )
    function_log = synth.logical_id("AWS::Logs::LogGroup", "/Exporter/LogGroup")
    assert synth.template_json["Resources"][function_log]["Properties"] == {
        "RetentionInDays": cfg.function_log_retention_days
    }


# --- the bus, its rules and archive ---------------------------------------------------------------


def test_bus_and_archive(synth: Synth) -> None:
    bus = synth.logical_id("AWS::Events::EventBus", "/Events/Bus")
    synth.template.has_resource_properties(
        "AWS::Events::EventBus", {"Name": synth.config.event_bus_name}
    )
    synth.template.has_resource_properties(
        "AWS::Events::Archive",
        {
            "ArchiveName": archive_name_for(synth.config.event_bus_name),
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


def test_alert_rules_deliver_a_readable_message_with_a_dlq(synth: Synth) -> None:
    bus = synth.logical_id("AWS::Events::EventBus", "/Events/Bus")
    topic = synth.logical_id("AWS::SNS::Topic", "/Events/AlertTopic")
    dlq = synth.logical_id("AWS::SQS::Queue", "/Events/AlertDeliveryDlq")
    rules = _alert_rules(synth)
    assert len(rules) == 2
    for rule in rules.values():
        assert rule["Properties"]["EventBusName"] == getatt(bus, "Name")
        (target,) = rule["Properties"]["Targets"]
        assert target["Arn"] == ref(topic)
        assert target["DeadLetterConfig"] == {"Arn": getatt(dlq)}
        transformer = target["InputTransformer"]
        assert transformer["InputPathsMap"]["detail-event"] == "$.detail.event"
        assert "<detail-eventData-rawError>" in transformer["InputTemplate"]
        assert "<detail-accountID>" in transformer["InputTemplate"]


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """EventBridge pattern matching, as moto implements it."""
    return bool(EventPattern.load(json.dumps(pattern)).matches_event(cast(Any, event)))


CASES = [
    # (event, initiatedBy, matches ERROR rule, matches cutover rule)
    ("CONVERSION_FAIL", "START_TEST", True, False),
    ("SNAPSHOT_FAIL", "START_CUTOVER", True, False),
    ("LAUNCH_FAILED", "START_CUTOVER", True, True),
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
        paths[logical_id].split("/")[-2]: rule["Properties"]["EventPattern"]
        for logical_id, rule in _alert_rules(synth).items()
    }
    assert matches(patterns["ErrorItemsRule"], delivered) is error_rule
    assert matches(patterns["CutoverLaunchFailureRule"], delivered) is cutover_rule


def test_rules_ignore_events_from_another_source(synth: Synth) -> None:
    delivered = envelope(export_event("CONVERSION_FAIL"), source="someone.else")
    for rule in _alert_rules(synth).values():
        assert not matches(rule["Properties"]["EventPattern"], delivered)


# --- schema, queries, monitoring ----------------------------------------------------------------


def test_schema_is_published_from_the_repo_file(synth: Synth) -> None:
    registry = synth.logical_id("AWS::EventSchemas::Registry", "/EventSchema/")
    synth.template.has_resource_properties(
        "AWS::EventSchemas::Registry",
        {"RegistryName": registry_name_for(synth.config.event_bus_name)},
    )
    content = Capture()
    synth.template.has_resource_properties(
        "AWS::EventSchemas::Schema",
        {
            "RegistryName": getatt(registry, "RegistryName"),
            "SchemaName": schema_name_for(synth.config.event_source),
            "Type": "JSONSchemaDraft4",
            "Content": content,
        },
    )
    assert content.as_string() == load_schema_text()
    assert json.loads(content.as_string()) == json.loads(c.SCHEMA_FILE.read_text("utf-8"))


def test_saved_queries_run_on_the_event_log_group(synth: Synth) -> None:
    event_log = synth.logical_id("AWS::Logs::LogGroup", "/EventLog/")
    definitions = synth.resources("AWS::Logs::QueryDefinition")
    assert len(definitions) == len(SAVED_QUERIES)
    by_name = {d["Properties"]["Name"]: d["Properties"] for d in definitions.values()}
    for saved in SAVED_QUERIES:
        props = by_name[f"{synth.config.service_name}/{saved.title}"]
        assert props["QueryString"] == saved.query
        assert props["LogGroupNames"] == [ref(event_log)]


EXPECTED_ALARMS = {
    # alarm name suffix: (namespace, metric, statistic, comparison, threshold)
    "Errors": ("AWS/Lambda", "Errors", "Sum", "GreaterThanOrEqualToThreshold", 1),
    "Throttles": ("AWS/Lambda", "Throttles", "Sum", "GreaterThanOrEqualToThreshold", 1),
    "Duration": (
        "AWS/Lambda",
        "Duration",
        "Maximum",
        "GreaterThanOrEqualToThreshold",
        round(c.FUNCTION_TIMEOUT_SECONDS * 1000 * c.DURATION_ALARM_FRACTION),
    ),
    "NotRunning": ("AWS/Lambda", "Invocations", "Sum", "LessThanThreshold", 1),
    "AccountsFailed": (
        c.METRICS_NAMESPACE,
        c.METRIC_ACCOUNTS_FAILED,
        "Sum",
        "GreaterThanOrEqualToThreshold",
        1,
    ),
    "FailedEntries": (
        c.METRICS_NAMESPACE,
        c.METRIC_FAILED_ENTRIES,
        "Sum",
        "GreaterThanOrEqualToThreshold",
        1,
    ),
    "MgnThrottles": (
        c.METRICS_NAMESPACE,
        c.METRIC_THROTTLES,
        "Sum",
        "GreaterThanOrEqualToThreshold",
        10,
    ),
    "ExportLag": (
        c.METRICS_NAMESPACE,
        c.METRIC_EXPORT_LAG_SECONDS,
        "Maximum",
        "GreaterThanOrEqualToThreshold",
        int(c.CONTEXT_DEFAULTS[c.CTX_EXPORT_LAG_ALARM_SECONDS]),
    ),
    "ExporterAsyncFailures": (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "Maximum",
        "GreaterThanOrEqualToThreshold",
        1,
    ),
    "AlertDelivery": (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "Maximum",
        "GreaterThanOrEqualToThreshold",
        1,
    ),
}


def test_alarms_watch_the_right_metrics_and_page_the_ops_topic(synth: Synth) -> None:
    ops_topic = synth.logical_id("AWS::SNS::Topic", "/Monitoring/OpsTopic")
    function = synth.logical_id("AWS::Lambda::Function", "/Exporter/Function")
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
    }
    assert set(alarms) == {f"{synth.stack_name}-{suffix}" for suffix in EXPECTED_ALARMS}
    for suffix, (namespace, metric, statistic, comparison, threshold) in EXPECTED_ALARMS.items():
        alarm = alarms[f"{synth.stack_name}-{suffix}"]
        assert (alarm["Namespace"], alarm["MetricName"]) == (namespace, metric), suffix
        assert alarm["Statistic"] == statistic, suffix
        assert alarm["ComparisonOperator"] == comparison, suffix
        assert alarm["Threshold"] == threshold, suffix
        assert alarm["AlarmActions"] == [ref(ops_topic)], suffix
        assert alarm["OKActions"] == [ref(ops_topic)], suffix
        assert alarm["AlarmDescription"], suffix
        if namespace == c.METRICS_NAMESPACE:
            assert alarm["Dimensions"] == [
                {"Name": c.METRIC_DIMENSION, "Value": synth.config.service_name}
            ]
        if namespace == "AWS/Lambda":
            assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": ref(function)}]
    assert alarms[f"{synth.stack_name}-NotRunning"]["TreatMissingData"] == "breaching"


def test_dashboard_shows_the_exporter_metrics(synth: Synth) -> None:
    (dashboard,) = synth.resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in (
        c.METRIC_ITEMS_EXPORTED,
        c.METRIC_PUBLISH_RETRIES,
        c.METRIC_FAILED_ENTRIES,
        c.METRIC_ACCOUNTS_FAILED,
        c.METRIC_THROTTLES,
        c.METRIC_EXPORT_LAG_SECONDS,
        c.METRIC_JOBS_FAILED,
        "Invocations",
        "Duration",
    ):
        assert f'\\"{metric}\\"' in body, metric
    assert c.METRICS_NAMESPACE in body
    assert '\\"type\\":\\"alarm\\"' in body


def test_outputs_name_what_operators_need(synth: Synth) -> None:
    assert {
        "FunctionName",
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
    } <= set(synth.template_json["Outputs"])


def test_no_secrets_or_account_ids_in_the_template(synth: Synth) -> None:
    text = synth.template_path.read_text(encoding="utf-8")
    # Environment-agnostic: the only 12-digit number is the Powertools layer's AWS account.
    assert set(re.findall(r"(?<!\d)\d{12}(?!\d)", text)) <= {c.POWERTOOLS_LAYER_ACCOUNT}
    for word in ("password", "secret", "AKIA"):
        assert word.lower() not in text.lower(), word
