"""Physical names of the resources users look for by name: derived from the stack name.

Two rules make a name safe:

- It starts with the stack name (unless set in context), so a second stack with another name
  fits in the same account and Region.
- A resource that outlives the stack (the event log group, the archive and its bus are
  retained by `cdk destroy`, as the audit trail) also carries ``stack_instance_suffix()``: the
  first 8 hex digits of the stack's ID. The ID is the same for every update of the stack, so
  nothing is renamed (or replaced) by an update; a stack created again after a delete has a new
  ID, so its resources never collide with the retained ones ("already exists").

A name set in context is used as given: it is the user's to keep unique, and a retained resource
with that name must be deleted before a stack of the same name can be created again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import Aws, Fn, Stack

from infra.config import ExporterConfig

# EventBridge archive names: [.\-_A-Za-z0-9], at most 48 characters.
_ARCHIVE_NAME_MAX = 48
_ARCHIVE_SUFFIX = "-archive"
_INSTANCE_SUFFIX_LENGTH = 8
# Schema registry names: [A-Za-z0-9._-], at most 64 characters.
_REGISTRY_NAME_MAX = 64


# What stack_instance_suffix() renders to in the template.
STACK_INSTANCE_SUFFIX_EXPRESSION = {
    "Fn::Select": [
        0,
        {"Fn::Split": ["-", {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]},
    ]
}


def stack_instance_suffix() -> str:
    """First group of the stack ID's UUID (deploy-time): stable for the stack's whole life,
    new for each stack created, even under the same name."""
    uuid = Fn.select(2, Fn.split("/", Aws.STACK_ID))
    return Fn.select(0, Fn.split("-", uuid))


def archive_name_for(bus_base: str, suffix: str) -> str:
    """``<bus>-<suffix>-archive`` in the 48 characters an archive name may have; the readable
    part is shortened, never the suffix that makes the name unique."""
    room = _ARCHIVE_NAME_MAX - len(_ARCHIVE_SUFFIX) - 1 - _INSTANCE_SUFFIX_LENGTH
    base = re.sub(r"[^.\-_A-Za-z0-9]", "-", bus_base).strip("-")[:room].rstrip("-")
    return f"{base}-{suffix}{_ARCHIVE_SUFFIX}"


def registry_name_for(bus_base: str) -> str:
    """One registry per bus, named after it with only the characters registries accept."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", bus_base).strip("-")[:_REGISTRY_NAME_MAX]


@dataclass(frozen=True)
class ResourceNames:
    # The bus's name, and its readable part (the archive and the registry are named after it).
    event_bus: str
    event_bus_base: str
    archive: str
    schema_registry: str
    event_log_group: str
    dashboard: str


def resource_names(stack: Stack, config: ExporterConfig) -> ResourceNames:
    stack_name = stack.stack_name
    suffix = stack_instance_suffix()
    bus_base = config.event_bus_name or f"{stack_name}-events"
    return ResourceNames(
        # Retained with its archive (see infra/event_bus.py), so unique per stack instance.
        event_bus=config.event_bus_name or f"{bus_base}-{suffix}",
        event_bus_base=bus_base,
        archive=archive_name_for(bus_base, suffix),
        # Deleted with the stack: the readable name is enough.
        schema_registry=registry_name_for(bus_base),
        event_log_group=config.event_log_group_name or f"/{stack_name}/events-{suffix}",
        # Dashboards are global to the account: the Region keeps one stack per Region apart.
        dashboard=config.dashboard_name or f"{stack_name}-{stack.region}",
    )
