"""The per-wave view, from exported events alone: rows by wave name across accounts, a rename
as one row, the counts the saved queries take, the events without a wave and why, and an
enriched example."""

from __future__ import annotations

from typing import Any

from local.sandbox.waves import (
    COLUMNS,
    NO_WAVE,
    WaveNames,
    enriched_example,
    example_lines,
    wave_lines,
    wave_rows,
)

A, B = "111111111111", "222222222222"


def _event(
    account: str,
    event: str,
    server: str | None = None,
    *,
    wave: tuple[str, str] | None = None,
    app: str | None = None,
    named: bool = True,
    initiated_by: str = "START_TEST",
    live: bool = False,
    severity: str = "INFO",
) -> dict[str, Any]:
    """An exported event's detail: names only where the worker had them."""
    detail: dict[str, Any] = {
        "accountID": account,
        "initiatedBy": initiated_by,
        "event": event,
        "severity": severity,
        "backfill": not live,
        "eventData": {"sourceServerID": server} if server else {},
    }
    if server and named:
        detail["sourceServer"] = {"sourceServerID": server, "hostname": f"host-{server}"}
        if app:
            detail["application"] = {"applicationID": f"app-{app}", "name": app}
            if wave:
                detail["wave"] = {"waveID": wave[0], "name": wave[1]}
    return detail


RETAIL_A = ("wave-retail-a", "Wave 1 - Retail")
RETAIL_B = ("wave-retail-b", "Wave 1 - Retail")
HR = ("wave-hr", "Wave 2 - HR")
HR_RENAMED = ("wave-hr", "Wave 2 - HR (extended)")
LIVE = ("wave-live", "Wave 10 - Live")

EVENTS = [
    # Wave 1 in two accounts: one row; a test launch failure is a failed step, not a cutover's.
    _event(A, "JOB_START"),
    _event(A, "LAUNCH_START", "s-1", wave=RETAIL_A, app="Web shop"),
    _event(A, "LAUNCH_FAILED", "s-2", wave=RETAIL_A, app="Web shop", severity="ERROR"),
    _event(B, "LAUNCH_START", "s-3", wave=RETAIL_B, app="Loyalty", initiated_by="START_CUTOVER"),
    _event(
        B,
        "LAUNCH_FAILED",
        "s-3",
        wave=RETAIL_B,
        app="Loyalty",
        initiated_by="START_CUTOVER",
        severity="ERROR",
    ),
    _event(B, "JOB_END"),
    # Wave 2 renamed in MGN; an environment with an older inventory still uses the old name
    # after the new one appeared: one row, under the new name.
    _event(A, "SNAPSHOT_START", "s-4", wave=HR, app="Payroll"),
    _event(A, "SNAPSHOT_END", "s-4", wave=HR_RENAMED, app="Payroll"),
    _event(A, "CONVERSION_START", "s-4", wave=HR, app="Payroll"),
    # The live wave: live items, two cutover launches of one server count once.
    *(
        _event(A, "LAUNCH_START", "s-5", wave=LIVE, app="Benefits", live=True, initiated_by=job)
        for job in ("START_CUTOVER", "START_CUTOVER", "START_TEST")
    ),
    _event(
        A,
        "CONVERSION_FAIL",
        "s-5",
        wave=LIVE,
        app="Benefits",
        live=True,
        severity="ERROR",
    ),
    # Without a wave: a server in no application, a server the worker could not name.
    _event(B, "SNAPSHOT_START", "s-6"),
    _event(B, "SNAPSHOT_START", "s-7", named=False),
]


