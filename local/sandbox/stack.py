"""The stack as deployed in moto: what the sandbox needs to know, read from moto and the template.

The dispatcher and the worker (lambda GetFunction, and their template resources for the code
package and logging configuration), the worker's event source mapping (lambda
ListEventSourceMappings: the sandbox polls the work queue as it is configured), the queues,
the bus, the alert rules, the schedule (the rule that targets the dispatcher) and the saved
queries.

Names come from the deployment (outputs, physical ids) and from moto's own APIs, never from
the sandbox's assumptions, so that the sandbox runs whatever the CDK app synthesized.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.moto_deploy import LocalDeployment, local_session
from local.sandbox.planned import rate_minutes
from mgn_exporter.alert_handler import TOPIC_VARIABLE as ALERT_TOPIC_VARIABLE

_LOGICAL_ID_HASH = re.compile(r"[0-9A-F]{8}$")


@dataclass(frozen=True)
class AlertRule:
    name: str  # physical
    label: str  # the construct's id, for people
    pattern: dict[str, Any]
    topic_arns: tuple[str, ...]


@dataclass(frozen=True)
class ScheduleRule:
    name: str
    arn: str
    expression: str

    @property
    def rate_minutes(self) -> float | None:
        return rate_minutes(self.expression)


@dataclass(frozen=True)
class SavedQuery:
    name: str
    query: str
    log_group_names: tuple[str, ...]


@dataclass(frozen=True)
class DeployedFunction:
    """One Lambda function as deployed: moto's configuration, and from the template its code
    package and logging configuration (moto keeps neither as the template has them)."""

    name: str
    arn: str
    config: dict[str, Any]  # lambda get_function's Configuration
    log_group: str
    logging_config: dict[str, Any]  # the template's LoggingConfig
    code_sha256: str
    code_bucket: str
    code_key: str

    @property
    def handler(self) -> str:
        return str(self.config["Handler"])

    @property
    def timeout_seconds(self) -> float:
        return float(self.config.get("Timeout", 3))

    @property
    def environment(self) -> dict[str, str]:
        return dict(self.config.get("Environment", {}).get("Variables", {}))


@dataclass(frozen=True)
class WorkMapping:
    """The worker's SQS event source mapping, as lambda list_event_source_mappings has it."""

    uuid: str
    queue_arn: str
    batch_size: int
    max_concurrency: int | None  # ScalingConfig.MaximumConcurrency; None: no cap
    report_batch_item_failures: bool
    state: str


@dataclass(frozen=True)
class DeployedStack:
    deployment: LocalDeployment
    template: dict[str, Any]
    endpoint_url: str
    region: str
    account_id: str
    dispatcher: DeployedFunction
    worker: DeployedFunction
    mapping: WorkMapping
    work_queue_url: str
    work_queue_arn: str
    dead_letter_queue_url: str
    bus_name: str
    event_source: str
    event_log_group: str
    table_name: str
    alert_topic_arn: str
    alert_rules: tuple[AlertRule, ...]
    schedule: ScheduleRule | None  # the rule that targets the dispatcher
    saved_queries: tuple[SavedQuery, ...]

    @property
    def functions(self) -> tuple[DeployedFunction, DeployedFunction]:
        return (self.dispatcher, self.worker)


def _stack_artifact(assembly_dir: Path, stack_name: str) -> dict[str, Any]:
    manifest = json.loads((assembly_dir / "manifest.json").read_text(encoding="utf-8"))
    for name, artifact in manifest["artifacts"].items():
        if artifact.get("type") == "aws:cloudformation:stack" and stack_name in (
            name,
            artifact.get("displayName"),
        ):
            return dict(artifact)
    raise LookupError(f"no stack {stack_name} in {assembly_dir}")


def template_path(assembly_dir: Path, stack_name: str) -> Path:
    artifact = _stack_artifact(assembly_dir, stack_name)
    return assembly_dir / str(artifact["properties"]["templateFile"])


