"""Lambda execution environments (worker processes) driven from the suite, and killed at will."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
# A cold start (interpreter, boto3, the handler) takes about a second here; under load, more.
READY_TIMEOUT_SECONDS = 60.0
# An invocation the suite waits for longer than its budget plus this has hung: a failure.
HANG_SLACK_SECONDS = 30.0
# How often an invocation to be killed on a signal checks for it.
KILL_POLL_SECONDS = 0.01


class WorkerError(RuntimeError):
    """A worker died or stopped answering outside of a kill the suite ordered."""


@dataclass
class Invocation:
    """One invocation as the suite saw it."""

    request_id: str
    budget_ms: int
    handler: str = "worker"  # "worker" (an SQS batch) or "dispatcher" (a tick)
    # Who invoked it: the event source mapping's pollers, or a scenario directly.
    origin: str = "poller"
    accounts: tuple[str, ...] = ()  # the accounts its event asks for
    tick: int = 0  # the schedule tick during which it was invoked (1-based; 0: before any)
    killed: bool = False
    kill_after_s: float | None = None
    cold: bool = False  # the first invocation of its execution environment
    report: dict[str, Any] | None = None  # the run summary the function logged
    response: Any = None  # what the handler returned
    error: str | None = None
    elapsed_ms: float | None = None  # measured in the worker, from the handler's call to return
    # The suite's clock (time.monotonic) around the whole invocation, IPC included.
    started_at: float = 0.0
    ended_at: float = 0.0

    @property
    def overran(self) -> bool:
        return self.elapsed_ms is not None and self.elapsed_ms >= self.budget_ms

    @property
    def items_exported(self) -> int:
        return int((self.report or {}).get("itemsExported", 0))

    @property
    def complete(self) -> bool:
        return bool((self.report or {}).get("complete"))

    @property
    def handed_on(self) -> list[str]:
        return [str(account) for account in (self.report or {}).get("handedOn", [])]

    def outcomes(self) -> dict[str, str]:
        return {
            str(account["account_id"]): str(account["outcome"])
            for account in (self.report or {}).get("accounts", [])
        }

    def counter(self, name: str) -> int:
        return int((self.report or {}).get("counters", {}).get(name, 0))


@dataclass
class Worker:
    """One execution environment: a ``python -m local.faultsuite.worker`` process."""

    process: subprocess.Popen[str]
    ready: bool = False
    invocations: int = 0
    _stdout: IO[str] = field(init=False)
    _stdin: IO[str] = field(init=False)
    # Two pollers may wait for the same new environment: one of them reads its ready line.
    _ready_lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        assert self.process.stdout is not None and self.process.stdin is not None
        self._stdout = self.process.stdout
        self._stdin = self.process.stdin

    @classmethod
    def spawn(cls, env: dict[str, str], log: IO[str]) -> Worker:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.faultsuite.worker"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            bufsize=1,
        )
        return cls(process)

    def wait_ready(self) -> None:
        with self._ready_lock:
            if self.ready:
                return
            line = self._read_line(READY_TIMEOUT_SECONDS)
            if line is None or not json.loads(line).get("ready"):
                self.kill()
                raise WorkerError(f"worker did not start: {line!r}")
            self.ready = True

    def invoke(
        self,
        budget_ms: int,
        *,
        kill_after_s: float | None = None,
        kill_when: threading.Event | None = None,
        event: dict[str, Any] | None = None,
        handler: str = "worker",
    ) -> Invocation:
        """Invoke once; with ``kill_after_s``, SIGKILL the process unless it answered by then;
        with ``kill_when``, SIGKILL it as soon as that event is set (by whoever saw it reach
        the point it is killed at), unless it answered before."""
        self.wait_ready()
        invocation = Invocation(
            str(uuid.uuid4()),
            budget_ms,
            handler=handler,
            kill_after_s=kill_after_s,
            cold=self.invocations == 0,
        )
        command = {
            "budgetMs": budget_ms,
            "requestId": invocation.request_id,
            "handler": handler,
            "event": event,
        }
        invocation.started_at = time.monotonic()
        try:
            self._stdin.write(json.dumps(command) + "\n")
            self._stdin.flush()
            self.invocations += 1
            timeout = budget_ms / 1000 + HANG_SLACK_SECONDS
            if kill_when is not None:
                line = self._read_line_unless(kill_when, timeout)
                if line is None and kill_when.is_set():
                    self.kill()
                    invocation.killed = True
                    invocation.kill_after_s = time.monotonic() - invocation.started_at
                    return invocation
            elif kill_after_s is not None and kill_after_s < timeout:
                line = self._read_line(kill_after_s)
                if line is None:
                    self.kill()
                    invocation.killed = True
                    return invocation
            else:
                line = self._read_line(timeout)
        finally:
            invocation.ended_at = time.monotonic()
        if line is None:
            self.kill()
            raise WorkerError(f"invocation hung for {timeout:.0f} s (budget {budget_ms} ms)")
        answer = json.loads(line)
        invocation.report = answer.get("report")
        invocation.response = answer.get("response")
        invocation.error = answer.get("error")
        invocation.elapsed_ms = float(answer["elapsedMs"])
        return invocation

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def hang_up(self) -> None:
        """No more invocations: stdin closes, and the process ends by itself."""
        with contextlib.suppress(OSError):
            self._stdin.close()

    def close(self) -> None:
        """The environment is recycled: stdin closes and the process ends by itself."""
        self.hang_up()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def _read_line_unless(self, stop: threading.Event, timeout: float) -> str | None:
        """A line, or None once `stop` is set or `timeout` has passed."""
        deadline = time.monotonic() + timeout
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            line = self._read_line(min(left, KILL_POLL_SECONDS))
            if line is not None:
                return line
        return None

    def _read_line(self, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            readable, _, _ = select.select([self._stdout], [], [], left)
            if readable:
                line = self._stdout.readline()
                if not line:
                    raise WorkerError(f"worker exited with {self.process.wait()}")
                return line


class Environments:
    """The execution environments of one function, as Lambda keeps them: warm ones reused, a
    new one started when all are busy (the event source mapping's pollers invoke at once, so
    every method is thread-safe).

    With ``spare``, one more environment is kept initialised, so that a crash or a cold start
    costs the suite no start-up on the clock (the function's own cold start is still paid in
    the spare's first invocation).
    """

    def __init__(self, env: dict[str, str], log_path: Path, *, spare: bool = False) -> None:
        self._env = env
        self._log = log_path.open("a", encoding="utf-8")
        self._keep_spare = spare
        self._lock = threading.Lock()
        self._idle: list[Worker] = []
        self._spare: Worker | None = None
        self._all: list[Worker] = []

    def prewarm(self, count: int) -> None:
        """Start `count` environments at once (their start-ups overlap), plus the spare."""
        with self._lock:
            fresh = [self._spawn() for _ in range(count)]
            if self._keep_spare and self._spare is None:
                self._spare = self._spawn()
        for worker in fresh:
            worker.wait_ready()
        if self._spare is not None:
            self._spare.wait_ready()
        with self._lock:
            self._idle.extend(fresh)

    def take(self) -> Worker:
        """A warm environment if one is idle, else the spare (or a new one)."""
        with self._lock:
            if self._idle:
                return self._idle.pop()
            worker = self._spare or self._spawn()
            spare = self._spare = self._spawn() if self._keep_spare else None
        worker.wait_ready()
        if spare is not None:
            # Waited for here, so that its start-up (a second of CPU) never competes with an
            # invocation being measured.
            spare.wait_ready()
        return worker

    def give_back(self, worker: Worker) -> None:
        if worker.alive:
            with self._lock:
                self._idle.append(worker)

    def invoke(
        self,
        budget_ms: int,
        *,
        kill_after_s: float | None = None,
        kill_when: threading.Event | None = None,
        event: dict[str, Any] | None = None,
        handler: str = "worker",
        retire: bool = False,
    ) -> Invocation:
        """Invoke in a warm environment; with `retire`, the environment ends afterwards (Lambda
        recycled it: the next invocation that needs one starts cold)."""
        worker = self.take()
        try:
            invocation = worker.invoke(
                budget_ms,
                kill_after_s=kill_after_s,
                kill_when=kill_when,
                event=event,
                handler=handler,
            )
        except WorkerError:
            worker.kill()
            raise
        if retire:
            worker.close()
        elif not invocation.killed:
            self.give_back(worker)
        return invocation

    def retire_idle(self) -> None:
        """End the idle environments (Lambda recycles them): the next invocation starts cold."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()

    def close(self) -> None:
        with self._lock:
            workers = list(self._all)
            self._idle.clear()
            self._spare = None
        running = [worker for worker in workers if worker.alive]
        for worker in running:  # all told first: they end side by side
            worker.hang_up()
        for worker in running:
            worker.close()
        self._log.close()

    def _spawn(self) -> Worker:
        worker = Worker.spawn(self._env, self._log)
        self._all.append(worker)
        return worker
