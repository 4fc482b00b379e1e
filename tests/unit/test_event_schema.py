"""The published JSON Schema is generated from the code, and the events it emits follow it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from infra.detail_schema import (
    ADDED_FIELDS,
    SOMETIMES_FIELDS,
    all_schemas,
    detail_schema,
    schema_text,
)
from mgn_exporter.events import JobInfo, build_event
from tests.infra.sample_events import cutover_record, derived_events

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema" / "mgn-job-log-event.schema.json"
JOB = JobInfo(
    job_id="mgnjob-0123456789abcdefg",
    arn="arn:aws:mgn:us-east-1:123456789012:job/mgnjob-0123456789abcdefg",
    job_type="LAUNCH",
    initiated_by="START_TEST",
)
ITEMS = [
    {
        "logDateTime": "2026-11-25T10:00:00.123Z",
        "event": "CONVERSION_FAIL",
        "eventData": {
            "sourceServerID": "s-0123456789abcdef0",
            "conversionServerID": "i-0123456789abcdef0",
            "rawError": "boom",
            "attemptCount": 1,
            "maxAttemptsCount": 3,
        },
    },
    {"logDateTime": "2026-11-25T10:00:00Z", "event": "JOB_START", "eventData": {}},
    {"logDateTime": "yesterday", "event": "BRAND_NEW_EVENT"},
    {},
    {
        "logDateTime": "2026-11-25T10:00:00Z",
        "event": "LAUNCH_FAILED",
        "eventData": {"rawError": "x" * 400_000},
    },
]


def test_the_schema_file_is_the_generated_one() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "regenerate: python -m infra.detail_schema > schema/mgn-job-log-event.schema.json"
    )


@pytest.mark.parametrize("item", ITEMS)
def test_emitted_details_validate_against_the_schema(item: dict[str, object]) -> None:
    event = build_event(
        item, account_id="123456789012", region="us-east-1", job=JOB, position=4, source="s"
    )
    jsonschema.Draft4Validator(detail_schema()).validate(event.detail)


def test_the_schema_requires_every_field_the_code_always_emits() -> None:
    event = build_event(
        ITEMS[1], account_id="123456789012", region="us-east-1", job=JOB, position=0, source="s"
    )
    assert set(detail_schema()["required"]) | ADDED_FIELDS == set(event.detail)
    assert set(detail_schema()["properties"]) == set(event.detail) | SOMETIMES_FIELDS


def test_a_detail_missing_a_field_is_refused() -> None:
    event = build_event(
        ITEMS[0], account_id="123456789012", region="us-east-1", job=JOB, position=0, source="s"
    )
    broken = dict(event.detail)
    del broken["severity"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(detail_schema()).validate(broken)


def test_an_event_with_names_validates_against_the_schema() -> None:
    names = {
        "sourceServer": {"sourceServerID": "s-0123456789abcdef0", "hostname": "fin-db-01"},
        "application": {"applicationID": "app-0123456789abcdef0", "name": "Payroll"},
        "wave": {"waveID": "wave-0123456789abcdef0", "name": "Wave 1 - Finance"},
    }
    event = build_event(
        ITEMS[0],
        account_id="123456789012",
        region="us-east-1",
        job=JOB,
        position=4,
        source="s",
        names=names,
    )
    jsonschema.Draft4Validator(detail_schema()).validate(event.detail)
    with pytest.raises(jsonschema.ValidationError):
        broken = {**event.detail, "wave": {"name": "no id"}}
        jsonschema.Draft4Validator(detail_schema()).validate(broken)


def test_every_schema_file_is_the_generated_one() -> None:
    for path, schema in all_schemas().items():
        assert path.read_text(encoding="utf-8") == schema_text(schema), (
            f"regenerate {path.name}: python -m infra.detail_schema --write"
        )


def test_derived_events_validate_against_their_schemas() -> None:
    schemas = {schema["title"]: schema for schema in all_schemas().values()}
    records = [
        cutover_record(),
        cutover_record(failed_server=False, action_status="IN_PROGRESS"),
        {**cutover_record(), "participatingServers": [], "endDateTime": None},
    ]
    for record in records:
        for event in derived_events(record):
            validator = jsonschema.Draft4Validator(schemas[event.detail_type])
            validator.validate(json.loads(event.detail_json))
            # Every field the code always emits is required, so a rule on it always matches.
            required = set(schemas[event.detail_type]["required"])
            assert required <= set(event.detail), required - set(event.detail)