def construct_labels(assembly_dir: Path, stack_name: str) -> dict[str, str]:
    """Logical id -> the construct's own id (``ErrorItemsRule``), from the assembly's metadata."""
    artifact = _stack_artifact(assembly_dir, stack_name)
    metadata: dict[str, Any] = dict(artifact.get("metadata") or {})
    extra = artifact.get("additionalMetadataFile")
    if extra:
        metadata.update(json.loads((assembly_dir / extra).read_text(encoding="utf-8")))
    labels: dict[str, str] = {}
    for path, entries in metadata.items():
        parts = [part for part in path.split("/") if part and part != "Resource"]
        for entry in entries:
            if entry.get("type") == "aws:cdk:logicalId" and parts:
                labels[str(entry["data"])] = parts[-1]
    return labels


def label(logical_id: str, labels: dict[str, str] | None = None) -> str:
    """The construct id if known, else the logical id without its hash suffix."""
    if labels and logical_id in labels:
        return labels[logical_id]
    return _LOGICAL_ID_HASH.sub("", logical_id)


def describe_stack(
    deployment: LocalDeployment, assembly_dir: Path, endpoint_url: str, region: str
) -> DeployedStack:
    session = local_session(region)
    template = json.loads(
        template_path(assembly_dir, deployment.stack_name).read_text(encoding="utf-8")
    )
    resources: dict[str, Any] = template["Resources"]
    outputs = deployment.outputs
    ids = deployment.physical_ids
    lambda_client = session.client("lambda", endpoint_url=endpoint_url)
    dispatcher = _function(lambda_client, outputs["DispatcherFunctionName"], resources, ids, region)
    worker = _function(lambda_client, outputs["WorkerFunctionName"], resources, ids, region)
    account_id = dispatcher.arn.split(":")[4]
    bus_name = outputs["EventBusName"]
    events = session.client("events", endpoint_url=endpoint_url)
    by_physical = {physical: logical for logical, physical in ids.items()}
    return DeployedStack(
        deployment=deployment,
        template=template,
        endpoint_url=endpoint_url,
        region=region,
        account_id=account_id,
        dispatcher=dispatcher,
        worker=worker,
        mapping=_work_mapping(lambda_client, worker.name, outputs["WorkQueueArn"]),
        work_queue_url=outputs["WorkQueueUrl"],
        work_queue_arn=outputs["WorkQueueArn"],
        dead_letter_queue_url=outputs["WorkDeadLetterQueueUrl"],
        bus_name=bus_name,
        event_source=outputs["EventSource"],
        event_log_group=outputs["EventLogGroupName"],
        table_name=outputs["CheckpointTableName"],
        alert_topic_arn=outputs["AlertTopicArn"],
        alert_rules=_alert_rules(
            events,
            lambda_client,
            bus_name,
            by_physical,
            construct_labels(assembly_dir, deployment.stack_name),
        ),
        schedule=_schedule(events, dispatcher.arn),
        saved_queries=_saved_queries(resources, ids),
    )


def _function(
    lambda_client: Any, name: str, resources: dict[str, Any], ids: dict[str, str], region: str
) -> DeployedFunction:
    """moto's configuration of the function, and its template resource's code and logging."""
    config = lambda_client.get_function(FunctionName=name)["Configuration"]
    account_id = config["FunctionArn"].split(":")[4]
    (logical_id,) = (
        logical
        for logical, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::Function"
        and ids.get(logical) == config["FunctionName"]
    )
    properties = resources[logical_id]["Properties"]
    logging_config = dict(properties.get("LoggingConfig", {}))
    code = properties["Code"]
    return DeployedFunction(
        name=config["FunctionName"],
        arn=config["FunctionArn"],
        config=dict(config),
        log_group=_resolve(logging_config.get("LogGroup"), ids)
        or f"/aws/lambda/{config['FunctionName']}",
        logging_config=logging_config,
        code_sha256=config["CodeSha256"],
        code_bucket=_substitute(code["S3Bucket"], account_id, region),
        code_key=_substitute(code["S3Key"], account_id, region),
    )


