"""Properties of event shaping and of the publisher's batching, over arbitrary items.

Items here go beyond what MGN's wire format can carry (botocore drops members its model lacks):
the shaping code must hold for any JSON it is given.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from local.fault_proxy import Limits
from local.fault_proxy.limits import check_put_events, check_put_log_events
from mgn_exporter.batching import LogRecord, log_batches
from mgn_exporter.eventbridge_publisher import EventBridgePublisher
from mgn_exporter.events import (
    LOG_EVENT_LIMIT,
    LOG_EVENT_OVERHEAD,
    TRUNCATION_MARKER,
    JobInfo,
    build_event,
    clean_strings,
    detail_budget,
    event_id_for,
)
from mgn_exporter.observability import logger

ACCOUNT = "123456789012"
JOB = JobInfo(
    job_id="mgnjob-0123456789abcdefg",
    arn="arn:aws:mgn:us-east-1:123456789012:job/mgnjob-0123456789abcdefg",
    job_type="LAUNCH",
    initiated_by="START_CUTOVER",
)
SOURCE = "mgn.joblog.exporter"
MARKER_TAIL = TRUNCATION_MARKER.split("{removed}")[1]
PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# Text of any size, from any code point (lone surrogates and control characters included):
# a short alphabet repeated up to ~300 KB keeps generation cheap.
text = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda chunk, times: chunk * times,
        st.text(min_size=1, max_size=4),
        st.integers(min_value=1, max_value=120_000),
    ),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(max_size=10), children, max_size=5),
        # wide containers: many small members, or a long list of numbers
        st.builds(lambda n: {f"k{i}": "v" * 9 for i in range(n)}, st.integers(0, 30_000)),
        st.builds(lambda n: list(range(n)), st.integers(0, 60_000)),
    ),
    max_leaves=8,
)
timestamps = st.one_of(
    st.none(),
    text,
    st.sampled_from(
        [
            "2026-11-25T10:00:00.123Z",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59.999999Z",
            "2026-02-30T10:00:00Z",
            "2026-11-25T10:00:00+25:00",
        ]
    ),
)
items = st.fixed_dictionaries(
    {},
    optional={
        "logDateTime": timestamps,
        "event": st.one_of(
            st.sampled_from(["JOB_START", "CONVERSION_FAIL", "LAUNCH_FAILED", "NEW_THING"]), text
        ),
        "eventData": st.one_of(
            json_values,
            st.fixed_dictionaries(
                {},
                optional={
                    "sourceServerID": st.one_of(st.just("s-0123456789abcdef0"), text),
                    "rawError": text,
                    "conversionServerID": text,
                    "attemptCount": st.integers(),
                },
            ),
        ),
    },
)


def shape(item: dict[str, Any], position: int = 0) -> Any:
    return build_event(
        item, account_id=ACCOUNT, region="us-east-1", job=JOB, position=position, source=SOURCE
    )


def entry_of(event: Any) -> dict[str, Any]:
    publisher = EventBridgePublisher(
        client=None,  # type: ignore[arg-type]
        bus_name="bus",
        source=SOURCE,
        logger=logger,
    )
    return publisher.entry(event)


def _value_at(detail: dict[str, Any], path: str) -> Any:
    value: Any = detail
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


@PROPERTY_SETTINGS
@given(items, st.integers(min_value=0, max_value=10**6))
# Cases found by the fault suite, kept so that every run tries them.
@example({"logDateTime": "0001-01-01T00:00:00+01:00"}, 0)  # offset past year 1
@example({"eventData": {f"k{i}": "v" * 9 for i in range(30_000)}}, 0)  # many small members
@example({"eventData": {"k" * 300_000: 1}}, 0)  # a huge key
@example({"eventData": {"n": list(range(60_000))}}, 0)  # no string worth a cut
@example({"eventData": {"rawError": "\x00" * 100_000}}, 0)  # 6 bytes of JSON per byte
@example({"event": "N" * 300_000, "eventData": {"rawError": "R" * 300_000}}, 0)
# Found by this test: a cut inside a list, then the list folded into its text (the cut's path
# was left in `truncated`, pointing into a string).
@example({"eventData": [["0" * 1024], {f"k{i}": "v" * 9 for i in range(12_988)}]}, 0)
def test_every_shaped_event_fits_both_sinks_and_round_trips(
    item: dict[str, Any], position: int
) -> None:
    event = shape(item, position)
    encoded = event.detail_json.encode("utf-8")  # valid UTF-8, lone surrogates replaced
    # Within the Detail budget, so within one EventBridge entry and one log event
    assert len(encoded) <= detail_budget(SOURCE, event.resources)
    assert check_put_events({"Entries": [_wire(entry_of(event))]}, Limits()) is None
    assert len(encoded) + LOG_EVENT_OVERHEAD <= LOG_EVENT_LIMIT
    log_events = {"logEvents": [{"timestamp": 0, "message": event.detail_json}]}
    assert check_put_log_events(log_events, Limits(), now_ms=0) is None
    # The JSON round-trips to the Detail
    assert json.loads(event.detail_json) == event.detail
    # The eventId is deterministic, and the one the checkpoint's seam check computes
    assert shape(item, position).event_id == event.event_id
    assert event_id_for(ACCOUNT, JOB.job_id, position, item) == event.event_id
    assert event.detail["eventId"] == event.event_id
    assert isinstance(event.detail["eventData"], dict)
    cut = event.detail.get("truncated")
    if cut is None:
        # eventData is MGN's object unchanged (cleaned of unencodable strings)
        raw = clean_strings(item.get("eventData"))
        wrapped = {} if raw is None else raw if isinstance(raw, dict) else {"value": raw}
        assert event.detail["eventData"] == json.loads(json.dumps(wrapped))
    else:
        assert cut, "an empty truncated list"
        for path in cut:
            value = _value_at(event.detail, path)
            assert isinstance(value, str) and value.endswith(MARKER_TAIL), path


def _wire(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry as botocore sends it (Time as a number), for the proxy's size check."""
    wire = dict(entry)
    if "Time" in wire:
        wire["Time"] = wire["Time"].timestamp()
    return wire


