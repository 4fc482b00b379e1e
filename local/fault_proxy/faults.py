"""Fault rules: which calls a fault hits, how often, and with what settings."""

from __future__ import annotations

import random
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from local.fault_proxy.errors import HTTP_500, HTTP_503, THROTTLE

RESET = "reset"
SLOW = "slow"
PARTIAL_FAILURE = "partial_failure"
LOG_REJECTION = "log_rejection"

# Answered before the upstream sees the request (and before any limit is checked).
FRONT_KINDS = (THROTTLE, HTTP_500, HTTP_503, RESET)
# Rewrite a request that passed the limits; each only makes sense for one operation.
BODY_KINDS = {PARTIAL_FAILURE: "events.PutEvents", LOG_REJECTION: "logs.PutLogEvents"}
KINDS = (*FRONT_KINDS, SLOW, *BODY_KINDS)


@dataclass(frozen=True)
class FaultParams:
    delay: float = 1.0  # slow: seconds before forwarding
    error_code: str | None = None  # error kinds: the code; partial_failure: per entry
    message: str | None = None
    status: int | None = None  # error kinds: override the HTTP status
    retry_after: int | None = None  # rest-json throttle: Retry-After seconds
    fraction: float = 0.5  # partial_failure: share of entries to fail
    indexes: tuple[int, ...] | None = None  # partial_failure: exactly these entries
    # partial_failure: the entries whose Detail contains this text (a "poison" item)
    detail_contains: str | None = None
    too_old: int = 0  # log_rejection: events [0, too_old) are too old
    expired: int = 0  # log_rejection: events [0, expired) are past retention
    too_new: int | None = None  # log_rejection: events [too_new, n) are too new
    by_timestamp: bool = False  # log_rejection: judge each timestamp like CloudWatch Logs
    retention_days: int | None = None  # log_rejection by timestamp: the group's retention


@dataclass
class Rule:
    pattern: str  # "events.PutEvents", "events.*", "*"
    kind: str
    times: int | None = None  # at most this many hits; None: no limit
    probability: float | None = None  # each matching call is hit with this chance
    params: FaultParams = field(default_factory=FaultParams)
    hits: int = 0

    def matches(self, operation: str) -> bool:
        only = BODY_KINDS.get(self.kind)
        return fnmatchcase(operation, self.pattern) and (only is None or operation == only)

    @property
    def spent(self) -> bool:
        return self.times is not None and self.hits >= self.times


class FaultBook:
    """Thread-safe rules drawn in insertion order with one seeded random source."""

    def __init__(self, seed: int | None) -> None:
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._random = random.Random(seed)

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self, pattern: str | None = None) -> None:
        with self._lock:
            self._rules = [r for r in self._rules if pattern is not None and r.pattern != pattern]

    def rules(self) -> list[Rule]:
        with self._lock:
            return list(self._rules)

    def draw_all(self, operation: str, kinds: Collection[str]) -> list[Rule]:
        """Every rule of these kinds that hits this call (for faults that stack)."""
        with self._lock:
            return [r for r in self._rules if r.kind in kinds and self._hit(r, operation)]

    def draw_first(self, operation: str, kinds: Collection[str]) -> Rule | None:
        """The first rule of these kinds that hits; later rules are not drawn nor spent."""
        with self._lock:
            return next(
                (r for r in self._rules if r.kind in kinds and self._hit(r, operation)), None
            )

    def sample(self, population: Sequence[int], k: int) -> list[int]:
        with self._lock:
            return sorted(self._random.sample(list(population), k))

    def _hit(self, rule: Rule, operation: str) -> bool:
        if rule.spent or not rule.matches(operation):
            return False
        if rule.probability is not None and self._random.random() >= rule.probability:
            return False
        rule.hits += 1
        if rule.spent:
            self._rules.remove(rule)
        return True
