"""Just enough CloudFormation and IAM evaluation to ask a template questions AWS would answer.

``Renderer`` turns intrinsic functions into strings for a chosen account, Region and stack ID
(a resource's ``Ref``/``GetAtt`` becomes a stable placeholder ARN or name, the same every time,
so two references to one resource compare equal). ``allows`` evaluates a resource policy the
way IAM does for one request: some Allow statement applies and no Deny statement does, with
principals, actions (wildcards), resources and the common condition operators. Anything it does
not understand raises, so a test never passes on a policy it silently misread.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"
STACK_UUID = "1a2b3c4d-5e6f-4a0b-8c9d-0e1f2a3b4c5d"

# What Ref returns for each resource type, when it is an ARN (otherwise a name is returned).
_REF_IS_ARN = {"AWS::SNS::Topic", "AWS::KMS::Key"}
_ARN_SERVICE = {
    "AWS::SNS::Topic": "sns",
    "AWS::KMS::Key": "kms",
    "AWS::SQS::Queue": "sqs",
    "AWS::Events::EventBus": "events",
    "AWS::Events::Rule": "events",
    "AWS::Events::Archive": "events",
    "AWS::CloudWatch::Alarm": "cloudwatch",
    "AWS::Logs::LogGroup": "logs",
    "AWS::Lambda::Function": "lambda",
    "AWS::DynamoDB::Table": "dynamodb",
    "AWS::IAM::Role": "iam",
}


class Unsupported(AssertionError):
    """The template or policy uses something this evaluator does not model."""


@dataclass
class Renderer:
    template: Mapping[str, Any]
    stack_name: str
    account: str = ACCOUNT
    region: str = REGION
    stack_uuid: str = STACK_UUID
    overrides: dict[str, str] = field(default_factory=dict)

    @property
    def stack_id(self) -> str:
        return (
            f"arn:{PARTITION}:cloudformation:{self.region}:{self.account}:"
            f"stack/{self.stack_name}/{self.stack_uuid}"
        )

    def _resource(self, logical_id: str) -> Mapping[str, Any]:
        resources = self.template.get("Resources", {})
        if logical_id not in resources:
            raise Unsupported(f"no resource {logical_id}")
        resource: Mapping[str, Any] = resources[logical_id]
        return resource

    def name_of(self, logical_id: str) -> str:
        """The resource's name: its own name property when the template sets one."""
        resource = self._resource(logical_id)
        props = resource.get("Properties", {})
        for key in ("AlarmName", "Name", "TopicName", "QueueName", "LogGroupName", "ArchiveName"):
            if key in props:
                return self.render(props[key])
        return f"{self.stack_name}-{logical_id}"

    def arn_of(self, logical_id: str) -> str:
        resource = self._resource(logical_id)
        kind = resource["Type"]
        service = _ARN_SERVICE.get(kind, kind.split("::")[1].lower())
        name = self.name_of(logical_id)
        prefix = f"arn:{PARTITION}:{service}:{self.region}:{self.account}"
        if kind == "AWS::CloudWatch::Alarm":
            return f"{prefix}:alarm:{name}"
        if kind == "AWS::Events::EventBus":
            return f"{prefix}:event-bus/{name}"
        if kind == "AWS::Events::Rule":
            bus = self.render(resource.get("Properties", {}).get("EventBusName", "default"))
            return f"{prefix}:rule/{bus}/{name}"
        if kind == "AWS::Events::Archive":
            return f"{prefix}:archive/{name}"
        if kind == "AWS::KMS::Key":
            return f"{prefix}:key/{logical_id}"
        if kind == "AWS::Logs::LogGroup":
            return f"{prefix}:log-group:{name}:*"
        return f"{prefix}:{name}"

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::StackId": self.stack_id,
        }
        if name in self.overrides:
            return self.overrides[name]
        if name in pseudo:
            return pseudo[name]
        if name in self.template.get("Parameters", {}):
            return str(self.template["Parameters"][name].get("Default", name))
        resource = self._resource(name)
        return self.arn_of(name) if resource["Type"] in _REF_IS_ARN else self.name_of(name)

    def render(self, node: Any) -> Any:
        """Strings (and lists of strings) with every intrinsic function resolved."""
        if isinstance(node, str | int | float | bool) or node is None:
            return node if not isinstance(node, bool) else str(node).lower()
        if isinstance(node, list):
            return [self.render(item) for item in node]
        if not isinstance(node, dict):
            raise Unsupported(repr(node))
        if len(node) != 1:
            return {key: self.render(value) for key, value in node.items()}
        ((key, value),) = node.items()
        if key == "Ref":
            return self.ref(value)
        if key == "Fn::GetAtt":
            logical_id, attribute = value if isinstance(value, list) else value.split(".", 1)
            if attribute == "Arn":
                return self.arn_of(logical_id)
            if attribute in ("Name", "QueueName", "RegistryName", "TopicName"):
                return self.name_of(logical_id)
            return f"{self.name_of(logical_id)}.{attribute}"
        if key == "Fn::Join":
            separator, parts = value
            return str(separator).join(str(self.render(part)) for part in self.render(parts))
        if key == "Fn::Split":
            separator, text = value
            return str(self.render(text)).split(separator)
        if key == "Fn::Select":
            index, items = value
            return self.render(items)[int(self.render(index))]
        if key == "Fn::FindInMap":
            mapping, top, second = (self.render(v) for v in value)
            try:
                return self.template["Mappings"][mapping][top][second]
            except KeyError:
                raise Unsupported(f"no mapping {mapping}/{top}/{second}") from None
        if key == "Fn::Sub":
            text, variables = (value, {}) if isinstance(value, str) else value
            rendered = str(text)
            for name, replacement in variables.items():
                rendered = rendered.replace(f"${{{name}}}", str(self.render(replacement)))
            while "${" in rendered:
                start = rendered.index("${")
                end = rendered.index("}", start)
                expression = rendered[start + 2 : end]
                if "." in expression:
                    logical_id, attribute = expression.split(".", 1)
                    replacement = self.render({"Fn::GetAtt": [logical_id, attribute]})
                else:
                    replacement = self.ref(expression)
                rendered = rendered[:start] + str(replacement) + rendered[end + 1 :]
            return rendered
        if key.startswith("Fn::") or key == "Condition":
            raise Unsupported(f"intrinsic {key}")
        return {key: self.render(value)}