def _work_mapping(lambda_client: Any, worker_name: str, queue_arn: str) -> WorkMapping:
    """The worker's mapping on the work queue: the sandbox polls the queue as it says."""
    mappings = [
        mapping
        for mapping in lambda_client.list_event_source_mappings(FunctionName=worker_name)[
            "EventSourceMappings"
        ]
        if mapping["EventSourceArn"] == queue_arn
    ]
    if len(mappings) != 1:
        raise LookupError(
            f"expected one event source mapping from {queue_arn} to {worker_name}, "
            f"found {len(mappings)}"
        )
    (mapping,) = mappings
    concurrency = (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency")
    return WorkMapping(
        uuid=str(mapping["UUID"]),
        queue_arn=queue_arn,
        batch_size=int(mapping.get("BatchSize") or 10),
        max_concurrency=int(concurrency) if concurrency else None,
        report_batch_item_failures="ReportBatchItemFailures"
        in (mapping.get("FunctionResponseTypes") or []),
        state=str(mapping.get("State", "")),
    )


def _alert_rules(
    events: Any,
    lambda_client: Any,
    bus_name: str,
    by_physical: dict[str, str],
    labels: dict[str, str],
) -> tuple[AlertRule, ...]:
    """The rules whose events end in a topic: straight (an SNS target), or through the alert
    function (a Lambda target whose environment names the topic it publishes to)."""
    rules: list[AlertRule] = []
    for rule in events.list_rules(EventBusName=bus_name)["Rules"]:
        targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus_name)["Targets"]
        topics = tuple(
            topic for topic in (_topic_of(t["Arn"], lambda_client) for t in targets) if topic
        )
        if topics and rule.get("EventPattern"):
            rules.append(
                AlertRule(
                    name=rule["Name"],
                    label=label(by_physical.get(rule["Name"], rule["Name"]), labels),
                    pattern=json.loads(rule["EventPattern"]),
                    topic_arns=topics,
                )
            )
    return tuple(sorted(rules, key=lambda r: r.label))


def _topic_of(target_arn: str, lambda_client: Any) -> str | None:
    if target_arn.startswith("arn:aws:sns:"):
        return target_arn
    if not target_arn.startswith("arn:aws:lambda:"):
        return None
    config = lambda_client.get_function_configuration(FunctionName=target_arn)
    topic = config.get("Environment", {}).get("Variables", {}).get(ALERT_TOPIC_VARIABLE)
    return str(topic) if topic else None


def _schedule(events: Any, function_arn: str) -> ScheduleRule | None:
    for rule in events.list_rules()["Rules"]:
        if not rule.get("ScheduleExpression"):
            continue
        targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        if any(t["Arn"] == function_arn for t in targets):
            return ScheduleRule(rule["Name"], rule["Arn"], rule["ScheduleExpression"])
    return None


def _saved_queries(resources: dict[str, Any], ids: dict[str, str]) -> tuple[SavedQuery, ...]:
    queries = [
        SavedQuery(
            name=str(resource["Properties"]["Name"]),
            query=str(resource["Properties"]["QueryString"]),
            log_group_names=tuple(
                name
                for name in (_resolve(g, ids) for g in resource["Properties"]["LogGroupNames"])
                if name
            ),
        )
        for resource in resources.values()
        if resource["Type"] == "AWS::Logs::QueryDefinition"
    ]
    return tuple(sorted(queries, key=lambda q: q.name))


def _resolve(value: Any, ids: dict[str, str]) -> str | None:
    """A plain string, or a Ref to a resource moto created."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return ids.get(str(value["Ref"]))
    return None


def _substitute(value: Any, account_id: str, region: str) -> str:
    text = value["Fn::Sub"] if isinstance(value, dict) and "Fn::Sub" in value else value
    if not isinstance(text, str):
        raise ValueError(f"cannot resolve {value!r}")
    return (
        text.replace("${AWS::AccountId}", account_id)
        .replace("${AWS::Region}", region)
        .replace("${AWS::Partition}", "aws")
        .replace("${AWS::URLSuffix}", "amazonaws.com")
    )
