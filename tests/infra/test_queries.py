"""The saved Logs Insights queries, checked against log lines the exporter really writes.

Logs Insights cannot run here, so each query is checked two ways: every field it names exists
in the log line shape, and its filter, evaluated on real lines, selects the lines it should.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra import constants as c
from infra.event_log import SAVED_QUERIES, SavedQuery
from mgn_exporter.derived_events import DERIVED_DETAIL_TYPES
from mgn_exporter.job_steps import ENDS
from tests.infra.sample_events import NAMES, derived_events, export_event, log_line

KEYWORDS = {
    "fields", "filter", "stats", "sort", "limit", "by", "as", "asc", "desc", "in", "and", "or",
    "not", "like", "parse", "display", "dedup",
}  # fmt: skip
SEVERITIES = {"ERROR", "WARNING", "INFO"}


def sample_lines() -> list[dict[str, Any]]:
    """One line per MGN event, with every eventData key MGN documents."""
    full_data = {
        "sourceServerID": "s-1234567890abcdef0",
        "conversionServerID": "i-0123456789abcdef0",
        "targetInstanceID": "i-0fedcba9876543210",
        "rawError": "Conversion failed: disk not found",
        "attemptCount": 1,
        "maxAttemptsCount": 3,
    }
    # An end or failure item carries the step's duration (job_steps.py).
    return [
        log_line(
            export_event(
                event,
                position=i,
                event_data=full_data,
                duration_seconds=12.5 if event in ENDS else None,
            )
        )
        for i, event in enumerate(c.MGN_EVENTS)
    ]


def derived_lines() -> list[dict[str, Any]]:
    """A job outcome and a failed post-launch action, as the worker writes them."""
    return [json.loads(event.detail_json) for event in derived_events()]


def lookup(line: dict[str, Any], path: str) -> Any:
    value: Any = line
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def referenced_fields(query: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"|/[^/\n]*/', " ", query)
    aliases = set(re.findall(r"\bas\s+([A-Za-z_]\w*)", without_strings))
    names: set[str] = set()
    for match in re.finditer(r"(?<![\w.@])(@?[A-Za-z_][\w.]*)(\s*\()?", without_strings):
        name, is_call = match.group(1), match.group(2)
        if is_call or name in KEYWORDS or name in aliases:
            continue
        names.add(name)
    return names


@pytest.mark.parametrize("saved", SAVED_QUERIES, ids=lambda s: s.construct_id)
def test_every_field_exists_in_the_log_line(saved: SavedQuery) -> None:
    lines = sample_lines() + derived_lines()
    for name in referenced_fields(saved.query):
        if name.startswith("@"):
            assert name in {"@timestamp", "@message", "@logStream"}, name
        elif name.startswith("eventData."):
            assert name.removeprefix("eventData.") in c.MGN_EVENT_DATA_KEYS, name
        else:
            assert any(lookup(line, name) is not None for line in lines), (
                f"{saved.construct_id}: {name} is not a field of the log line"
            )


@pytest.mark.parametrize("saved", SAVED_QUERIES, ids=lambda s: s.construct_id)
def test_string_literals_are_real_values(saved: SavedQuery) -> None:
    for field, values in re.findall(r"(\w+)\s+(?:=|in)\s+(\[[^\]]*\]|\"[^\"]*\")", saved.query):
        literals = set(re.findall(r'"([^"]*)"', values))
        if field == "event":
            assert literals <= set(c.MGN_EVENTS), literals
        elif field == "severity":
            assert literals <= SEVERITIES, literals
        elif field == "detailType":
            assert literals <= set(DERIVED_DETAIL_TYPES), literals


def selects(query: str, line: dict[str, Any]) -> bool:
    """Evaluate the query's filter commands (the forms these queries use) on one line."""
    filters = re.findall(r"(?:^|\|)\s*filter\s+([^|]+)", query)
    for clause in (part for text in filters for part in re.split(r"\s+and\s+", text)):
        clause = clause.strip()
        if m := re.fullmatch(r'([\w.]+)\s*=\s*"([^"]*)"', clause):
            keep = lookup(line, m.group(1)) == m.group(2)
        elif m := re.fullmatch(r"([\w.]+)\s+in\s+\[([^\]]*)\]", clause):
            keep = lookup(line, m.group(1)) in json.loads(f"[{m.group(2)}]")
        elif m := re.fullmatch(r"(not\s+)?ispresent\(([\w.]+)\)", clause):
            keep = (lookup(line, m.group(2)) is not None) != bool(m.group(1))
        else:
            raise AssertionError(f"no evaluator for filter {clause!r}: extend this test")
        if not keep:
            return False
    return True


