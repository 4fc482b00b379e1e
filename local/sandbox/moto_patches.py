"""What the sandbox changes in its in-process moto server, and why.

1. The test suite's speed-ups (``tests.moto_speedups``): same results, much faster SQS and
   EventBridge target delivery.
2. EventBridge rule targets moto cannot deliver to: SNS topics (its input transformer only
   takes JSON templates, and it raises NotImplementedError for SNS) and Lambda functions (its
   Lambda needs Docker). Either makes the PutEvents of a matching event fail with a 500. The
   stack's alert rules target the alert function, which writes the event for people
   (mgn_exporter.alert_text) and publishes it to the alert topic: the patch does the same, with
   the same code and the topic its environment names. A rule into a topic gets what
   EventBridge sends there: its input transformer rendered as text (values of paths missing
   from the event render empty), or the whole event as JSON without one. moto's SNS then
   delivers to subscribers (SQS included). Other targets are left to moto.
3. The worker's SQS event source mapping, kept as configuration only. moto creates the
   stack's AWS::Lambda::EventSourceMapping and then, on every SendMessage to the work queue,
   receives a batch itself and invokes the worker through its own Lambda, which needs Docker
   (absent here): each dispatch would fail or hang, and moto would consume the messages the
   sandbox's own poller (``esm_emulator``, see ``sandbox.drain``) must see. The patch lets
   moto record the mapping, so that lambda ListEventSourceMappings shows it (the sandbox
   reads its batch size, MaximumConcurrency and FunctionResponseTypes from there), but
   detaches it from the queue (moto's ``Queue.lambda_event_source_mappings``), which is only
   where moto's SendMessage looks for functions to invoke.
4. Atomic DynamoDB item operations and SQS receives (``faultsuite.moto_fidelity``): the
   sandbox runs workers concurrently, and moto's server evaluates a conditional write, or
   marks a message received, in two steps, so two workers could both take one account's
   lease or one message, which AWS never allows.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
from typing import Any

from local.faultsuite.moto_fidelity import atomic_dynamodb_items, atomic_sqs_queues
from mgn_exporter.alert_handler import TOPIC_VARIABLE as ALERT_TOPIC_VARIABLE

_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_applied = False


def apply() -> None:
    """Patch moto in this process (idempotent); call before starting moto's server."""
    global _applied
    if _applied:
        return
    from moto.events.models import Rule

    # Imported by name: tests/ is outside the type-checked packages.
    importlib.import_module("tests.moto_speedups").apply()
    atomic_dynamodb_items()
    atomic_sqs_queues()
    _keep_event_source_mappings_as_configuration()
    original = Rule.send_to_targets

    def send_to_targets(
        self: Rule, original_event: dict[str, Any], transform_input: bool = True
    ) -> None:
        to_topics = [t for t in self.targets if str(t.get("Arn", "")).startswith("arn:aws:sns:")]
        # The alert function's targets, with the topic each publishes to (looked up once).
        to_alerts = [(t, topic) for t in self.targets if (topic := _alert_topic_of(t))]
        if not to_topics and not to_alerts:
            original(self, original_event, transform_input)  # type: ignore[arg-type]
            return
        if self.event_pattern.matches_event(original_event):  # type: ignore[arg-type]
            for target in to_topics:
                _publish(target, original_event)
            for _, topic in to_alerts:
                _alert(topic, original_event)
        alerting = [t for t, _ in to_alerts]
        others = [t for t in self.targets if t not in to_topics and t not in alerting]
        if others:
            view = copy.copy(self)
            view.targets = others
            original(view, original_event, transform_input)  # type: ignore[arg-type]

    Rule.send_to_targets = send_to_targets  # type: ignore[assignment,method-assign]
    _applied = True


