"""The event schema, published to an EventBridge schema registry from the file in the repo."""

from __future__ import annotations

import json
import re
from pathlib import Path

from aws_cdk import aws_eventschemas as eventschemas
from constructs import Construct

from infra import constants as c


def schema_name_for(event_source: str, detail_type: str = c.DETAIL_TYPE) -> str:
    # The "<source>@<DetailType>" form EventBridge schema discovery uses for its own schemas.
    return f"{event_source}@{re.sub(r'[^A-Za-z0-9]', '', detail_type)}"


def load_schema_text(path: Path = c.SCHEMA_FILE) -> str:
    """The schema file, checked to be JSON and re-serialized compactly (no whitespace churn)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or document.get("type") != "object":
        raise ValueError(f"{path} is not a JSON Schema of an object")
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


# The job log item's schema keeps its first construct id (a new id would replace it).
_CONSTRUCT_IDS = {c.DETAIL_TYPE: "Schema"}


class EventSchema(Construct):
    """A schema registry holding the JSON Schema (draft 4) of each DetailType's Detail: the
    job log item's and the derived events'."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        registry_name: str,
        event_source: str,
        schema_files: dict[str, Path] = c.SCHEMA_FILES,
    ) -> None:
        super().__init__(scope, construct_id)
        self.registry = eventschemas.CfnRegistry(
            self,
            "Registry",
            registry_name=registry_name,
            description=c.SCHEMA_REGISTRY_DESCRIPTION,
        )
        self.schemas = {
            detail_type: eventschemas.CfnSchema(
                self,
                _CONSTRUCT_IDS.get(detail_type, re.sub(r"[^A-Za-z0-9]", "", detail_type)),
                registry_name=self.registry.attr_registry_name,
                schema_name=schema_name_for(event_source, detail_type),
                type="JSONSchemaDraft4",
                content=load_schema_text(path),
                description=f"Detail of '{detail_type}' events from {event_source}",
            )
            for detail_type, path in schema_files.items()
        }
