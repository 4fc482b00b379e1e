"""Exporter execution environments (worker processes) driven from the suite, and killed at will."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
# A cold start (interpreter, boto3, the handler) takes about a second here; under load, more.
READY_TIMEOUT_SECONDS = 60.0
# An invocation the suite waits for longer than its budget plus this has hung: a failure.
HANG_SLACK_SECONDS = 30.0


class WorkerError(RuntimeError):
    """A worker died or stopped answering outside of a kill the suite ordered."""


@dataclass
class Invocation:
    """One invocation as the suite saw it."""

    request_id: str
    budget_ms: int
    killed: bool = False
    kill_after_s: float | None = None
    report: dict[str, Any] | None = None
    error: str | None = None
    elapsed_ms: float | None = None  # measured in the worker, from the handler's call to return

    @property
    def overran(self) -> bool:
        return self.elapsed_ms is not None and self.elapsed_ms >= self.budget_ms

    @property
    def items_exported(self) -> int:
        return int((self.report or {}).get("itemsExported", 0))

    @property
    def complete(self) -> bool:
        return bool((self.report or {}).get("complete"))

    def outcomes(self) -> dict[str, str]:
        return {
            str(account["account_id"]): str(account["outcome"])
            for account in (self.report or {}).get("accounts", [])
        }

    def counter(self, name: str) -> int:
        return int((self.report or {}).get("counters", {}).get(name, 0))


@dataclass
class Worker:
    """One execution environment: a ``python -m faultsuite.worker`` process."""

    process: subprocess.Popen[str]
    ready: bool = False
    invocations: int = 0
    _stdout: IO[str] = field(init=False)
    _stdin: IO[str] = field(init=False)

    def __post_init__(self) -> None:
        assert self.process.stdout is not None and self.process.stdin is not None
        self._stdout = self.process.stdout
        self._stdin = self.process.stdin

    @classmethod
    def spawn(cls, env: dict[str, str], log: IO[str]) -> Worker:
        process = subprocess.Popen(
            [sys.executable, "-m", "faultsuite.worker"],
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
        if self.ready:
            return
        line = self._read_line(READY_TIMEOUT_SECONDS)
        if line is None or not json.loads(line).get("ready"):
            self.kill()
            raise WorkerError(f"worker did not start: {line!r}")
        self.ready = True

    def invoke(self, budget_ms: int, *, kill_after_s: float | None = None) -> Invocation:
        """Invoke once; with ``kill_after_s``, SIGKILL the process unless it answered by then."""
        self.wait_ready()
        invocation = Invocation(str(uuid.uuid4()), budget_ms, kill_after_s=kill_after_s)
        self._stdin.write(
            json.dumps({"budgetMs": budget_ms, "requestId": invocation.request_id}) + "\n"
        )
        self._stdin.flush()
        self.invocations += 1
        timeout = budget_ms / 1000 + HANG_SLACK_SECONDS
        if kill_after_s is not None and kill_after_s < timeout:
            line = self._read_line(kill_after_s)
            if line is None:
                self.kill()
                invocation.killed = True
                return invocation
        else:
            line = self._read_line(timeout)
        if line is None:
            self.kill()
            raise WorkerError(f"invocation hung for {timeout:.0f} s (budget {budget_ms} ms)")
        answer = json.loads(line)
        invocation.report = answer.get("report")
        invocation.error = answer.get("error")
        invocation.elapsed_ms = float(answer["elapsedMs"])
        return invocation

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def close(self) -> None:
        """The environment is recycled: stdin closes and the process ends by itself."""
        with contextlib.suppress(OSError):
            self._stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

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
    """Warm execution environments, as Lambda keeps them, plus one spare already initialised.

    A killed environment is replaced by the spare, so that a crash costs the suite no cold start
    (the exporter's own cold start is still paid in the spare, off the clock).
    """

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self._env = env
        self._log = log_path.open("a", encoding="utf-8")
        self._idle: list[Worker] = []
        self._spare: Worker | None = None
        self._all: list[Worker] = []

    def take(self) -> Worker:
        """A warm environment if one is idle, else the spare (and a new spare starts)."""
        if self._idle:
            return self._idle.pop()
        worker = self._spare or self._spawn()
        worker.wait_ready()
        # The next spare starts now and is waited for, so that its start-up (a second of CPU)
        # never competes with an invocation being measured.
        self._spare = self._spawn()
        self._spare.wait_ready()
        return worker

    def give_back(self, worker: Worker) -> None:
        if worker.process.poll() is None:
            self._idle.append(worker)

    def invoke(self, budget_ms: int, *, kill_after_s: float | None = None) -> Invocation:
        worker = self.take()
        try:
            invocation = worker.invoke(budget_ms, kill_after_s=kill_after_s)
        except WorkerError:
            worker.kill()
            raise
        if not invocation.killed:
            self.give_back(worker)
        return invocation

    def retire_idle(self) -> None:
        """End the idle environments (Lambda recycles them): the next invocation starts cold."""
        for worker in self._idle:
            worker.close()
        self._idle.clear()

    def close(self) -> None:
        for worker in self._all:
            if worker.process.poll() is None:
                worker.close()
        self._idle.clear()
        self._spare = None
        self._log.close()

    def _spawn(self) -> Worker:
        worker = Worker.spawn(self._env, self._log)
        self._all.append(worker)
        return worker