def _keep_event_source_mappings_as_configuration() -> None:
    from moto.awslambda.models import EventSourceMapping, LambdaBackend

    original = LambdaBackend.create_event_source_mapping

    def create_event_source_mapping(
        self: LambdaBackend, spec: dict[str, Any]
    ) -> EventSourceMapping:
        mapping = original(self, spec)
        detach_from_queue(self.account_id, self.region_name, mapping)
        return mapping

    LambdaBackend.create_event_source_mapping = create_event_source_mapping  # type: ignore[method-assign]


def detach_from_queue(account_id: str, region: str, mapping: Any) -> None:
    """Take an event source mapping off its SQS queue in moto (it stays in moto's Lambda)."""
    from moto.sqs.models import sqs_backends

    for queue in sqs_backends[account_id][region].queues.values():
        if queue.queue_arn == mapping.event_source_arn:
            queue.lambda_event_source_mappings.pop(mapping.function_arn, None)


def _alert_topic_of(target: dict[str, Any]) -> str | None:
    """The topic of the stack's alert function when `target` is that function, else None."""
    from moto.awslambda.models import lambda_backends

    arn = str(target.get("Arn", ""))
    if not arn.startswith("arn:aws:lambda:"):
        return None
    _, _, _, region, account, _ = arn.split(":", 5)
    try:
        function = lambda_backends[account][region].get_function(arn)
    except Exception:  # not a function moto knows: leave the target to moto
        return None
    topic = (function.environment_vars or {}).get(ALERT_TOPIC_VARIABLE)
    return str(topic) if topic else None


def _alert(topic: str, event: dict[str, Any]) -> None:
    """What the alert function does, with its own code: the event written for people
    (mgn_exporter.alert_text), published to its `topic` with a subject."""
    from moto.sns.models import sns_backends

    from mgn_exporter.alert_text import alert_text

    _, _, _, region, account, _ = topic.split(":", 5)
    subject, message = alert_text(event)
    sns_backends[account][region].publish(message, arn=topic, subject=subject)


def _publish(target: dict[str, Any], event: dict[str, Any]) -> None:
    from moto.sns.models import sns_backends

    arn = str(target["Arn"])
    _, _, _, region, account, _ = arn.split(":", 5)
    sns_backends[account][region].publish(render_target_input(target, event), arn=arn)


def render_target_input(target: dict[str, Any], event: dict[str, Any]) -> str:
    """The message EventBridge hands a target: Input, InputPath, InputTransformer or the event."""
    if "Input" in target:
        return str(target["Input"])
    if "InputPath" in target:
        return json.dumps(_lookup(event, str(target["InputPath"])))
    transformer = target.get("InputTransformer")
    if not transformer:
        return json.dumps(event)
    values = {
        name: _lookup(event, str(path))
        for name, path in (transformer.get("InputPathsMap") or {}).items()
    }
    return render_template(str(transformer["InputTemplate"]), values)


def render_template(template: str, values: dict[str, Any]) -> str:
    """Fill an input template.

    A template of quoted lines (one JSON string a line, as the CDK writes multi-line text)
    renders as those strings, one a line; any other template as JSON text with the values
    spliced in (strings inside quotes escaped, other values as JSON).
    """
    lines = template.split("\n")
    if all(len(line) >= 2 and line[0] == line[-1] == '"' for line in lines):
        return "\n".join(json.loads(_fill(line, values, quoted=True)) for line in lines)
    return _fill(template, values, quoted=False)


def _fill(text: str, values: dict[str, Any], *, quoted: bool) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        found = values[name]
        if quoted or isinstance(found, str):
            as_text = found if isinstance(found, str) else ("" if found is None else str(found))
            return json.dumps(as_text)[1:-1]
        return json.dumps(found)

    return _PLACEHOLDER.sub(value, text)


def _lookup(event: dict[str, Any], path: str) -> Any:
    """A simple JSONPath (``$.detail.eventData.rawError``); None when absent."""
    node: Any = event
    for part in path.removeprefix("$").strip(".").split("."):
        if not part:
            continue
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node
