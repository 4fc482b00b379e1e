"""Step durations on the job log events, over HTTP: from the items' own times, across pages
and ticks, once per end item in both sinks, and kept right after a partial delivery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from local.mgn_emulator import make_item
from tests.integration.conftest import OWN_ACCOUNT, World, invoke
from tests.integration.test_exporter import assert_exactly_once, details, logged

S1, S2 = "s-1111111111111111a", "s-2222222222222222b"
T0 = datetime.now(UTC) - timedelta(minutes=20)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def durations(events: list[dict[str, object]]) -> dict[tuple[object, object], object]:
    return {
        (e["event"], e["eventData"].get("sourceServerID")): e.get("durationSeconds")  # type: ignore[union-attr]
        for e in events
    }


def test_durations_span_pages_and_ticks_and_match_in_both_sinks(world: World) -> None:
    emu = world.emulator
    emu.max_page_size = 2  # every start and its end on different pages
    job = emu.add_job(OWN_ACCOUNT, created=T0, source_server_ids=[S1, S2])
    emu.append_items(
        OWN_ACCOUNT,
        job,
        [
            make_item("JOB_START", at(0)),
            make_item("SNAPSHOT_START", at(1), S1),
            make_item("SNAPSHOT_START", at(1), S2),
            make_item("SNAPSHOT_END", at(1), S2),  # the same instant as its start
            make_item("SNAPSHOT_END", at(46.5), S1),
            make_item("CONVERSION_START", at(50), S1),
        ],
    )
    invoke()
    # The conversion ends two ticks later; its start is in the checkpoint meanwhile.
    invoke()
    emu.append_items(
        OWN_ACCOUNT,
        job,
        [
            make_item("CONVERSION_END", at(650), S1, conversion_server_id="i-0a1b2c3d4e5f60718"),
            make_item("LAUNCH_START", at(660), S1, target_instance_id="i-0f1e2d3c4b5a69788"),
            make_item("JOB_END", at(700)),
        ],
    )
    invoke()
    bus = durations(details(world))
    assert bus[("SNAPSHOT_END", S2)] == 0.0
    assert bus[("SNAPSHOT_END", S1)] == 45.5
    assert bus[("CONVERSION_END", S1)] == 600.0
    assert bus[("JOB_END", None)] == 700.0
    # Starts carry none.
    assert bus[("SNAPSHOT_START", S1)] is None and bus[("LAUNCH_START", S1)] is None
    assert durations(logged(world)) == bus
    assert_exactly_once(world, 9)
    # The open launch (no end item: it did not fail) stays in the checkpoint, bounded.
    assert set(world.state(OWN_ACCOUNT).jobs[job].steps["open"]) == {f"LAUNCH|{S1}"}  # type: ignore[index]
