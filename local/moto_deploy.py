"""Deploy a synthesized assembly into moto's CloudFormation (the sandbox's local "AWS").

moto's CloudFormation has no model for some resource types: it skips them with a warning, or
fails the stack. ``trim_template`` drops exactly those types, spells out the ARN of a dropped
alarm where a kept resource refers to it (the dashboard's alarm widget), refuses if a kept
resource refers to a dropped one otherwise, and reports what it dropped and rewrote.
``name_fifo_queues`` gives unnamed FIFO queues the ``.fifo`` name CloudFormation would generate
(moto's generated names lack it).
``deploy_assembly`` then does what ``cdk bootstrap`` + ``cdk deploy`` would: the bootstrap
version parameter, the assets bucket, the file assets, and the stack.

Run ``python -m local.moto_deploy <assembly dir> --endpoint-url http://127.0.0.1:<port>``
against a running ``moto_server`` to print the deployment as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import json
import logging
import os
import socket
import sys
import time
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from boto3.session import Session

# Resource types this stack (or the sandbox's) may contain that moto 5.2.5's CloudFormation
# cannot create. Everything else in the template is created for real by moto.
MOTO_UNSUPPORTED_RESOURCE_TYPES: frozenset[str] = frozenset(
    {
        "AWS::Logs::QueryDefinition",
        "AWS::SNS::Subscription",
        "AWS::EventSchemas::Registry",
        "AWS::EventSchemas::Schema",
        "AWS::EventSchemas::Discoverer",
        "AWS::Scheduler::Schedule",
        "AWS::Scheduler::ScheduleGroup",
        # moto has a model, but it only takes EventPattern as a string; the CDK writes an
        # object (valid CloudFormation), and moto's server then fails the whole request.
        "AWS::Events::Archive",
        # moto skips these silently; dropping them makes the report say so.
        "AWS::CloudWatch::Alarm",
        "AWS::SNS::TopicPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::Lambda::EventInvokeConfig",
        # Added by the CDK CLI's version reporting (not by `python app.py`).
        "AWS::CDK::Metadata",
    }
)

LOCAL_REGION = "us-east-1"
# What `cdk bootstrap` writes; any version >= the template's required one passes its rule.
BOOTSTRAP_VERSION = "30"
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_TERMINAL_SUFFIXES = ("_COMPLETE", "_FAILED")


@dataclass(frozen=True)
class DroppedResource:
    logical_id: str
    type: str


@dataclass(frozen=True)
class TrimResult:
    template: dict[str, Any]
    dropped: list[DroppedResource]
    dropped_outputs: list[str]
    # kept logical ID -> the dropped alarms whose ARNs were spelled out in it
    respelled: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class LocalDeployment:
    stack_name: str
    stack_id: str
    status: str
    outputs: dict[str, str]
    # logical ID -> physical ID of every resource moto created
    physical_ids: dict[str, str]
    dropped: list[DroppedResource] = field(default_factory=list)
    dropped_outputs: list[str] = field(default_factory=list)
    # kept logical ID -> the dropped alarms whose ARNs trim_template spelled out in it
    respelled: dict[str, list[str]] = field(default_factory=dict)
    # logical ID -> the name name_fifo_queues gave an unnamed FIFO queue
    named_fifo_queues: dict[str, str] = field(default_factory=dict)


class LocalDeployError(RuntimeError):
    pass


def _references(node: Any) -> set[str]:
    """Logical IDs that a template fragment refers to via Ref, Fn::GetAtt or Fn::Sub."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".")[0]
                found.add(str(target))
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                for part in str(text).split("${")[1:]:
                    found.add(part.split("}")[0].split(".")[0])
            found |= _references(value)
    elif isinstance(node, list):
        for item in node:
            found |= _references(item)
    return found


def _alarm_arn(alarm_name: str) -> dict[str, Any]:
    """What GetAtt Arn of an alarm named ``alarm_name`` resolves to in CloudFormation."""
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":cloudwatch:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                f":alarm:{alarm_name}",
            ],
        ]
    }


