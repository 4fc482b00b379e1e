"""The event schema, published to an EventBridge schema registry from the file in the repo."""

from __future__ import annotations

import json
import re
from pathlib import Path

from aws_cdk import aws_eventschemas as eventschemas
from constructs import Construct

from infra import constants as c


def schema_name_for(event_source: str) -> str:
    # The "<source>@<DetailType>" form EventBridge schema discovery uses for its own schemas.
    return f"{event_source}@{re.sub(r'[^A-Za-z0-9]', '', c.DETAIL_TYPE)}"


def load_schema_text(path: Path = c.SCHEMA_FILE) -> str:
    """The schema file, checked to be JSON and re-serialized compactly (no whitespace churn)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or document.get("type") != "object":
        raise ValueError(f"{path} is not a JSON Schema of an object")
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


class EventSchema(Construct):
    """A schema registry holding the JSON Schema (draft 4) of the events' Detail."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        registry_name: str,
        event_source: str,
        schema_file: Path = c.SCHEMA_FILE,
    ) -> None:
        super().__init__(scope, construct_id)
        self.registry = eventschemas.CfnRegistry(
            self,
            "Registry",
            registry_name=registry_name,
            description=c.SCHEMA_REGISTRY_DESCRIPTION,
        )
        self.schema = eventschemas.CfnSchema(
            self,
            "Schema",
            registry_name=self.registry.attr_registry_name,
            schema_name=schema_name_for(event_source),
            type="JSONSchemaDraft4",
            content=load_schema_text(schema_file),
            description=f"Detail of '{c.DETAIL_TYPE}' events from {event_source}",
        )
