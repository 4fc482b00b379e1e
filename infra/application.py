"""Builds the CDK app (used by app.py and the tests) and checks cdk-nag's verdict."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import cx_api
from cdk_nag import AwsSolutionsChecks

from infra import constants as c
from infra.config import ExporterConfig
from infra.stack import MgnJobLogExporterStack

NAG_MARKERS = ("AwsSolutions-", "CdkNagValidationFailure")


@dataclass(frozen=True)
class Finding:
    level: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"[{self.level}] {self.path}: {self.message}"


def cdk_json_context(path: Path = c.CDK_JSON_FILE) -> dict[str, Any]:
    """cdk.json's context, so `python app.py` without the CDK CLI synthesizes the same template.

    The CLI passes the same values (plus any -c overrides) in CDK_CONTEXT_JSON, which the App
    applies over these.
    """
    if not path.is_file():
        return {}
    context = json.loads(path.read_text(encoding="utf-8")).get("context", {})
    return dict(context) if isinstance(context, dict) else {}


def environment_from_os() -> cdk.Environment | None:
    """The CLI's CDK_DEFAULT_ACCOUNT/REGION when set, else environment-agnostic."""
    account = os.environ.get("CDK_DEFAULT_ACCOUNT") or None
    region = os.environ.get("CDK_DEFAULT_REGION") or None
    if account is None and region is None:
        return None
    return cdk.Environment(account=account, region=region)


def build_app(
    *,
    outdir: str | None = None,
    context: Mapping[str, Any] | None = None,
    env: cdk.Environment | None = None,
    nag: bool = True,
) -> tuple[cdk.App, MgnJobLogExporterStack]:
    app = cdk.App(outdir=outdir, context={**cdk_json_context(), **dict(context or {})})
    config = ExporterConfig.from_context(app.node.try_get_context)
    stack_name = app.node.try_get_context("stackName") or c.STACK_NAME
    stack = MgnJobLogExporterStack(app, stack_name, config=config, env=env)
    if nag:
        # Runs on every synth; verbose puts each rule's explanation into its finding.
        cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return app, stack


def findings(assembly: cx_api.CloudAssembly) -> list[Finding]:
    """Errors of any kind, plus cdk-nag warnings: what must be zero for a synth to pass."""
    found: list[Finding] = []
    for stack in assembly.stacks:
        for message in stack.messages:
            text = str(message.entry.data)
            is_error = message.level == cx_api.SynthesisMessageLevel.ERROR
            is_nag = any(marker in text for marker in NAG_MARKERS)
            if is_error or is_nag:
                found.append(Finding(message.level.name, message.id, text))
    return found
