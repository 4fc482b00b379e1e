"""Step durations and failures folded from a job's items (job_steps.py)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mgn_exporter.job_steps import KEPT_ERROR_CHARS, StepFold, StepTrack
from mgn_exporter.metric_names import STEP_DURATION_SECONDS, StepDurations
from mgn_exporter.observability import emit_run_metrics

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
S1, S2 = "s-1111111111111111a", "s-2222222222222222b"


def item(event: str, seconds: float, server: str | None = None, **data: Any) -> dict[str, Any]:
    when = (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")
    event_data = {"sourceServerID": server, **data} if server else {}
    return {"event": event, "logDateTime": when, "eventData": event_data}


def durations(fold: StepFold, items: list[dict[str, Any]]) -> list[float | None]:
    return [fold.take(i) for i in items]


def test_each_end_or_failure_is_timed_from_the_same_servers_start() -> None:
    log = [
        item("JOB_START", 0),
        item("SNAPSHOT_START", 1, S1),
        item("SNAPSHOT_START", 2, S2),
        item("SNAPSHOT_END", 31.5, S2),
        item("SNAPSHOT_FAIL", 61, S1, rawError="boom"),
        item("CONVERSION_START", 70, S2),
        item("CONVERSION_END", 670.25, S2),
        item("LAUNCH_START", 680, S2),
        item("JOB_END", 700),
    ]
    fold = StepFold()
    assert durations(fold, log) == [None, None, None, 29.5, 60.0, None, 600.25, None, 700.0]
    assert fold.servers[S1] == {
        "durationsMs": {"SNAPSHOT": 60000},
        "failure": {"step": "SNAPSHOT", "event": "SNAPSHOT_FAIL", "rawError": "boom"},
    }
    assert fold.servers[S2]["durationsMs"] == {"SNAPSHOT": 29500, "CONVERSION": 600250}
    # A launch that did not fail has no end item: its start stays open, bounded per server.
    assert fold.open == {f"LAUNCH|{S2}": round((T0.timestamp() + 680) * 1000)}


def test_equal_times_give_zero_and_an_end_before_its_start_gives_none() -> None:
    fold = StepFold()
    assert durations(fold, [item("CLEANUP_START", 5, S1), item("CLEANUP_END", 5, S1)]) == [
        None,
        0.0,
    ]
    # Clocks that disagree: the end is logged earlier than its start; no figure is invented.
    assert durations(fold, [item("CLEANUP_START", 9, S1), item("CLEANUP_END", 8, S1)]) == [
        None,
        None,
    ]
    # An end read before any start (out of order in the log) has none either, and the start
    # that follows does not time anything already past.
    fold = StepFold()
    assert durations(fold, [item("CONVERSION_END", 50, S2), item("CONVERSION_START", 10, S2)]) == [
        None,
        None,
    ]


def test_a_retried_step_that_ends_well_is_not_a_failure_and_long_errors_are_clipped() -> None:
    fold = StepFold()
    durations(
        fold,
        [
            item("CONVERSION_START", 0, S1),
            item("CONVERSION_FAIL", 10, S1, rawError="x" * (KEPT_ERROR_CHARS + 50)),
        ],
    )
    failure = fold.servers[S1]["failure"]
    assert len(failure["rawError"]) == KEPT_ERROR_CHARS and failure["rawErrorTruncated"]
    durations(fold, [item("CONVERSION_START", 20, S1), item("CONVERSION_END", 80, S1)])
    assert "failure" not in fold.servers[S1]
    assert fold.servers[S1]["durationsMs"]["CONVERSION"] == 60000
    durations(fold, [item("SERVER_SKIPPED", 90, S2)])
    assert fold.servers[S2]["failure"]["step"] == "SERVER_SKIPPED"


def test_the_fold_survives_the_checkpoint_round_trip() -> None:
    fold = StepFold()
    durations(fold, [item("SNAPSHOT_START", 0, S1)])
    again = StepFold.from_item(fold.to_item())
    assert again.take(item("SNAPSHOT_END", 12, S1)) == 12.0
    assert StepFold.from_item(None).to_item() == {}


def test_the_track_saves_the_fold_at_the_saved_position_not_at_what_was_shaped() -> None:
    log = [
        item("SNAPSHOT_START", 0, S1),
        item("SNAPSHOT_END", 10, S1),
        item("CONVERSION_START", 20, S1),
        item("CONVERSION_END", 50, S1),
    ]
    track = StepTrack(0, StepFold())
    assert track.durations(0, log[:2]) == [None, 10.0]
    assert track.durations(2, log[2:]) == [None, 30.0]
    # EventBridge took only three items: the save is at 3, where the conversion is open.
    saved = track.saved_at(3)
    assert saved.to_item()["open"] == {f"CONVERSION|{S1}": round(T0.timestamp() * 1000) + 20000}
    # The next export shapes from 3 again with the saved fold: the same duration, once.
    again = StepTrack(3, StepFold.from_item(saved.to_item()))
    assert again.durations(3, log[3:]) == [30.0]
    # Shaping again from the saved position (a re-read) starts from the saved fold.
    assert again.durations(3, log[3:]) == [30.0]
    # A position the track did not follow gives no durations rather than wrong ones.
    assert again.durations(1, log[1:2]) == [None]


def test_step_durations_go_out_as_emf_with_step_and_initiated_by(
    capsys: pytest.CaptureFixture[str],
) -> None:
    durations = StepDurations({("CONVERSION", "START_CUTOVER"): [600.25] * 150})
    emit_run_metrics(Counter(), None, durations)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # EMF takes 100 values a line (99 here: see observability.py): 150 values are two lines,
    # each with the two dimensions.
    assert [len(line[STEP_DURATION_SECONDS]) for line in lines] == [99, 51]
    for line in lines:
        assert (line["step"], line["initiatedBy"]) == ("CONVERSION", "START_CUTOVER")
        dimensions = line["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
        assert {"step", "initiatedBy"} <= set(dimensions)


def test_no_step_duration_line_is_written_when_metrics_are_disabled(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    emit_run_metrics(Counter(), None, StepDurations({("SNAPSHOT", "START_TEST"): [1.0] * 250}))
    assert capsys.readouterr().out == ""
