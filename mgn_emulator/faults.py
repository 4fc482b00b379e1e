"""Injected faults: errors answered instead of the next matching calls."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from mgn_emulator.errors import ApiError, validation_error
from mgn_emulator.model import error_shape

# Not a modeled MGN error: a bare 503 such as a load balancer or front end answers.
SERVICE_UNAVAILABLE = "ServiceUnavailable"


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
        """The first fault matching the call, consuming one of its ``times``."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(operation, account_id, job_id):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            self._faults.remove(fault)
                    return fault
            return None
