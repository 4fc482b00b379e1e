"""Physical names: a second stack fits in the same account and Region, and what the stack keeps
after `cdk destroy` (the audit trail) never blocks the next deploy."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra import constants as c
from infra.application import build_app
from tests.infra.cfn_eval import STACK_UUID, Renderer
from tests.infra.conftest import Synth

# Where each type of the stack keeps its physical name.
NAME_PROPERTY = {
    "AWS::Events::EventBus": "Name",
    "AWS::Events::Archive": "ArchiveName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::EventSchemas::Registry": "RegistryName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Events::Rule": "Name",
    "AWS::KMS::Key": "AliasName",
}
# Names an account and Region hold once: two stacks must not share any of them.
UNIQUE_NAMES = set(NAME_PROPERTY) - {"AWS::KMS::Key"}
OTHER_UUID = "9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f"


@cache
def template_of(stack_name: str, **context: Any) -> dict[str, Any]:
    _, stack = build_app(context={"stackName": stack_name, **context}, nag=False)
    template: dict[str, Any] = Template.from_stack(stack).to_json()
    return template


def physical_names(
    template: dict[str, Any], stack_name: str, stack_uuid: str = STACK_UUID
) -> dict[str, str]:
    """Logical ID -> physical name, for every resource whose name the template sets."""
    render = Renderer(template, stack_name, stack_uuid=stack_uuid)
    names: dict[str, str] = {}
    for logical_id, resource in template["Resources"].items():
        key = NAME_PROPERTY.get(resource["Type"])
        if key and key in resource.get("Properties", {}):
            names[logical_id] = str(render.render(resource["Properties"][key]))
    return names


def named_types(template: dict[str, Any]) -> set[str]:
    return {
        r["Type"]
        for r in template["Resources"].values()
        if NAME_PROPERTY.get(r["Type"], "") in r.get("Properties", {})
    }


def test_two_stacks_with_different_names_share_no_physical_name() -> None:
    first, second = template_of("ExporterBlue"), template_of("ExporterGreen")
    # The same stack UUID for both: the names differ by the stack name alone.
    blue = physical_names(first, "ExporterBlue")
    green = physical_names(second, "ExporterGreen")
    assert set(blue.values()) & set(green.values()) == set()
    # What used to be fixed is named, and named after the stack.
    fixed = {
        "AWS::Events::EventBus",
        "AWS::Events::Archive",
        "AWS::EventSchemas::Registry",
        "AWS::CloudWatch::Dashboard",
    }
    assert fixed <= named_types(first)
    for logical_id, name in blue.items():
        kind = first["Resources"][logical_id]["Type"]
        if kind in fixed:
            assert "ExporterBlue" in name, (kind, name)
    event_log = next(
        logical_id
        for logical_id, r in first["Resources"].items()
        if r["Type"] == "AWS::Logs::LogGroup" and "LogGroupName" in r["Properties"]
    )
    assert "ExporterBlue" in blue[event_log]


def test_the_deployed_stack_names_nothing_a_second_stack_would_collide_with(
    synth: Synth,
) -> None:
    names = physical_names(synth.template_json, synth.stack_name)
    other = physical_names(template_of("SecondExporter"), "SecondExporter")
    assert set(names.values()) & set(other.values()) == set()
    for logical_id in names:
        assert synth.template_json["Resources"][logical_id]["Type"] in UNIQUE_NAMES


def test_names_set_in_context_are_used_as_given() -> None:
    template = template_of(
        "Custom",
        eventBusName="team-mgn-events",
        eventLogGroupName="/team/mgn-events",
        dashboardName="team-mgn",
    )
    names = set(physical_names(template, "Custom").values())
    assert {"team-mgn-events", "/team/mgn-events", "team-mgn"} <= names
    # The registry and the archive follow the bus.
    assert "team-mgn-events" in {
        r["Properties"]["RegistryName"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::EventSchemas::Registry"
    }


# --- what `cdk destroy` keeps -----------------------------------------------------------------


def _retained(template: dict[str, Any]) -> dict[str, str]:
    """Logical ID -> type of every resource that stays when the stack is deleted."""
    return {
        logical_id: r["Type"]
        for logical_id, r in template["Resources"].items()
        if r.get("DeletionPolicy") == "Retain"
    }


def test_the_audit_trail_outlives_the_stack(synth: Synth) -> None:
    retained = _retained(synth.template_json)
    event_log = synth.logical_id("AWS::Logs::LogGroup", "/EventLog/")
    archive = synth.logical_id("AWS::Events::Archive", "/Events/")
    bus = synth.logical_id("AWS::Events::EventBus", "/Events/Bus")
    table = synth.logical_id("AWS::DynamoDB::Table", "/Checkpoints/")
    # The bus too: the archive's rule lives on it (a bus with rules cannot be deleted), and an
    # archive replays only to the bus it was created on.
    assert set(retained) == {event_log, archive, bus, table}
    for logical_id in retained:
        # Kept on replacement too: an update that renames one must not delete its history.
        assert synth.template_json["Resources"][logical_id]["UpdateReplacePolicy"] == "Retain"


def test_nothing_retained_blocks_the_next_deploy(synth: Synth) -> None:
    # The stack deleted and deployed again (same name, new stack ID): every retained resource
    # that has a name gets another one, so CloudFormation never meets an "already exists".
    before = physical_names(synth.template_json, synth.stack_name, STACK_UUID)
    after = physical_names(synth.template_json, synth.stack_name, OTHER_UUID)
    for logical_id in _retained(synth.template_json):
        if logical_id in before:
            assert before[logical_id] != after[logical_id], logical_id
    # The names are stable within one stack (an update does not replace anything).
    assert before == physical_names(synth.template_json, synth.stack_name, STACK_UUID)


def test_the_bus_is_deleted_with_the_stack_when_there_is_no_archive() -> None:
    template = template_of("NoArchive", archiveEnabled=False)
    assert set(_retained(template).values()) == {"AWS::Logs::LogGroup", "AWS::DynamoDB::Table"}


@pytest.mark.parametrize("stack_name", ["A", "MgnJobLogExporter", "E" * 128])
def test_the_archive_name_fits_and_carries_the_stack_instance(stack_name: str) -> None:
    template = template_of(stack_name)
    (archive_id,) = (
        logical_id
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::Events::Archive"
    )
    names = {
        physical_names(template, stack_name, uuid)[archive_id] for uuid in (STACK_UUID, OTHER_UUID)
    }
    assert len(names) == 2
    for name in names:
        # EventBridge: [.\-_A-Za-z0-9]+, at most 48 characters.
        assert re.fullmatch(r"[.\-_A-Za-z0-9]{1,48}", name), name


def test_outputs_name_the_retained_resources(synth: Synth) -> None:
    outputs = {key: o["Value"] for key, o in synth.template_json["Outputs"].items()}
    archive = synth.logical_id("AWS::Events::Archive", "/Events/")
    event_log = synth.logical_id("AWS::Logs::LogGroup", "/EventLog/")
    table = synth.logical_id("AWS::DynamoDB::Table", "/Checkpoints/")
    bus = synth.logical_id("AWS::Events::EventBus", "/Events/Bus")
    assert outputs["ArchiveName"] == {"Ref": archive}
    assert outputs["EventLogGroupName"] == {"Ref": event_log}
    assert outputs["CheckpointTableName"] == {"Ref": table}
    assert outputs["EventBusName"] == {"Ref": bus}


def test_an_empty_name_in_context_means_derive_it() -> None:
    for key in (c.CTX_EVENT_BUS_NAME, c.CTX_EVENT_LOG_GROUP_NAME, c.CTX_DASHBOARD_NAME):
        assert c.CONTEXT_DEFAULTS[key] == "", key