def test_rows_by_wave_name_across_accounts_with_the_counts_of_the_saved_queries() -> None:
    rows = {row.name: row for row in wave_rows(EVENTS, EVENTS[:-1])}
    assert list(rows) == [
        "Wave 1 - Retail",
        "Wave 2 - HR (extended)",
        "Wave 10 - Live",
        NO_WAVE,
    ]
    retail = rows["Wave 1 - Retail"]
    assert (len(retail.accounts), len(retail.applications), len(retail.servers)) == (2, 2, 3)
    assert (retail.on_bus, retail.in_log_group, retail.failed_steps) == (4, 4, 2)
    # Cutover only: the test launch and its failure in account A are not counted.
    assert retail.cutover_launched == {(B, "s-3")} and retail.cutover_failed == {(B, "s-3")}
    assert retail.live == 0 and not retail.earlier_names

    hr = rows["Wave 2 - HR (extended)"]
    assert hr.on_bus == 3 and hr.earlier_names == {"Wave 2 - HR"}
    assert len(hr.servers) == 1

    live = rows["Wave 10 - Live"]
    assert live.live == live.on_bus == 4 and live.failed_steps == 1
    assert live.cutover_launched == {(A, "s-5")}

    none = rows[NO_WAVE]
    assert none.on_bus == 4 and none.in_log_group == 3  # the log group lacks the last event
    assert none.reasons == {
        "job items naming no server": 2,
        "servers in no application": 1,
        "servers not named (not in the inventory the worker read)": 1,
    }
    report = none.as_report()
    assert report["onBus"] == 4 and report["withoutWave"]["job items naming no server"] == 2


def test_a_rename_is_shown_under_the_name_that_appeared_last() -> None:
    names = WaveNames(
        [
            _event(A, "X", "s-1", wave=HR, app="a"),
            _event(B, "X", "s-2", wave=("wave-hr-b", HR[1]), app="a"),
            _event(A, "X", "s-1", wave=HR_RENAMED, app="a"),
            _event(B, "X", "s-2", wave=("wave-hr-b", HR[1]), app="a"),  # a stale inventory
        ]
    )
    assert names.shown((A, "wave-hr")) == names.shown((B, "wave-hr-b")) == HR_RENAMED[1]
    assert (
        WaveNames([_event(A, "X", "s-1", wave=("wave-x", ""), app="a")]).shown((A, "wave-x"))
        == "wave-x"
    )


def test_the_table_lines_up_and_says_why_events_have_no_wave() -> None:
    lines = wave_lines(wave_rows(EVENTS, EVENTS))
    header, *rows = lines
    assert header.split()[:2] == ["wave", "accounts"]
    width = sum(w for _, w in COLUMNS) + 2 * (len(COLUMNS) - 1)
    assert len(header) == width
    assert all(len(line) == width or line[width : width + 2] == "  " for line in rows)
    assert rows[0].startswith("Wave 1 - Retail ")
    assert 'renamed in MGN during the run; earlier: "Wave 2 - HR"' in rows[1]
    assert rows[-1].startswith(NO_WAVE)
    assert "2 of job items naming no server" in rows[-1]
    assert wave_lines([]) == [header]


def test_the_example_is_a_live_failure_with_every_name_and_the_alerts_say_them() -> None:
    example = enriched_example(EVENTS)
    assert example is not None and example["event"] == "CONVERSION_FAIL"
    assert example["wave"]["name"] == "Wave 10 - Live"
    backfill_only = [e for e in EVENTS if e["backfill"]]
    example = enriched_example(backfill_only)
    assert example is not None and example["event"] == "LAUNCH_FAILED"  # a failure first

    alerts = [
        "MGN test conversion failed: host-s-5 (Benefits, Wave 10 - Live)\n\nServer: host-s-5",
        "MGN cutover launch failed: host-s-5 (Benefits, Wave 10 - Live)\n\nServer: host-s-5",
        "third\n",
    ]
    lines = example_lines(EVENTS, alerts)
    assert lines[0].startswith("an enriched event (CONVERSION_FAIL, live)")
    assert '"hostname":"host-s-5"' in lines[1] and '"name":"Wave 10 - Live"' in lines[1]
    assert lines[2] == "alert subjects (3 alerts delivered; the first 2):"
    assert lines[3:] == [
        "    MGN test conversion failed: host-s-5 (Benefits, Wave 10 - Live)",
        "    MGN cutover launch failed: host-s-5 (Benefits, Wave 10 - Live)",
    ]


def test_no_names_at_all_is_said_plainly() -> None:
    unnamed = [_event(A, "SNAPSHOT_START", "s-1", named=False), _event(A, "JOB_START")]
    assert enriched_example(unnamed) is None
    (line,) = example_lines(unnamed, [])
    assert line.startswith("no event names its server, application and wave")
    (row,) = wave_rows(unnamed, unnamed)
    assert (
        row.name == NO_WAVE
        and row.reasons["servers not named (not in the inventory the worker read)"] == 1
    )
