"""The retry policy: botocore's conditions, our wait and deadline, and per-entry resends."""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

from mgn_exporter.retries import (
    FAILED_CALLS,
    THROTTLED_CALLS,
    Backoff,
    CallRetries,
    RetryWindow,
    resend_failed,
)


def error_answer(code: str, status: int = 400) -> tuple[Any, dict[str, Any]]:
    http = SimpleNamespace(status_code=status, headers={})
    return http, {"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {}}


OPERATION = botocore.session.get_session().get_service_model("sqs").operation_model("ListQueues")


def ask(retries: CallRetries, attempts: int, **kwargs: Any) -> float | None:
    return retries(attempts=attempts, operation=OPERATION, request_dict={"context": {}}, **kwargs)


def test_a_throttled_call_is_retried_after_a_throttling_backoff() -> None:
    retries = CallRetries(5, RetryWindow())
    waits = [ask(retries, 3, response=error_answer("ThrottlingException")) for _ in range(50)]
    assert all(w is not None and 0 <= w <= THROTTLED_CALLS.base * 4 for w in waits)
    # A throttle waits on the 1 s scale, a 5xx on the 50 ms one.
    assert max(w for w in waits if w is not None) > FAILED_CALLS.base * 4


def test_an_error_botocore_does_not_retry_is_not_retried() -> None:
    retries = CallRetries(5, RetryWindow())
    assert ask(retries, 1, response=error_answer("ValidationException")) is None
    assert ask(retries, 1, response=error_answer("AccessDeniedException", 403)) is None


def test_the_last_attempt_is_not_retried() -> None:
    retries = CallRetries(3, RetryWindow())
    assert ask(retries, 2, response=error_answer("InternalServerException", 500)) is not None
    assert ask(retries, 3, response=error_answer("InternalServerException", 500)) is None


def test_a_retry_the_window_has_no_time_for_is_not_made() -> None:
    now = 1_000.0
    window = RetryWindow(closes_at=now + 0.1, clock=lambda: now)
    retries = CallRetries(5, window)
    assert ask(retries, 1, response=error_answer("ThrottlingException")) is None
    window.closes_at = now + 60
    assert ask(retries, 1, response=error_answer("ThrottlingException")) is not None


def attempts_against_a_closed_port(window: RetryWindow) -> int:
    """HTTP attempts a real client makes for one call to a port that refuses at once; botocore's
    own handler has one attempt, ours decides."""
    client = boto3.client(
        "sqs",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    sent: list[str] = []
    client.meta.events.register("before-send", lambda **_: sent.append("x"))
    client.meta.events.register("needs-retry", CallRetries(3, window))
    with pytest.raises(EndpointConnectionError):
        client.list_queues()
    return len(sent)


def test_a_connection_error_is_retried_by_a_real_client_until_attempts_run_out() -> None:
    assert attempts_against_a_closed_port(RetryWindow()) == 3


def test_a_real_client_makes_no_retry_once_the_window_is_closed() -> None:
    assert attempts_against_a_closed_port(RetryWindow(closes_at=0.0)) == 1


def test_entries_are_resent_until_none_fail_with_growing_jittered_waits() -> None:
    failing = {"a": 2, "b": 0, "c": 1}  # how many more times each entry fails
    rounds: list[list[str]] = []
    sleeps: list[float] = []

    def send(items: Sequence[str], attempt: int) -> list[str]:
        rounds.append(list(items))
        still = [item for item in items if failing[item] > 0]
        for item in still:
            failing[item] -= 1
        return still

    left = resend_failed(
        send, ["a", "b", "c"], attempts=6, time_left=lambda: 10.0, sleep=sleeps.append
    )
    assert list(left) == []
    assert rounds == [["a", "b", "c"], ["a", "c"], ["a"]]
    assert len(sleeps) == 2 and all(0 <= s <= 0.2 for s in sleeps)


def test_entries_still_failing_are_returned_when_attempts_or_time_run_out() -> None:
    def send(items: Sequence[str], attempt: int) -> list[str]:
        return list(items)

    sleeps: list[float] = []
    assert resend_failed(send, ["a"], attempts=3, time_left=lambda: 10.0, sleep=sleeps.append) == [
        "a"
    ]
    assert len(sleeps) == 2  # no wait after the last attempt
    sleeps.clear()
    assert resend_failed(send, ["a"], attempts=3, time_left=lambda: 0.0, sleep=sleeps.append) == [
        "a"
    ]
    assert sleeps == []
    # A wait never outlasts the time left.
    resend_failed(send, ["a"], attempts=3, time_left=lambda: 0.01, sleep=sleeps.append)
    assert sleeps and max(sleeps) <= 0.01


def test_backoff_ceilings_double_up_to_the_cap() -> None:
    backoff = Backoff(base=0.1, cap=0.5)
    assert [backoff.delay(n, draw=lambda: 1.0) for n in range(1, 6)] == pytest.approx(
        [0.1, 0.2, 0.4, 0.5, 0.5]
    )
