"""``FaultProxy``: the test-facing API around the HTTP server."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from fnmatch import fnmatchcase

from local.fault_proxy.faults import BODY_KINDS, KINDS, LOG_REJECTION, FaultBook, FaultParams, Rule
from local.fault_proxy.holds import Hold, HoldMatch
from local.fault_proxy.limits import Limits
from local.fault_proxy.pipeline import CallRecord, Pipeline, Recorder
from local.fault_proxy.server import ProxyHTTPServer
from local.fault_proxy.upstream import Routes
from local.loopback import BackgroundServer


class FaultProxy(BackgroundServer):
    """A fault-injecting proxy on ``host`` (ephemeral port) in front of one or more upstreams.

    ``upstream`` is a URL, or ``{signing name: URL}`` routing by service with ``"*"`` as the
    default, e.g. ``{"mgn": emulator_url, "*": moto_url}``. ``limits=None`` forwards requests
    over AWS limits. ``clock`` (epoch seconds) is what timestamp rules are judged against.
    """

    def __init__(
        self,
        upstream: str | Mapping[str, str],
        *,
        seed: int | None = 0,
        host: str = "127.0.0.1",
        limits: Limits | None = Limits(),  # noqa: B008 - frozen, so sharing it is safe
        clock: Callable[[], float] = time.time,
        preserve_host: bool = True,
    ) -> None:
        super().__init__(host=host, port=0, thread_name="fault-proxy")
        self._routes = Routes(upstream)
        self._book = FaultBook(seed)
        self._recorder = Recorder()
        self._pipeline = Pipeline(self._book, self._recorder, limits, clock)
        self._preserve_host = preserve_host

    def _new_server(self, address: tuple[str, int]) -> ProxyHTTPServer:
        return ProxyHTTPServer(address, self._pipeline, self._routes, self._preserve_host)

    # -- settings -------------------------------------------------------------------------------

    @property
    def limits(self) -> Limits | None:
        return self._pipeline.limits

    @limits.setter
    def limits(self, value: Limits | None) -> None:
        self._pipeline.limits = value

    @property
    def clock(self) -> Callable[[], float]:
        return self._pipeline.clock

    @clock.setter
    def clock(self, value: Callable[[], float]) -> None:
        self._pipeline.clock = value

    # -- faults ---------------------------------------------------------------------------------

    def inject(
        self,
        operation: str,
        kind: str,
        *,
        times: int | None = None,
        probability: float | None = None,
        delay: float = 1.0,
        error_code: str | None = None,
        message: str | None = None,
        status: int | None = None,
        retry_after: int | None = None,
        fraction: float = 0.5,
        indexes: Iterable[int] | None = None,
        detail_contains: str | None = None,
        too_old: int = 0,
        expired: int = 0,
        too_new: int | None = None,
        by_timestamp: bool = False,
        retention_days: int | None = None,
    ) -> Rule:
        """Inject ``kind`` into calls matching ``operation`` (``"logs.PutLogEvents"``,
        ``"events.*"``, ``"*"``): the next ``times`` of them, each with ``probability``
        (seeded), both (the first ``times`` calls that the draw hits), or neither (every
        call until ``clear()``). The other arguments tune the kinds that use them."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {KINDS}")
        only = BODY_KINDS.get(kind)
        if only is not None and not fnmatchcase(only, operation):
            raise ValueError(f"{kind} applies to {only} only, which {operation!r} does not match")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for no limit)")
        if probability is not None and not 0 <= probability <= 1:
            raise ValueError("probability must be within [0, 1]")
        params = FaultParams(
            delay=delay,
            error_code=error_code,
            message=message,
            status=status,
            retry_after=retry_after,
            fraction=fraction,
            indexes=None if indexes is None else tuple(indexes),
            detail_contains=detail_contains,
            too_old=too_old,
            expired=expired,
            too_new=too_new,
            by_timestamp=by_timestamp,
            retention_days=retention_days,
        )
        explicit = too_old or expired or too_new is not None
        if kind == LOG_REJECTION and not (by_timestamp or explicit):
            raise ValueError("log_rejection needs too_old, expired, too_new or by_timestamp")
        return self._book.add(Rule(operation, kind, times, probability, params))

    def clear(self, operation: str | None = None) -> None:
        """Remove every rule, or those injected with exactly this operation pattern."""
        self._book.clear(operation)

    def hold(self, matches: HoldMatch, timeout: float | None = None) -> Hold:
        """Hold every call for which ``matches(operation, body)`` is true, on arrival (before
        any fault), until ``release()`` of the returned Hold, or for at most ``timeout``
        seconds. ``matches`` is called from the proxy's threads, one a call, for the calls
        that arrive while the hold is in place."""
        return self._pipeline.holds.add(Hold(matches, timeout))

    @property
    def rules(self) -> list[Rule]:
        """The rules still active (spent ``times`` rules are gone)."""
        return self._book.rules()

    # -- observations ---------------------------------------------------------------------------

    @property
    def calls(self) -> Counter[str]:
        """Calls per operation that reached the proxy, faulted ones included (a copy)."""
        return self._recorder.calls()

    @property
    def records(self) -> list[CallRecord]:
        """One record per finished call, in completion order (a copy)."""
        return self._recorder.records()

    @property
    def faulted(self) -> Counter[str]:
        """Calls per operation that had at least one fault injected."""
        return Counter(r.operation for r in self._recorder.records() if r.faulted)

    @property
    def in_flight(self) -> int:
        """Calls being handled now (arrived, not yet answered or reset)."""
        return self._recorder.in_flight()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no call is in flight; False if some still are after ``timeout`` seconds.

        A caller killed mid-call leaves its last call to finish here: once idle, the upstreams
        hold every effect of it.
        """
        deadline = time.monotonic() + timeout
        while self.in_flight:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def reset_calls(self) -> None:
        self._recorder.reset()

    def stop(self) -> None:
        # A held call would keep its handler thread, and so the server, from stopping.
        self._pipeline.holds.release_all()
        super().stop()