class RecordingEvents:
    """An EventBridge client that checks each PutEvents call with the proxy's limits."""

    def __init__(self) -> None:
        self.calls: list[list[dict[str, Any]]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        violation = check_put_events({"Entries": [_wire(e) for e in Entries]}, Limits())
        assert violation is None, violation
        self.calls.append(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "x"} for _ in Entries]}


@PROPERTY_SETTINGS
@given(st.lists(items, max_size=40))
def test_publisher_batches_real_entries_within_limits_each_once_in_order(
    page: list[dict[str, Any]],
) -> None:
    events = [shape(item, position) for position, item in enumerate(page)]
    client = RecordingEvents()
    publisher = EventBridgePublisher(
        client,  # type: ignore[arg-type]
        bus_name="bus",
        source=SOURCE,
        logger=logger,
    )
    outcome = publisher.publish(events, should_stop=lambda: False)
    assert outcome.delivered == len(events) and outcome.failed_entries == 0
    sent = [json.loads(entry["Detail"])["position"] for call in client.calls for entry in call]
    assert sent == list(range(len(events)))  # every item once, in order


@PROPERTY_SETTINGS
@given(st.lists(items, max_size=40), st.integers(min_value=0, max_value=3 * 24 * 3600 * 1000))
def test_log_batches_of_real_events_are_within_the_limits(
    page: list[dict[str, Any]], spread_ms: int
) -> None:
    now_ms = 1_800_000_000_000
    records = [
        LogRecord(now_ms - (spread_ms * i) // max(1, len(page)), shape(item, i).detail_json)
        for i, item in enumerate(page)
    ]
    batches = list(log_batches(records))
    assert sorted(r.message for b in batches for r in b) == sorted(r.message for r in records)
    for batch in batches:
        payload = {
            "logEvents": [{"timestamp": r.timestamp_ms, "message": r.message} for r in batch]
        }
        assert check_put_log_events(payload, Limits(), now_ms=now_ms) is None