def queries() -> dict[str, str]:
    return {saved.construct_id: saved.query for saved in SAVED_QUERIES}


def selected_events(query: str, lines: list[dict[str, Any]]) -> set[str]:
    return {line["event"] for line in lines if selects(query, line)}


def test_failures_query_selects_the_error_severity_items() -> None:
    lines = sample_lines()
    assert selected_events(queries()["FailuresByAccountAndServer"], lines) == set(c.ERROR_EVENTS)


def test_step_duration_queries_select_their_start_and_end_items() -> None:
    lines = sample_lines()
    assert selected_events(queries()["ConversionDurations"], lines) == {
        "CONVERSION_END",
        "CONVERSION_FAIL",
    }
    # Every end or failure item, and nothing else: the starts carry no duration.
    assert selected_events(queries()["StepDurations"], lines) == set(ENDS)
    assert selected_events(queries()["JobDurations"], lines) == {"JOB_END"}


def test_top_errors_query_selects_only_items_with_a_raw_error() -> None:
    without = log_line(export_event("CONVERSION_START"))
    with_error = log_line(
        export_event("CONVERSION_FAIL", event_data={"sourceServerID": "s-1", "rawError": "boom"})
    )
    query = queries()["TopRawErrors"]
    assert selects(query, with_error)
    assert not selects(query, without)


def test_job_timeline_query_filters_on_a_job_id_of_the_real_shape() -> None:
    job_id = re.search(r'jobID = "([^"]+)"', queries()["JobTimeline"])
    assert job_id is not None
    assert re.fullmatch(r"mgnjob-[0-9a-zA-Z]{17}", job_id.group(1))
    line = log_line(export_event("JOB_START", job_id=job_id.group(1)))
    assert selects(queries()["JobTimeline"], line)
    assert isinstance(line["position"], int)


def test_items_per_hour_query_counts_every_line() -> None:
    lines = sample_lines()
    assert all(selects(queries()["ItemsPerAccountPerHour"], line) for line in lines)


def test_failed_steps_per_wave_selects_the_error_items_and_groups_by_wave() -> None:
    lines = sample_lines()
    query = queries()["FailedStepsPerWave"]
    assert selected_events(query, lines) == set(c.ERROR_EVENTS)
    assert "by wave.name" in query


def test_wave_cutover_progress_selects_that_waves_cutover_launches_only() -> None:
    query = queries()["WaveCutoverProgress"]
    wave = re.search(r'wave.name = "([^"]+)"', query)
    assert wave is not None
    names = {**NAMES, "wave": {**NAMES["wave"], "name": wave.group(1)}}

    def line(event: str, initiated_by: str, wave_names: dict[str, Any]) -> dict[str, Any]:
        return log_line(export_event(event, initiated_by=initiated_by, names=wave_names))

    assert selects(query, line("LAUNCH_FAILED", "START_CUTOVER", names))
    assert selects(query, line("LAUNCH_START", "START_CUTOVER", names))
    assert not selects(query, line("LAUNCH_START", "START_TEST", names))
    assert not selects(query, line("LAUNCH_START", "START_CUTOVER", NAMES))  # another wave
    assert not selects(query, line("CONVERSION_END", "START_CUTOVER", names))


def test_conversion_failures_by_application_select_conversion_failures() -> None:
    query = queries()["ConversionFailuresByApplication"]
    assert selected_events(query, sample_lines()) == {"CONVERSION_FAIL"}


def test_item_queries_leave_the_derived_events_out() -> None:
    derived = derived_lines()
    for name in ("FailuresByAccountAndServer", "FailedStepsPerWave", "ItemsPerAccountPerHour"):
        assert not any(selects(queries()[name], line) for line in derived), name


def test_derived_event_queries_select_their_own_lines() -> None:
    lines = sample_lines() + derived_lines()
    outcomes = [line for line in lines if selects(queries()["JobOutcomes"], line)]
    assert [line["detailType"] for line in outcomes] == ["MGN Job Outcome"]
    failed = [line for line in lines if selects(queries()["FailedPostLaunchActions"], line)]
    assert [(line["detailType"], line["status"]) for line in failed] == [
        ("MGN Post-Launch Action", "FAILED")
    ]
