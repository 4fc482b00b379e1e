"""A queue world for the fan-out tests: the FIFO work queue and its dead-letter queue in moto,
the real dispatcher and worker handlers, and the local event source mapping between them.

Everything the functions do goes through their configuration (WORK_QUEUE_URL and the world's
environment); what a test asserts is read back from moto and from what each invocation logged
("Batch finished"), as an operator would read it in CloudWatch Logs.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.esm_emulator import EventSourceMapping, Invoke, MappingConfig
from local.faultsuite.environments import Worker, WorkerError
from local.faultsuite.harness import ENRICHMENT_RETRY_VARIABLE
from local.faultsuite.moto_fidelity import atomic_sqs_queues
from local.faultsuite.names import misnamed
from local.sandbox.lambda_context import LocalLambdaContext
from mgn_exporter.exporter import LEASE_SLACK_SECONDS
from tests.integration.conftest import OWN_ACCOUNT, REGION, SCHEDULED_EVENT, World

ROOT = Path(__file__).resolve().parents[2]
SUMMARY_MESSAGES = ("Batch finished", "Work dispatched")
# What every logging.LogRecord has: the rest of a summary record is the summary itself.
_RECORD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# Outcomes of an account an invocation held the lease of (it read or wrote the checkpoint).
WORKED_ON = ("exported", "covered", "failed")


def visibility_timeout_for(budget_ms: int) -> int:
    """A visibility timeout that outlives a crashed worker's lease, as the stack's does (six
    worker timeouts): the lease ends LEASE_SLACK_SECONDS after the worker's deadline, so a
    batch that comes back sooner would find its account still leased and be skipped."""
    return math.ceil(budget_ms / 1000 + LEASE_SLACK_SECONDS + 1)


@dataclass
class Invocation:
    """One worker invocation as the event source mapping made it."""

    started: float  # time.monotonic() when the function was called
    ended: float
    message_ids: list[str]
    bodies: list[str]
    response: Any = None
    summary: dict[str, Any] | None = None  # what it logged as "Batch finished"
    error: str | None = None  # a function error (raised, killed)

    def outcomes(self) -> dict[str, str]:
        return {
            str(account["account_id"]): str(account["outcome"])
            for account in (self.summary or {}).get("accounts", [])
        }

    def errors(self) -> dict[str, str]:
        return {
            str(account["account_id"]): str(account["error"])
            for account in (self.summary or {}).get("accounts", [])
            if account.get("error")
        }

    def worked_on(self) -> set[str]:
        return {account for account, outcome in self.outcomes().items() if outcome in WORKED_ON}

    def failed_ids(self) -> list[str]:
        failures = (self.response or {}).get("batchItemFailures", [])
        return [str(failure["itemIdentifier"]) for failure in failures]

    def handed_on(self) -> list[str]:
        return list((self.summary or {}).get("handedOn", []))

    def counter(self, name: str) -> int:
        return int((self.summary or {}).get("counters", {}).get(name, 0))

    def items_exported(self) -> int:
        return int((self.summary or {}).get("itemsExported", 0))


class SummaryLog(logging.Handler):
    """The summary each thread's last invocation logged; the in-process functions run in the
    event source mapping's poller threads, one invocation at a time per thread."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self._by_thread: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() in SUMMARY_MESSAGES:
            summary = {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRIBUTES}
            with self._lock:
                self._by_thread[threading.get_ident()] = summary

    def take(self) -> dict[str, Any] | None:
        with self._lock:
            return self._by_thread.pop(threading.get_ident(), None)


@contextmanager
def capturing_summaries() -> Iterator[SummaryLog]:
    """Let the function's INFO summaries reach a SummaryLog, keeping its stdout at WARNING."""
    from mgn_exporter.observability import logger

    std_logger = logging.getLogger(logger.name)
    capture = SummaryLog()
    saved_level = std_logger.level
    saved_handlers = [(handler, handler.level) for handler in std_logger.handlers]
    for handler, _ in saved_handlers:
        handler.setLevel(logging.WARNING)  # no JSON formatting of every INFO line
    std_logger.setLevel(logging.INFO)
    std_logger.addHandler(capture)
    try:
        yield capture
    finally:
        std_logger.removeHandler(capture)
        std_logger.setLevel(saved_level)
        for handler, level in saved_handlers:
            handler.setLevel(level)


def scheduled_event(tick: str) -> dict[str, Any]:
    return {**SCHEDULED_EVENT, "time": tick}