@dataclass(frozen=True)
class Request:
    """One call: a service principal doing ``action`` on ``resource`` with a request context."""

    service: str
    action: str
    resource: str
    context: Mapping[str, str]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _like(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def _principal_matches(statement: Mapping[str, Any], request: Request) -> bool:
    if "NotPrincipal" in statement:
        raise Unsupported("NotPrincipal")
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        raise Unsupported(f"principal {principal!r}")
    if "*" in _as_list(principal.get("AWS", [])):
        return True
    return request.service in _as_list(principal.get("Service", []))


def _action_matches(statement: Mapping[str, Any], request: Request) -> bool:
    wanted = request.action.lower()
    if "Action" in statement:
        return any(_like(str(a).lower(), wanted) for a in _as_list(statement["Action"]))
    if "NotAction" in statement:
        return not any(_like(str(a).lower(), wanted) for a in _as_list(statement["NotAction"]))
    raise Unsupported("statement without Action")


def _resource_matches(statement: Mapping[str, Any], request: Request) -> bool:
    if "Resource" in statement:
        return any(_like(str(r), request.resource) for r in _as_list(statement["Resource"]))
    if "NotResource" in statement:
        return not any(_like(str(r), request.resource) for r in _as_list(statement["NotResource"]))
    raise Unsupported("statement without Resource")


_COMPARE = {
    "StringEquals": lambda p, v: p == v,
    "StringNotEquals": lambda p, v: p == v,
    "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "StringLike": _like,
    "StringNotLike": _like,
    "ArnEquals": lambda p, v: p == v,
    "ArnNotEquals": lambda p, v: p == v,
    "ArnLike": _like,
    "ArnNotLike": _like,
    "Bool": lambda p, v: p.lower() == v.lower(),
}


def _condition_holds(operator: str, key: str, patterns: Any, context: Mapping[str, str]) -> bool:
    if operator.startswith(("ForAnyValue:", "ForAllValues:")):
        raise Unsupported(operator)
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if base not in _COMPARE:
        raise Unsupported(f"condition operator {operator}")
    negated = "Not" in base
    values = {k.lower(): v for k, v in context.items()}
    if key.lower() not in values:
        return if_exists or negated
    value = values[key.lower()]
    matched = any(_COMPARE[base](str(p), value) for p in _as_list(patterns))
    return not matched if negated else matched


def _conditions_hold(statement: Mapping[str, Any], request: Request) -> bool:
    return all(
        _condition_holds(operator, key, patterns, request.context)
        for operator, block in statement.get("Condition", {}).items()
        for key, patterns in block.items()
    )


def applies(statement: Mapping[str, Any], request: Request) -> bool:
    return (
        _principal_matches(statement, request)
        and _action_matches(statement, request)
        and _resource_matches(statement, request)
        and _conditions_hold(statement, request)
    )


def allows(statements: list[Mapping[str, Any]], request: Request) -> bool:
    """An explicit Allow applies and no Deny does (statements already rendered)."""
    effects = {s["Effect"] for s in statements if applies(s, request)}
    return "Allow" in effects and "Deny" not in effects
