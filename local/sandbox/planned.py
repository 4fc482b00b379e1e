"""What the synthesized template says about the settings the sandbox's options must fit (the
worker's discovery overlap and backfill, the schedule's rate, the work mapping's maximum
concurrency), read before anything is deployed so that a bad option fails at once."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.sandbox.errors import SandboxError


@dataclass(frozen=True)
class PlannedStack:
    overlap_minutes: int
    backfill_days: int
    schedule_minutes: float | None
    max_concurrency: int | None  # the work mapping's ScalingConfig; None: no cap


def read_planned(assembly_dir: Path) -> PlannedStack:
    resources = _template(assembly_dir)["Resources"]
    worker_env: dict[str, Any] = {}
    schedule_minutes = max_concurrency = None
    for resource in resources.values():
        kind, props = resource.get("Type"), resource.get("Properties") or {}
        variables = (props.get("Environment") or {}).get("Variables") or {}
        if kind == "AWS::Lambda::Function" and "DISCOVERY_OVERLAP_MINUTES" in variables:
            worker_env = variables
        elif kind == "AWS::Events::Rule" and "ScheduleExpression" in props:
            schedule_minutes = rate_minutes(str(props["ScheduleExpression"]))
        elif kind == "AWS::Lambda::EventSourceMapping":
            concurrency = (props.get("ScalingConfig") or {}).get("MaximumConcurrency")
            max_concurrency = int(concurrency) if concurrency else None
    return PlannedStack(
        overlap_minutes=int(worker_env.get("DISCOVERY_OVERLAP_MINUTES") or 60),
        backfill_days=int(worker_env.get("BACKFILL_DAYS") or 7),
        schedule_minutes=schedule_minutes,
        max_concurrency=max_concurrency,
    )


def rate_minutes(expression: str) -> float | None:
    """Minutes between runs of a `rate(...)` schedule; None for a cron expression."""
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours)\)", expression)
    if match is None:
        return None
    return int(match.group(1)) * (60 if match.group(2).startswith("hour") else 1)


def _template(assembly_dir: Path) -> dict[str, Any]:
    manifest = json.loads((assembly_dir / "manifest.json").read_text(encoding="utf-8"))
    stacks = [
        artifact
        for artifact in manifest["artifacts"].values()
        if artifact.get("type") == "aws:cloudformation:stack"
    ]
    if len(stacks) != 1:
        raise SandboxError(f"expected one stack in {assembly_dir}, found {len(stacks)}")
    template_file = assembly_dir / str(stacks[0]["properties"]["templateFile"])
    return dict(json.loads(template_file.read_text(encoding="utf-8")))
