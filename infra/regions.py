"""Where the stack can run: the Regions where the Powertools layer it loads, and every resource
type it creates, exist.

Both functions are python3.12 on arm64 and import Powertools (and the X-Ray SDK) from the
AWS-managed layer ``AWSLambdaPowertoolsPythonV3-python312-arm64`` of account 017000801446. That
account publishes in the commercial partition only, and not in every commercial Region: the
Powertools docs list the arm64 layer nowhere in China or GovCloud (other publisher accounts, other
layer versions) and not in ca-west-1 (x86_64 only). A few Regions that have the layer have no
EventBridge schema registry (see ``constants.SUPPORTED_REGIONS``). Rather than claim Regions
nobody has deployed to, the stack supports ``constants.SUPPORTED_REGIONS`` and says so:

- with an explicit Region (``cdk deploy`` passes the profile's), any other Region fails the synth
  with a message that names it;
- an environment-agnostic template looks the layer ARN up per Region in a mapping that has only
  those Regions: CloudFormation rejects it elsewhere before it creates anything.

Supporting another Region means adding it here once the layer is published there (or, for
China and GovCloud, the publisher account and version of that partition).
"""

from __future__ import annotations

from aws_cdk import Aws, CfnMapping, Stack, Token
from constructs import Construct

from infra import constants as c
from infra.config import ConfigError

_MAPPING_ID = "PowertoolsLayer"
_MAPPING_KEY = "Arn"


def layer_arn_in(region: str, version: int) -> str:
    return (
        f"arn:aws:lambda:{region}:{c.POWERTOOLS_LAYER_ACCOUNT}:layer:"
        f"{c.POWERTOOLS_LAYER_NAME}:{version}"
    )


def check_supported_region(region: str) -> None:
    """Raise ConfigError for a known Region outside the supported list (a token passes)."""
    if Token.is_unresolved(region) or region in c.SUPPORTED_REGIONS:
        return
    raise ConfigError(
        f"Region {region} is not supported: the functions load the AWS-managed Powertools "
        f"layer {c.POWERTOOLS_LAYER_NAME} (account {c.POWERTOOLS_LAYER_ACCOUNT}), which is not "
        "published there, or a resource type of the stack (the EventBridge schema registry) "
        f"does not exist there. Deploy to one of: {', '.join(c.SUPPORTED_REGIONS)}"
    )


def powertools_layer_arn(scope: Construct, version: int) -> str:
    """The layer's ARN in the stack's Region: a literal when the Region is known, else a
    lookup in a per-Region mapping (one per stack) that has only the supported Regions."""
    stack = Stack.of(scope)
    if not Token.is_unresolved(stack.region):
        check_supported_region(stack.region)
        return layer_arn_in(stack.region, version)
    mapping = stack.node.try_find_child(_MAPPING_ID)
    if not isinstance(mapping, CfnMapping):
        mapping = CfnMapping(
            stack,
            _MAPPING_ID,
            mapping={
                region: {_MAPPING_KEY: layer_arn_in(region, version)}
                for region in c.SUPPORTED_REGIONS
            },
        )
    return mapping.find_in_map(Aws.REGION, _MAPPING_KEY)
