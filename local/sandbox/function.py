"""The deployed functions, run outside moto: their code, their environment, warm processes.

moto's Lambda would need Docker to run code, so the sandbox does what Lambda does itself:
it takes each deployed function's code package (from the bootstrap bucket, where the template
points, checked against that function's CodeSha256), unzips it into a task root (once per
package: the dispatcher and the worker share one), and runs the function's ``Handler`` in a
long-lived subprocess (one "execution environment", warm between invocations) with the
function's deployed Environment plus what Lambda and the sandbox add: region, dummy
credentials, and the endpoints of moto and the MGN emulator. Each invocation gets the
standard context and a deadline; one that overruns it is killed, as Lambda kills a timed-out
environment, and the next invocation starts a new one (a cold start).

What an invocation did is read from its log lines, as an operator reads it in CloudWatch
Logs: the functions log their summary as one Powertools JSON line ("Work dispatched",
"Batch finished"); the worker's return value is only its partial batch response.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import queue
import signal
import subprocess
import sys
import sysconfig
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from local.moto_deploy import local_session
from local.sandbox.errors import SandboxError
from local.sandbox.stack import DeployedFunction, DeployedStack

REPO_ROOT = Path(__file__).resolve().parents[2]
INIT_TIMEOUT_SECONDS = 60.0
# Time past the deadline before the environment is killed (Lambda's own slack is small).
KILL_GRACE_SECONDS = 3.0


@dataclass
class Invocation:
    request_id: str
    ok: bool
    duration_seconds: float
    cold: bool
    result: dict[str, Any] = field(default_factory=dict)  # the handler's return value
    error: str | None = None
    log_lines: list[str] = field(default_factory=list)

    def logged(self, message: str) -> dict[str, Any] | None:
        """The last JSON log line whose ``message`` is ``message`` (a Powertools record)."""
        return logged_record(self.log_lines, message)


def logged_record(lines: list[str], message: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = None
    for line in lines:
        if message not in line:
            continue
        try:
            record: Any = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("message") == message:
            found = record
    return found


def extract_code(stack: DeployedStack, workdir: Path) -> dict[str, Path]:
    """Unzip each deployed code package once (``workdir/task``, ``task-2``...); returns each
    function's task root. Refuses a package that is not the one its function was created
    from: every function's CodeSha256 is checked."""
    s3 = local_session(stack.region).client("s3", endpoint_url=stack.endpoint_url)
    roots: dict[str, Path] = {}
    packages: dict[tuple[str, str], tuple[str, Path]] = {}  # location -> (sha256, task root)
    for function in stack.functions:
        location = (function.code_bucket, function.code_key)
        if location not in packages:
            body = s3.get_object(Bucket=location[0], Key=location[1])["Body"].read()
            root = workdir / ("task" if not packages else f"task-{len(packages) + 1}")
            root.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(io.BytesIO(body)) as archive:
                archive.extractall(root)
            packages[location] = (base64.b64encode(hashlib.sha256(body).digest()).decode(), root)
        digest, root = packages[location]
        if digest != function.code_sha256:
            raise SandboxError(
                f"s3://{function.code_bucket}/{function.code_key} is not the deployed code of "
                f"{function.name} (sha256 {digest}, the function has {function.code_sha256})"
            )
        roots[function.name] = root
    return roots


