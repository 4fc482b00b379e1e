"""The deadline keeps a reserve, sizes pages from the measured pace, and shares time fairly."""

from __future__ import annotations

from mgn_exporter.deadline import Deadline


class FakeClock:
    def __init__(self, budget_ms: int) -> None:
        self.now = 1000.0
        self.end = self.now + budget_ms / 1000

    def time(self) -> float:
        return self.now

    def remaining_ms(self) -> int:
        return int((self.end - self.now) * 1000)


def deadline_of(clock: FakeClock, margin: float = 10) -> Deadline:
    return Deadline(clock.remaining_ms, margin_seconds=margin, clock=clock.time)


def test_stops_when_only_the_margin_is_left() -> None:
    clock = FakeClock(60_000)
    deadline = deadline_of(clock)
    assert not deadline.should_stop()
    clock.now += 49
    assert not deadline.should_stop()
    clock.now += 1
    assert deadline.should_stop()
    assert deadline.ends_at == 1060.0


def test_a_short_budget_keeps_a_small_reserve_and_small_pages() -> None:
    clock = FakeClock(3_000)
    deadline = deadline_of(clock)
    assert deadline.margin_seconds <= 1.21
    assert not deadline.should_stop()
    assert deadline.page_size(1000) < 1000


def test_page_size_follows_the_measured_pace() -> None:
    clock = FakeClock(300_000)
    deadline = deadline_of(clock)
    assert deadline.page_size(1000) == 1000
    deadline.record_step(seconds=30.0, items=100)  # 0.3 s an item: a slow sink
    # (300 - 10) s usable, half of it for a page: 483 items
    assert deadline.page_size(1000) == 483
    deadline.record_step(seconds=1.0, items=100)  # a faster page does not loosen the pace
    assert deadline.page_size(1000) == 483


def test_stops_before_a_minimal_page_would_overrun() -> None:
    clock = FakeClock(20_000)
    deadline = deadline_of(clock, margin=5)
    deadline.record_step(seconds=5.0, items=10)  # 0.5 s an item, 5 s for a minimal page
    clock.now += 9.9  # 5.1 s usable
    assert not deadline.should_stop()
    clock.now += 0.2  # 4.9 s usable
    assert deadline.should_stop()


def test_share_gives_each_account_an_equal_part_of_the_usable_time() -> None:
    clock = FakeClock(100_000)
    deadline = deadline_of(clock)
    share = deadline.share(3)  # usable 90 s -> 30 s each
    clock.now += 29
    assert not share.should_stop()
    clock.now += 1
    assert share.should_stop()
    assert not deadline.should_stop()
    assert share.ends_at == deadline.ends_at