class QueueWorld:
    """The work queue (FIFO, one group per account) and its FIFO dead-letter queue."""

    def __init__(
        self,
        world: World,
        summaries: SummaryLog,
        *,
        visibility_timeout: int,
        max_receive_count: int,
    ) -> None:
        # moto's receive is not atomic under concurrent pollers; SQS's is.
        atomic_sqs_queues()
        self.world = world
        self.sqs = world.sqs
        self.summaries = summaries
        self.max_receive_count = max_receive_count
        self.visibility_timeout = visibility_timeout
        self.dlq_url = self.sqs.create_queue(
            QueueName="work-dlq.fifo", Attributes={"FifoQueue": "true"}
        )["QueueUrl"]
        dlq_arn = self._arn(self.dlq_url)
        self.url = self.sqs.create_queue(
            QueueName="work.fifo",
            Attributes={
                "FifoQueue": "true",
                "VisibilityTimeout": str(visibility_timeout),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}
                ),
            },
        )["QueueUrl"]
        self.arn = self._arn(self.url)
        self.invocations: list[Invocation] = []
        self._lock = threading.Lock()

    def _arn(self, url: str) -> str:
        return str(
            self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
        )

    # -- the functions --------------------------------------------------------------------------

    def dispatch(self, tick: str) -> dict[str, Any]:
        """One invocation of the real dispatcher for the schedule's tick `tick`."""
        from mgn_exporter.dispatcher_handler import handler as dispatcher_handler

        context = LocalLambdaContext(budget_ms=30_000, account_id=OWN_ACCOUNT, region=REGION)
        result: dict[str, Any] = dispatcher_handler(scheduled_event(tick), context)
        return result

    def in_process_worker(self, budget_ms: int) -> Invoke:
        """The real worker handler, called in the poller's thread with a `budget_ms` deadline."""
        self.check_budget(budget_ms)
        from mgn_exporter.worker_handler import handler as worker_handler

        def invoke(event: dict[str, Any]) -> Any:
            context = LocalLambdaContext(budget_ms=budget_ms, account_id=OWN_ACCOUNT, region=REGION)
            started = time.monotonic()
            try:
                response = worker_handler(event, context)
            except Exception as exc:
                self._record(event, started, error=f"{type(exc).__name__}: {exc}")
                raise
            self._record(event, started, response=response, summary=self.summaries.take())
            return response

        return invoke

    def process_worker(
        self, worker: Worker, budget_ms: int, *, kill_when: Callable[[], bool] | None = None
    ) -> Invoke:
        """The worker handler in an execution environment of its own (a process); with
        `kill_when`, the process is SIGKILLed as soon as it says so (a function error)."""
        self.check_budget(budget_ms)

        def invoke(event: dict[str, Any]) -> Any:
            watcher = _Killer(worker, kill_when) if kill_when else None
            started = time.monotonic()
            try:
                result = worker.invoke(budget_ms, event=event, handler="worker")
            except WorkerError as exc:
                killed = watcher is not None and watcher.fired.is_set()
                self._record(event, started, error="killed" if killed else str(exc))
                raise
            finally:
                if watcher is not None:
                    watcher.stop()
            if result.error:
                self._record(event, started, error=result.error, summary=result.report)
                raise RuntimeError(result.error)
            self._record(event, started, response=result.response, summary=result.report)
            return result.response

        return invoke

    def check_budget(self, budget_ms: int) -> None:
        """Lambda refuses a mapping whose queue's visibility timeout is shorter than the
        function's timeout: a batch still being worked on would be handed to another worker."""
        assert budget_ms <= self.visibility_timeout * 1000, "visibility timeout < worker budget"

    def mapping(
        self, invokers: Sequence[Invoke], *, batch_size: int = 10, concurrency: int | None = None
    ) -> EventSourceMapping:
        config = MappingConfig(
            queue_url=self.url,
            queue_arn=self.arn,
            region=REGION,
            batch_size=batch_size,
            max_concurrency=concurrency or len(invokers),
        )
        return EventSourceMapping(self.sqs, config, invokers)

    def drain(
        self,
        *,
        budget_ms: int,
        concurrency: int = 1,
        batch_size: int = 10,
        timeout: float = 60,
        until: Callable[[], bool] | None = None,
    ) -> EventSourceMapping:
        """Poll the queue with `concurrency` in-process workers until it is empty."""
        mapping = self.mapping(
            [self.in_process_worker(budget_ms) for _ in range(concurrency)], batch_size=batch_size
        )
        mapping.drain(timeout=timeout, until=until)
        return mapping

    def _record(
        self,
        event: dict[str, Any],
        started: float,
        *,
        response: Any = None,
        summary: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        records = event.get("Records", [])
        invocation = Invocation(
            started=started,
            ended=time.monotonic(),
            message_ids=[record["messageId"] for record in records],
            bodies=[record["body"] for record in records],
            response=response,
            summary=summary,
            error=error,
        )
        with self._lock:
            self.invocations.append(invocation)

    # -- what the queues hold -------------------------------------------------------------------

    def depth(self, url: str | None = None) -> tuple[int, int]:
        """(visible, in flight) messages of the work queue (or of `url`)."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url or self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )

    def receive_all(self, url: str) -> list[Any]:
        """Every visible message of `url` (left in flight for a minute: read once)."""
        messages: list[Any] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=60,
                AttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                return messages
            messages.extend(batch)

    def dead_letters(self) -> list[Any]:
        return self.receive_all(self.dlq_url)

    def send_raw(self, body: str, group: str, dedup: str) -> str:
        """A message the dispatcher would never send (a defect, an operator, an old version)."""
        return str(
            self.sqs.send_message(
                QueueUrl=self.url,
                MessageBody=body,
                MessageGroupId=group,
                MessageDeduplicationId=dedup,
            )["MessageId"]
        )

    # -- what the invocations did ---------------------------------------------------------------

    def summaries_of(self) -> list[dict[str, Any]]:
        return [inv.summary for inv in self.invocations if inv.summary is not None]

    def counter(self, name: str) -> int:
        return sum(invocation.counter(name) for invocation in self.invocations)

    def handed_on(self) -> Counter[str]:
        return Counter(account for inv in self.invocations for account in inv.handed_on())


def account_of(body: str) -> str | None:
    try:
        account = json.loads(body).get("accountId")
    except (ValueError, AttributeError):
        return None
    return account if isinstance(account, str) else None


class _Killer:
    """Watches a condition from a thread of its own and SIGKILLs the worker once it holds."""

    def __init__(self, worker: Worker, condition: Callable[[], bool]) -> None:
        self._worker = worker
        self._condition = condition
        self._stopped = threading.Event()
        self.fired = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._watch, name="killer", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        try:
            while not self._stopped.is_set():
                if self._condition():
                    self.fired.set()
                    self._worker.kill()
                    return
                time.sleep(0.01)
        except BaseException as exc:  # a defect of the test: reported by stop()
            self.error = exc

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()
        if self.error is not None:
            raise self.error


def worker_environment(
    extra: dict[str, str] | None = None, *, enrichment_retry_seconds: int | None = None
) -> dict[str, str]:
    """A worker process's environment: the function's configuration as the test set it (the
    world's variables and WORK_QUEUE_URL), its summaries logged at INFO. With
    `enrichment_retry_seconds`, a failed inventory read is tried again after that long
    instead of the exporter's 300 s (see local/faultsuite/worker.py)."""
    env = dict(os.environ)
    env.update(
        {
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "FAULTSUITE_OWN_ACCOUNT": OWN_ACCOUNT,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "lambda_src"), str(ROOT)]),
        }
    )
    if enrichment_retry_seconds is not None:
        env[ENRICHMENT_RETRY_VARIABLE] = str(enrichment_retry_seconds)
    env.update(extra or {})
    return env


@dataclass
class Expected:
    """What MGN holds: (account, job, position) of every item the exporter must deliver."""

    keys: set[tuple[str, str, int]] = field(default_factory=set)
    # (account, server id) -> what its events carry once named (worlds.name_servers and
    # worlds.named_account return it).
    names: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def add(self, account: str, job: str, count: int) -> None:
        self.keys.update((account, job, position) for position in range(count))

    def name(self, names: Mapping[tuple[str, str], dict[str, Any]]) -> None:
        """Expect the events of these servers to carry these names."""
        self.names.update(names)

    def misnamed(self, details: Iterable[Mapping[str, Any]]) -> list[str]:
        """The eventIds of delivered Details whose names are not the world's (a named server's
        event without them, or names on an event of a server the world does not name)."""
        return misnamed(details, self.names)

    def __len__(self) -> int:
        return len(self.keys)