def _rewritten(node: Any, rewrite: Callable[[dict[str, Any]], Any | None]) -> Any:
    """``node`` with every object that ``rewrite`` answers (not None) replaced by its answer."""
    if isinstance(node, dict):
        replacement = rewrite(node)
        if replacement is not None:
            return replacement
        return {key: _rewritten(value, rewrite) for key, value in node.items()}
    if isinstance(node, list):
        return [_rewritten(item, rewrite) for item in node]
    return node


def _alarm_arn_of(
    arns: dict[str, dict[str, Any]], used: set[str]
) -> Callable[[dict[str, Any]], Any | None]:
    """GetAtt Arn of an alarm in ``arns`` -> the ARN itself (noting the alarm in ``used``)."""

    def rewrite(node: dict[str, Any]) -> Any | None:
        if set(node) != {"Fn::GetAtt"}:
            return None
        value = node["Fn::GetAtt"]
        target, attribute = value if isinstance(value, list) else str(value).split(".", 1)
        if attribute != "Arn" or target not in arns:
            return None
        used.add(target)
        return copy.deepcopy(arns[target])

    return rewrite


def _bus_name_of(names: dict[str, Any]) -> Callable[[dict[str, Any]], Any | None]:
    """Ref to an event bus in ``names`` -> the bus's Name (the value or the expression of the
    template), which is what CloudFormation resolves the Ref to (moto's Ref of a bus does not)."""

    def rewrite(node: dict[str, Any]) -> Any | None:
        if set(node) == {"Ref"} and node["Ref"] in names:
            return copy.deepcopy(names[node["Ref"]])
        return None

    return rewrite


def trim_template(
    template: dict[str, Any],
    unsupported: frozenset[str] = MOTO_UNSUPPORTED_RESOURCE_TYPES,
) -> TrimResult:
    """Drop the resource types moto cannot create; touch nothing else but alarm ARNs, bus
    names and rule patterns written as JSON text.

    DependsOn entries and outputs that name a dropped resource go with it. A kept resource
    that refers to a dropped alarm's ARN (the dashboard's alarm widget does) gets the ARN
    written out from the alarm's name, which is what CloudFormation would resolve it to: the
    dashboard deploys as it would on AWS, only its alarms do not exist. Any other reference
    from a kept resource to a dropped one is an error: the deployment would not mean what it
    seems to.
    """
    trimmed = copy.deepcopy(template)
    resources: dict[str, Any] = trimmed.get("Resources", {})
    dropped = [
        DroppedResource(logical_id, resource["Type"])
        for logical_id, resource in resources.items()
        if resource.get("Type") in unsupported
    ]
    dropped_ids = {d.logical_id for d in dropped}
    alarm_arns = {
        logical_id: _alarm_arn(resources[logical_id]["Properties"]["AlarmName"])
        for logical_id in dropped_ids
        if resources[logical_id]["Type"] == "AWS::CloudWatch::Alarm"
        and isinstance(resources[logical_id].get("Properties", {}).get("AlarmName"), str)
    }
    for logical_id in dropped_ids:
        del resources[logical_id]

    bus_names = {
        logical_id: resource["Properties"]["Name"]
        for logical_id, resource in resources.items()
        if resource.get("Type") == "AWS::Events::EventBus"
        and "Name" in resource.get("Properties", {})
    }
    for logical_id in list(resources):
        resources[logical_id] = _rewritten(resources[logical_id], _bus_name_of(bus_names))
        _pattern_as_object(resources[logical_id])
    trimmed["Outputs"] = _rewritten(trimmed.get("Outputs", {}), _bus_name_of(bus_names))

    respelled: dict[str, list[str]] = {}
    for logical_id in list(resources):
        used: set[str] = set()
        resources[logical_id] = _rewritten(resources[logical_id], _alarm_arn_of(alarm_arns, used))
        if used:
            respelled[logical_id] = sorted(used)

    for logical_id, resource in resources.items():
        depends_on = resource.get("DependsOn")
        if depends_on is not None:
            names = [depends_on] if isinstance(depends_on, str) else list(depends_on)
            kept = [name for name in names if name not in dropped_ids]
            if kept:
                resource["DependsOn"] = kept
            else:
                del resource["DependsOn"]
        broken = _references({k: v for k, v in resource.items() if k != "DependsOn"}) & dropped_ids
        if broken:
            raise LocalDeployError(
                f"{logical_id} refers to {sorted(broken)}, which moto cannot create"
            )

    outputs: dict[str, Any] = trimmed.get("Outputs", {})
    dropped_outputs = sorted(k for k, v in outputs.items() if _references(v) & dropped_ids)
    for key in dropped_outputs:
        del outputs[key]
    return TrimResult(
        trimmed, sorted(dropped, key=lambda d: d.logical_id), dropped_outputs, respelled
    )


