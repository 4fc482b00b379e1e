"""Where the stack deploys: the commercial Regions where the Powertools layer it uses exists.

The functions are arm64 and load the AWS-managed Powertools layer for python3.12 on arm64, which
its publisher (account 017000801446) publishes in the commercial partition only, and not in every
commercial Region; a few of those Regions lack a resource type of the stack. The stack supports
exactly the Regions that have both: an explicit other Region fails the synth; an
environment-agnostic template carries the layer ARN per Region and cannot resolve one elsewhere.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from cfnlint.api import ManualArgs, lint_file  # type: ignore[import-untyped]

from infra import constants as c
from infra.application import build_app
from infra.config import ConfigError
from tests.infra.cfn_eval import Renderer, Unsupported
from tests.infra.conftest import Synth

ACCOUNT = "111111111111"


def layer_arn(region: str, version: int = c.POWERTOOLS_LAYER_VERSION) -> str:
    return (
        f"arn:aws:lambda:{region}:{c.POWERTOOLS_LAYER_ACCOUNT}:layer:"
        f"{c.POWERTOOLS_LAYER_NAME}:{version}"
    )


def layers(template: dict[str, Any]) -> list[Any]:
    return [
        f["Properties"]["Layers"]
        for f in template["Resources"].values()
        if f["Type"] == "AWS::Lambda::Function"
    ]


def test_cdk_json_claims_the_commercial_partition_only() -> None:
    context = json.loads(c.CDK_JSON_FILE.read_text(encoding="utf-8"))["context"]
    assert context["@aws-cdk/core:target-partitions"] == ["aws"]


def test_the_region_list_is_commercial_and_leaves_out_where_the_layer_is_missing() -> None:
    regions = c.SUPPORTED_REGIONS
    assert len(set(regions)) == len(regions)
    assert not any(r.startswith(("cn-", "us-gov-", "us-iso", "eu-isoe")) for r in regions)
    # The Powertools docs list no arm64 layer in ca-west-1 (x86_64 only).
    assert "ca-west-1" not in regions
    # The layer is there, the EventBridge schema registry is not (test_cfn_lint.py checks
    # every supported Region has every resource type of the template).
    assert not set(REGIONS_WITHOUT_SCHEMA_REGISTRY) & set(regions)
    assert {"us-east-1", "eu-west-1", "ap-southeast-2"} <= set(regions)


# Regions with the arm64 layer but no AWS::EventSchemas::* (cfn-lint's and the CDK's Region
# data agree; the CDK fails an explicit synth there).
REGIONS_WITHOUT_SCHEMA_REGISTRY = (
    "ap-south-2",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "il-central-1",
    "mx-central-1",
)


def test_the_left_out_regions_lack_a_resource_type_of_the_stack(synth: Synth) -> None:
    matches = lint_file(
        synth.template_path, config=ManualArgs(regions=list(REGIONS_WITHOUT_SCHEMA_REGISTRY))
    )
    missing = {
        region
        for m in matches
        if m.rule.id == "E3006" and "AWS::EventSchemas::Registry" in m.message
        for region in REGIONS_WITHOUT_SCHEMA_REGISTRY
        if f"'{region}'" in m.message
    }
    assert missing == set(REGIONS_WITHOUT_SCHEMA_REGISTRY)


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1", "sa-east-1"])
def test_a_supported_region_gets_its_layer_arn(region: str) -> None:
    _, stack = build_app(env=cdk.Environment(account=ACCOUNT, region=region), nag=False)
    template = Template.from_stack(stack).to_json()
    assert layers(template) == [[layer_arn(region)]] * 3
    assert "Mappings" not in template


@pytest.mark.parametrize(
    "region", ["ca-west-1", "cn-north-1", "cn-northwest-1", "us-gov-west-1", "il-central-1"]
)
def test_an_unsupported_region_fails_the_synth_and_says_why(region: str) -> None:
    with pytest.raises(ConfigError, match=rf"{region}.*Powertools") as error:
        build_app(env=cdk.Environment(account=ACCOUNT, region=region), nag=False)
    assert "us-east-1" in str(error.value)  # it lists where the stack does deploy


def test_the_environment_agnostic_template_resolves_the_layer_per_region(synth: Synth) -> None:
    mappings = synth.template_json["Mappings"]
    (mapping,) = mappings.values()
    assert set(mapping) == set(c.SUPPORTED_REGIONS)
    version = synth.config.powertools_layer_version
    for region in c.SUPPORTED_REGIONS:
        render = Renderer(synth.template_json, synth.stack_name, region=region)
        assert render.render(layers(synth.template_json)) == [[layer_arn(region, version)]] * 3
    # Elsewhere the lookup has no answer: CloudFormation refuses the template before it
    # creates anything.
    for region in ("ca-west-1", "cn-north-1"):
        with pytest.raises(Unsupported, match=region):
            Renderer(synth.template_json, synth.stack_name, region=region).render(
                layers(synth.template_json)
            )