def function_environment(
    stack: DeployedStack,
    function: DeployedFunction,
    *,
    task_root: Path,
    mgn_endpoint: str,
    log_stream: str,
    overrides: dict[str, str] | None = None,
) -> dict[str, str]:
    """The subprocess's whole environment: nothing of the caller's leaks in (no AWS profile or
    credentials of the user's can be read). `overrides` go over the deployed environment (the
    sandbox's settings of variables the stack never sets)."""
    config = function.config
    logging_config = function.logging_config
    library_path = sysconfig.get_path("purelib")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "PYTHONPATH": os.pathsep.join([str(task_root), library_path, str(REPO_ROOT)]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "LAMBDA_TASK_ROOT": str(task_root),
        "_HANDLER": function.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.get('Runtime', 'python3.12')}",
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_VERSION": str(config.get("Version", "$LATEST")),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.get("MemorySize", 128)),
        "AWS_LAMBDA_LOG_GROUP_NAME": function.log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_REGION": stack.region,
        "AWS_DEFAULT_REGION": stack.region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_ENDPOINT_URL": stack.endpoint_url,
        "AWS_ENDPOINT_URL_MGN": mgn_endpoint,
    }
    if logging_config.get("LogFormat") == "JSON":
        env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        env["AWS_LAMBDA_LOG_LEVEL"] = str(logging_config.get("ApplicationLogLevel", "INFO"))
    env.update(function.environment)
    env.update(overrides or {})
    return env


class FunctionRunner:
    """One warm execution environment of a deployed function, restarted after a timeout.

    Not thread-safe: one invocation at a time, as Lambda gives an environment one at a time.
    """

    def __init__(
        self,
        stack: DeployedStack,
        function: DeployedFunction,
        *,
        task_root: Path,
        mgn_endpoint: str,
        label: str,
    ) -> None:
        self._stack = stack
        self.function = function
        self.label = label  # names its log files: "dispatcher", "worker-1"...
        self._task_root = task_root
        self._mgn_endpoint = mgn_endpoint
        self._process: subprocess.Popen[str] | None = None
        self._responses: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._log: IO[bytes] | None = None
        self._log_offset = 0
        self.log_stream = ""
        self.cold_starts = 0
        self.handler_file: str | None = None
        # Set over the deployed environment at each start (see `reconfigure`).
        self.overrides: dict[str, str] = {}

    def reconfigure(self, overrides: dict[str, str]) -> bool:
        """Variables over the deployed environment from the next invocation on. A change ends
        the warm environment, as a configuration change does in Lambda: the next invocation
        is a cold start. Not while an invocation runs. Returns whether anything changed."""
        if overrides == self.overrides:
            return False
        self.overrides = dict(overrides)
        self._kill()
        return True

    def invoke(self, event: dict[str, Any], budget_seconds: float) -> Invocation:
        cold = self._process is None
        if cold:
            self._start()
        # Kept: close() from another thread (Ctrl-C) may take the runner's reference away.
        process = self._process
        assert process is not None and process.stdin is not None
        request_id = str(uuid.uuid4())
        started = time.time()
        deadline_ms = int((started + budget_seconds) * 1000)
        request = {
            "requestId": request_id,
            "deadlineMs": deadline_ms,
            "invokedFunctionArn": self.function.arn,
            "event": event,
        }
        process.stdin.write(json.dumps(request) + "\n")
        process.stdin.flush()
        response = self._next_response(budget_seconds + KILL_GRACE_SECONDS)
        duration = time.time() - started
        if response is None:
            exit_code = process.poll()
            error = (
                f"Runtime exited with code {exit_code}"
                if exit_code is not None
                else f"Task timed out after {budget_seconds:.0f} seconds"
            )
            lines = self._new_log_lines()
            self._kill()
            return Invocation(
                request_id,
                ok=False,
                duration_seconds=duration,
                cold=cold,
                error=error,
                log_lines=lines,
            )
        return Invocation(
            request_id,
            ok=bool(response.get("ok")),
            duration_seconds=duration,
            cold=cold,
            result=dict(response.get("result") or {}),
            error=None
            if response.get("ok")
            else f"{response.get('errorType')}: {response.get('errorMessage')}",
            log_lines=self._new_log_lines(),
        )

    def close(self) -> None:
        self._kill()

    def _start(self) -> None:
        self.cold_starts += 1
        day = datetime.now(UTC).strftime("%Y/%m/%d")
        self.log_stream = f"{day}/[$LATEST]{uuid.uuid4().hex}"
        env = function_environment(
            self._stack,
            self.function,
            task_root=self._task_root,
            mgn_endpoint=self._mgn_endpoint,
            log_stream=self.log_stream,
            overrides=self.overrides,
        )
        log_path = self._task_root.parent / f"{self.label}-{self.cold_starts}.log"
        self._log = log_path.open("w+b")
        self._log_offset = 0
        self._responses = queue.Queue()
        # A session of its own: a Ctrl-C in the terminal reaches the sandbox only, which then
        # stops this process itself.
        self._process = subprocess.Popen(
            [sys.executable, "-S", "-m", "local.sandbox.lambda_runner"],
            cwd=self._task_root,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            start_new_session=True,
        )
        threading.Thread(
            target=_read_lines,
            args=(self._process.stdout, self._responses),
            name=f"{self.label}-reader",
            daemon=True,
        ).start()
        ready = self._next_response(INIT_TIMEOUT_SECONDS)
        if not ready or not ready.get("ready"):
            lines = self._new_log_lines()
            self._kill()
            detail = (ready or {}).get("errorMessage") or "no answer"
            raise SandboxError(
                f"the function failed to initialize: {detail}\n" + "\n".join(lines[-20:])
            )
        self.handler_file = ready.get("handlerFile")
        if not self.handler_file or not Path(self.handler_file).is_relative_to(self._task_root):
            self._kill()
            raise SandboxError(
                f"the handler was imported from {self.handler_file}, not the deployed code"
            )

    def _next_response(self, timeout: float) -> dict[str, Any] | None:
        try:
            return self._responses.get(timeout=timeout)
        except queue.Empty:
            return None

    def _new_log_lines(self) -> list[str]:
        if self._log is None:
            return []
        self._log.flush()
        self._log.seek(self._log_offset)
        data = self._log.read()
        # Only whole lines; a partial one waits for the next read.
        end = data.rfind(b"\n") + 1
        self._log_offset += end
        return data[:end].decode("utf-8", "replace").splitlines()

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if self._log is not None:
            self._log.close()
            self._log = None