def _pattern_as_object(resource: dict[str, Any]) -> None:
    """A rule's EventPattern given as JSON text (valid CloudFormation: the stack writes one
    with null in it so) as the object moto's model takes: it JSON-encodes the property again."""
    properties = resource.get("Properties", {})
    if resource.get("Type") == "AWS::Events::Rule" and isinstance(
        properties.get("EventPattern"), str
    ):
        properties["EventPattern"] = json.loads(properties["EventPattern"])


# SQS queue names: at most 80 characters, and a FIFO queue's end in ".fifo".
_QUEUE_NAME_MAX = 80
_FIFO_SUFFIX = ".fifo"


def _is_fifo(properties: dict[str, Any]) -> bool:
    return str(properties.get("FifoQueue", "false")).lower() == "true"


def name_fifo_queues(template: dict[str, Any], stack_name: str) -> dict[str, str]:
    """Name each FIFO queue that has no QueueName, as CloudFormation would; in place.

    CloudFormation names an unnamed queue ``<stack>-<logical id>-<random>``, with the ``.fifo``
    suffix for a FIFO queue. moto 5.2.5 generates the same kind of name without the suffix and
    then refuses the queue ("Queue name must end in .fifo for FIFO queues"), failing the stack.
    The name given here is stable (a hash instead of the random part). Nothing else changes.
    Returns logical ID -> the name given.
    """
    named: dict[str, str] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties") or {}
        if resource.get("Type") != "AWS::SQS::Queue" or not _is_fifo(properties):
            continue
        if "QueueName" in properties:
            continue
        resource["Properties"] = properties
        digest = hashlib.sha256(f"{stack_name}/{logical_id}".encode()).hexdigest()[:12].upper()
        base = f"{stack_name}-{logical_id}"[: _QUEUE_NAME_MAX - len(_FIFO_SUFFIX) - 13]
        properties["QueueName"] = named[logical_id] = f"{base}-{digest}{_FIFO_SUFFIX}"
    return named


@dataclass(frozen=True)
class _StackArtifact:
    name: str
    template_file: Path
    assets_file: Path | None


def _stack_artifact(assembly_dir: Path, stack_name: str | None) -> _StackArtifact:
    manifest = json.loads((assembly_dir / "manifest.json").read_text(encoding="utf-8"))
    artifacts: dict[str, Any] = manifest["artifacts"]
    stacks = {
        name: spec
        for name, spec in artifacts.items()
        if spec.get("type") == "aws:cloudformation:stack"
    }
    if stack_name is None:
        if len(stacks) != 1:
            raise LocalDeployError(f"pick one stack of {sorted(stacks)}")
        stack_name = next(iter(stacks))
    spec = stacks[stack_name]
    assets_file = None
    for dependency in spec.get("dependencies", []):
        dep = artifacts.get(dependency, {})
        if dep.get("type") == "cdk:asset-manifest":
            assets_file = assembly_dir / dep["properties"]["file"]
    return _StackArtifact(
        name=spec.get("displayName", stack_name),
        template_file=assembly_dir / spec["properties"]["templateFile"],
        assets_file=assets_file,
    )


def _resolve(text: str, account: str, region: str) -> str:
    return (
        text.replace("${AWS::AccountId}", account)
        .replace("${AWS::Region}", region)
        .replace("${AWS::Partition}", "aws")
    )


