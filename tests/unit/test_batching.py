"""Batches built for PutEvents and PutLogEvents stay within the service limits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mgn_exporter.batching import (
    PUT_EVENTS_MAX_BYTES,
    PUT_EVENTS_MAX_ENTRIES,
    PUT_LOG_EVENTS_MAX_BYTES,
    PUT_LOG_EVENTS_MAX_EVENTS,
    PUT_LOG_EVENTS_MAX_SPAN_MS,
    LogRecord,
    batches_by_size,
    log_batches,
)

DAY_MS = 24 * 3600 * 1000


@given(st.lists(st.integers(min_value=1, max_value=PUT_EVENTS_MAX_BYTES), max_size=60))
def test_put_events_batches_keep_order_count_and_size(sizes: list[int]) -> None:
    indexes = list(range(len(sizes)))
    batches = list(
        batches_by_size(
            indexes,
            lambda i: sizes[i],
            max_count=PUT_EVENTS_MAX_ENTRIES,
            max_bytes=PUT_EVENTS_MAX_BYTES,
        )
    )
    assert [i for batch in batches for i in batch] == indexes  # each once, in order
    for batch in batches:
        assert 1 <= len(batch) <= PUT_EVENTS_MAX_ENTRIES
        assert sum(sizes[i] for i in batch) <= PUT_EVENTS_MAX_BYTES


def test_a_page_of_small_events_makes_full_batches_of_ten() -> None:
    batches = list(
        batches_by_size(
            list(range(1000)), lambda _: 500, max_count=10, max_bytes=PUT_EVENTS_MAX_BYTES
        )
    )
    assert len(batches) == 100


records = st.lists(
    st.builds(
        LogRecord,
        timestamp_ms=st.integers(min_value=0, max_value=5 * DAY_MS),
        message=st.text(max_size=300),
    ),
    max_size=200,
)


@given(records)
def test_log_batches_are_chronological_within_limits_and_complete(recs: list[LogRecord]) -> None:
    batches = list(log_batches(recs))
    flat = [record for batch in batches for record in batch]
    assert sorted(flat, key=id) == sorted(recs, key=id)  # every record exactly once
    assert [r.timestamp_ms for r in flat] == sorted(r.timestamp_ms for r in recs)
    for batch in batches:
        assert len(batch) <= PUT_LOG_EVENTS_MAX_EVENTS
        assert sum(r.size for r in batch) <= PUT_LOG_EVENTS_MAX_BYTES
        assert batch[-1].timestamp_ms - batch[0].timestamp_ms < PUT_LOG_EVENTS_MAX_SPAN_MS


def test_log_batches_split_on_bytes_and_count() -> None:
    big = [LogRecord(1, "x" * 200_000) for _ in range(6)]
    assert [len(b) for b in log_batches(big)] == [5, 1]
    many = [LogRecord(i, "m") for i in range(25_000)]
    assert [len(b) for b in log_batches(many)] == [10_000, 10_000, 5_000]