def _read_lines(stream: IO[str] | None, into: queue.Queue[dict[str, Any] | None]) -> None:
    """Responses as they come; None once the process has closed its end (it exited)."""
    if stream is not None:
        with contextlib.suppress(ValueError, OSError):
            for line in stream:
                with contextlib.suppress(json.JSONDecodeError):
                    into.put(json.loads(line))
    into.put(None)


class FunctionLogs:
    """Each function's log lines into its deployed log group in moto, one stream per execution
    environment, with Lambda's platform records around each invocation. Thread-safe: the
    worker's environments publish from the pollers' threads."""

    def __init__(self, stack: DeployedStack) -> None:
        self._logs = local_session(stack.region).client("logs", endpoint_url=stack.endpoint_url)
        self._streams: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def publish(self, runner: FunctionRunner, invocation: Invocation) -> None:
        group, stream = runner.function.log_group, runner.log_stream or "sandbox"
        now_ms = int(time.time() * 1000)
        start_ms = now_ms - int(invocation.duration_seconds * 1000)
        status = (
            "success"
            if invocation.ok
            else ("timeout" if "timed out" in str(invocation.error) else "error")
        )
        records = [
            (start_ms, _platform("platform.start", start_ms, {"requestId": invocation.request_id})),
            *((now_ms, line) for line in invocation.log_lines if line.strip()),
            (
                now_ms,
                _platform(
                    "platform.report",
                    now_ms,
                    {
                        "requestId": invocation.request_id,
                        "status": status,
                        "metrics": {"durationMs": round(invocation.duration_seconds * 1000, 2)},
                    },
                ),
            ),
        ]
        with self._lock:
            if (group, stream) not in self._streams:
                with contextlib.suppress(self._logs.exceptions.ResourceAlreadyExistsException):
                    self._logs.create_log_stream(logGroupName=group, logStreamName=stream)
                self._streams.add((group, stream))
        self._logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": ts, "message": message} for ts, message in records],
        )


def _platform(kind: str, at_ms: int, record: dict[str, Any]) -> str:
    at = datetime.fromtimestamp(at_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps({"time": at, "type": kind, "record": record})