def zip_directory(directory: Path) -> bytes:
    """Zip a directory asset as the CDK CLI does, with fixed timestamps (same bytes each time)."""
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(directory).as_posix(), _FIXED_ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _publish_assets(session: Session, endpoint_url: str, assets_file: Path) -> None:
    """Upload the file assets where the template expects them (what `cdk-assets` does)."""
    manifest = json.loads(assets_file.read_text(encoding="utf-8"))
    account = session.client("sts", endpoint_url=endpoint_url).get_caller_identity()["Account"]
    region = session.region_name or LOCAL_REGION
    s3 = session.client("s3", endpoint_url=endpoint_url)
    for asset in manifest.get("files", {}).values():
        source = assets_file.parent / asset["source"]["path"]
        body = zip_directory(source) if asset["source"].get("packaging") == "zip" else None
        for destination in asset["destinations"].values():
            bucket = _resolve(destination["bucketName"], account, region)
            key = _resolve(destination["objectKey"], account, region)
            with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
                if region == "us-east-1":
                    s3.create_bucket(Bucket=bucket)
                else:
                    s3.create_bucket(
                        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
                    )
            s3.put_object(Bucket=bucket, Key=key, Body=body if body else source.read_bytes())


def _bootstrap_parameters(session: Session, endpoint_url: str, template: dict[str, Any]) -> None:
    """Create the SSM parameters the template reads (the bootstrap version)."""
    ssm = session.client("ssm", endpoint_url=endpoint_url)
    for parameter in template.get("Parameters", {}).values():
        if parameter.get("Type", "").startswith("AWS::SSM::Parameter::Value"):
            ssm.put_parameter(
                Name=parameter["Default"], Value=BOOTSTRAP_VERSION, Type="String", Overwrite=True
            )


def local_session(region: str = LOCAL_REGION) -> Session:
    """A boto3 session with dummy credentials: moto accepts any, and no real ones are read."""
    import boto3

    return boto3.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
        region_name=region,
    )


def deploy_assembly(
    assembly_dir: str | Path,
    *,
    endpoint_url: str,
    stack_name: str | None = None,
    region: str = LOCAL_REGION,
    timeout_seconds: float = 120.0,
) -> LocalDeployment:
    """Deploy one stack of a cloud assembly into the moto server at ``endpoint_url``."""
    assembly = Path(assembly_dir)
    artifact = _stack_artifact(assembly, stack_name)
    template = json.loads(artifact.template_file.read_text(encoding="utf-8"))
    trim = trim_template(template)
    named_fifo_queues = name_fifo_queues(trim.template, artifact.name)
    session = local_session(region)

    _bootstrap_parameters(session, endpoint_url, trim.template)
    if artifact.assets_file is not None:
        _publish_assets(session, endpoint_url, artifact.assets_file)

    cfn = session.client("cloudformation", endpoint_url=endpoint_url)
    stack_id = cfn.create_stack(
        StackName=artifact.name,
        TemplateBody=json.dumps(trim.template),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )["StackId"]
    deadline = time.monotonic() + timeout_seconds
    while True:
        stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        status = stack["StackStatus"]
        if status.endswith(_TERMINAL_SUFFIXES) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if status != "CREATE_COMPLETE":
        reason = stack.get("StackStatusReason", "")
        raise LocalDeployError(f"stack {artifact.name} ended in {status}: {reason}")

    resources = cfn.list_stack_resources(StackName=stack_id)["StackResourceSummaries"]
    return LocalDeployment(
        stack_name=artifact.name,
        stack_id=stack_id,
        status=status,
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        physical_ids={r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources},
        dropped=trim.dropped,
        dropped_outputs=trim.dropped_outputs,
        respelled=trim.respelled,
        named_fifo_queues=named_fifo_queues,
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def moto_server(host: str = "127.0.0.1") -> Iterator[str]:
    """A moto server on a free loopback port for the duration of the block; yields its URL."""
    from moto.server import ThreadedMotoServer

    # One access-log line per request would drown the caller's output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port(host)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    url = f"http://{host}:{port}"
    # moto's backends are global to the process: a server started after another one in the
    # same process would see its resources. Start from an empty cloud.
    reset = urllib.request.Request(f"{url}/moto-api/reset", data=b"", method="POST")
    urllib.request.urlopen(reset, timeout=10).close()
    try:
        yield url
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("assembly_dir", help="cloud assembly directory (CDK_OUTDIR of app.py)")
    parser.add_argument("--endpoint-url", required=True, help="moto server URL")
    parser.add_argument("--stack-name", default=None)
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", LOCAL_REGION))
    args = parser.parse_args(argv)
    deployment = deploy_assembly(
        args.assembly_dir,
        endpoint_url=args.endpoint_url,
        stack_name=args.stack_name,
        region=args.region,
    )
    json.dump(asdict(deployment), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
