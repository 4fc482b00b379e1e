"""Injected faults: errors answered instead of the next matching calls, or at random rates."""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass

from local.mgn_emulator.errors import ApiError, validation_error
from local.mgn_emulator.model import error_shape

# Not a modeled MGN error: a bare 503 such as a load balancer or front end answers.
SERVICE_UNAVAILABLE = "ServiceUnavailable"
THROTTLING = "ThrottlingException"
INTERNAL_SERVER_ERROR = "InternalServerException"


@dataclass(frozen=True)
class FaultRates:
    """Chances that any call is answered with an error instead (each call drawn once)."""

    throttle: float = 0.0  # ThrottlingException, 429 with Retry-After
    server_error: float = 0.0  # half InternalServerException (500), half a bare 503

    def __post_init__(self) -> None:
        for name in ("throttle", "server_error"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} rate must be between 0 and 1, got {value}")
        if self.throttle + self.server_error > 1.0:
            raise ValueError("throttle + server_error rates must not exceed 1")


@dataclass
class Fault:
    operation: str
    error: str
    remaining: int | None
    account_id: str | None
    job_id: str | None
    retry_after: str | None

    def matches(self, operation: str, account_id: str, job_id: str | None) -> bool:
        return (
            self.operation in ("*", operation)
            and self.account_id in (None, account_id)
            and (self.job_id is None or self.job_id == job_id)
        )

    def to_error(self) -> ApiError:
        headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
        if self.error == "ThrottlingException":
            headers.setdefault("Retry-After", "1")
            return ApiError(self.error, "Rate exceeded", headers=headers)
        if self.error == "ValidationException":
            return validation_error("Injected validation failure", "other")
        return ApiError(self.error, f"Injected {self.error}", headers=headers)


class FaultBook:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._rates = FaultRates()
        self._random = random.Random()
        self._injected: Counter[str] = Counter()

    def set_rates(self, rates: FaultRates, seed: int | None = None) -> None:
        with self._lock:
            self._rates = rates
            self._random = random.Random(seed)

    @property
    def rates(self) -> FaultRates:
        with self._lock:
            return self._rates

    @property
    def injected(self) -> Counter[str]:
        """How many calls each error was answered to, queued and random faults alike."""
        with self._lock:
            return Counter(self._injected)

    def add(
        self,
        operation: str,
        error: str,
        *,
        times: int | None,
        account_id: str | None,
        job_id: str | None,
        retry_after: int | float | str | None,
    ) -> None:
        if error != SERVICE_UNAVAILABLE and error_shape(error) is None:
            raise ValueError(f"{error!r} is neither a modeled MGN error nor {SERVICE_UNAVAILABLE}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for ever)")
        with self._lock:
            self._faults.append(
                Fault(
                    operation=operation,
                    error=error,
                    remaining=times,
                    account_id=account_id,
                    job_id=job_id,
                    retry_after=None if retry_after is None else str(retry_after),
                )
            )

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, operation: str, account_id: str, job_id: str | None) -> Fault | None:
        """The first queued fault matching the call (consuming one of its ``times``), else
        a random one at the configured rates, else None."""
        with self._lock:
            fault = self._queued(operation, account_id, job_id) or self._drawn(operation)
            if fault is not None:
                self._injected[fault.error] += 1
            return fault

    def _queued(self, operation: str, account_id: str, job_id: str | None) -> Fault | None:
        for fault in self._faults:
            if fault.matches(operation, account_id, job_id):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                return fault
        return None

    def _drawn(self, operation: str) -> Fault | None:
        rates = self._rates
        if not rates.throttle and not rates.server_error:
            return None
        draw = self._random.random()
        if draw < rates.throttle:
            error = THROTTLING
        elif draw < rates.throttle + rates.server_error:
            error = self._random.choice((INTERNAL_SERVER_ERROR, SERVICE_UNAVAILABLE))
        else:
            return None
        return Fault(operation, error, None, None, None, None)
