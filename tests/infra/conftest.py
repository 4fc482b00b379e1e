"""One synth of the real app for the whole session, done the way users and CI do it.

The fixture runs ``python app.py`` with CDK_OUTDIR set and every AWS_* / CDK_DEFAULT_* variable
removed, then reads the cloud assembly from disk: one synth both proves the offline path and
feeds every template test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import assertions, cx_api

from infra import constants as c
from infra.application import Finding, cdk_json_context, findings
from infra.config import ExporterConfig

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")


@dataclass(frozen=True)
class Synth:
    outdir: Path
    returncode: int
    stderr: str
    assembly: cx_api.CloudAssembly
    stack_name: str
    template_path: Path
    template_json: dict[str, Any]
    template: assertions.Template
    config: ExporterConfig
    findings: list[Finding]

    def resources(self, resource_type: str) -> dict[str, Any]:
        return {
            logical_id: resource
            for logical_id, resource in self.template_json["Resources"].items()
            if resource["Type"] == resource_type
        }

    def dashboard(self) -> dict[str, Any]:
        """The one dashboard's body as JSON. Deploy-time references read ``${LogicalId}`` (Ref)
        or ``${LogicalId.Attribute}`` (GetAtt), as in Fn::Sub."""
        (dashboard,) = self.resources("AWS::CloudWatch::Dashboard").values()
        body = dashboard["Properties"]["DashboardBody"]
        parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
        text = "".join(_render_reference(part) for part in parts)
        parsed: dict[str, Any] = json.loads(text)
        return parsed

    def dashboard_metrics(self) -> list[list[Any]]:
        """Every metric line of the dashboard's graphs: [namespace, name, dims..., options]."""
        return [
            line
            for widget in self.dashboard()["widgets"]
            if widget["type"] == "metric"
            for line in widget["properties"]["metrics"]
        ]

    @property
    def paths(self) -> dict[str, str]:
        """Logical ID -> construct path, from the assembly's metadata (the template has no
        aws:cdk:path without the CLI)."""
        artifact = self.assembly.get_stack_by_name(self.stack_name)
        return {
            str(entry.data): entry.path
            for entry in artifact.find_metadata_by_type("aws:cdk:logicalId")
        }

    def logical_id(self, resource_type: str, path_fragment: str) -> str:
        """The one resource of a type whose construct path contains ``path_fragment``."""
        paths = self.paths
        matches = [
            logical_id
            for logical_id in self.resources(resource_type)
            if path_fragment in paths.get(logical_id, "")
        ]
        assert len(matches) == 1, (resource_type, path_fragment, matches)
        return matches[0]


def _render_reference(part: Any) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, dict) and "Ref" in part:
        return f"${{{part['Ref']}}}"
    if isinstance(part, dict) and "Fn::GetAtt" in part:
        return "${" + ".".join(part["Fn::GetAtt"]) + "}"
    raise AssertionError(f"unexpected fragment in the dashboard body: {part!r}")


def offline_env() -> dict[str, str]:
    """The test process's environment minus anything that could point at an AWS account."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "CDK_DEFAULT_", "CDK_CONTEXT_JSON"))
    }


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    outdir = tmp_path_factory.mktemp("cdk.out")
    env = offline_env() | {"CDK_OUTDIR": str(outdir)}
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=c.REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assembly = cx_api.CloudAssembly(str(outdir))
    artifact = assembly.get_stack_by_name(c.STACK_NAME)
    template_path = outdir / artifact.template_file
    template_json = json.loads(template_path.read_text(encoding="utf-8"))
    context = cdk_json_context()
    return Synth(
        outdir=outdir,
        returncode=result.returncode,
        stderr=result.stderr,
        assembly=assembly,
        stack_name=artifact.stack_name,
        template_path=template_path,
        template_json=template_json,
        template=assertions.Template.from_json(template_json),
        config=ExporterConfig.from_context(context.get),
        findings=findings(assembly),
    )
