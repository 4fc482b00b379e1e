"""The work queue, drained as the deployed event source mapping would drain it, tick by tick.

moto keeps the worker's mapping as configuration only (``sandbox.moto_patches``); the sandbox
polls the work queue itself with ``esm_emulator.EventSourceMapping``, configured from the
deployed mapping (batch size, ReportBatchItemFailures) with one warm worker environment per
poller, at most the mapping's MaximumConcurrency of them.

When a tick's drain ends
------------------------

A tick's drain ends when nothing in the queue can be received any more, not when the queue is
empty: a record the worker reported failed comes back only after its retry backoff
(RETRY_BACKOFF_SECONDS, doubling per receive), and FIFO holds its account's later messages
behind it until then (those held messages still count in ApproximateNumberOfMessages, so the
queue's counts alone cannot tell). An account MGN refuses (the default world's uninitialized
one) would otherwise make every tick wait 30 seconds or more. So the drain ends once

* every batch received has been answered (the mapping deleted or returned its records), and
* a receive that started after the last batch was answered came back empty: what that batch
  sent (hand-ons) or left visible was there to be received, and was not.

What is left is "waiting for retry": the failed records (known by message id from the
batches' answers) and the messages queued behind them in their accounts' message groups. A
record that comes back during a later tick is worked on then. The drain ticks after the last
one (``+1``...) also wait, up to ``retry_wait_seconds``, for the retries of the accounts named
in ``wait_for``, since a new tick's message for such an account is held behind the failed one.
SQS moves a record to the dead-letter queue on a receive after its maxReceiveCount-th, unseen
by the pollers: when the dead-letter queue's count grows, its messages are peeked at (and made
visible again at once) to learn which records went there.

Each record's account is read from its body, as an operator reading the queue would; what the
worker did is read from its "Batch finished" log line.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from local.esm_emulator import EventSourceMapping, Invoke, MappingConfig, failed_ids
from local.moto_deploy import local_session
from local.sandbox.errors import SandboxError
from local.sandbox.function import FunctionLogs, FunctionRunner, Invocation
from local.sandbox.stack import DeployedStack

BATCH_FINISHED = "Batch finished"
# The visibility timeout of a peek at the dead-letter queue; the messages are released at once.
PEEK_VISIBILITY_SECONDS = 30


class FunctionError(RuntimeError):
    """The worker's invocation failed (an exception, a timeout): the whole batch comes back."""


@dataclass
class Batch:
    """One worker invocation as the mapping made it, and what the worker logged about it."""

    slot: int
    started_at: datetime  # real time of the invocation
    invocation: Invocation
    message_ids: list[str]
    accounts: list[str | None]  # each record's account, from its body
    failed_ids: set[str]  # reported failed, or every record on a function error

    @property
    def summary(self) -> dict[str, Any] | None:
        return self.invocation.logged(BATCH_FINISHED)

    @property
    def reported(self) -> list[dict[str, Any]]:
        """The accounts the worker reported on, with their outcome (exported, covered,
        uninitialized, failed, skipped, not_started), items exported and backlog."""
        return list((self.summary or {}).get("accounts", []))

    @property
    def handed_on(self) -> list[str]:
        return [str(account) for account in (self.summary or {}).get("handedOn", [])]

    @property
    def items_exported(self) -> int:
        return int((self.summary or {}).get("itemsExported", 0))

    def failed_accounts(self) -> list[str]:
        return sorted(
            {
                account
                for message_id, account in zip(self.message_ids, self.accounts, strict=True)
                if account and message_id in self.failed_ids
            }
        )


@dataclass
class DrainResult:
    batches: list[Batch]
    waiting: dict[str, int]  # account -> its failed records waiting for their retry
    dead_letters: dict[str, int]  # account -> its messages in the dead-letter queue
    visible: int  # the work queue at the end: messages held behind the waiting ones...
    in_flight: int  # ...and the waiting ones
    seconds: float
    waited_for_retries: bool = False  # the drain waited for a retry of an account of wait_for


@dataclass
class _Progress:
    """What the pollers have done so far in one drain (guarded by WorkQueueDrain._lock)."""

    received: int = 0  # receives that got messages
    answered: int = 0  # batches the mapping has deleted or returned the records of
    last_answered: float = 0.0
    last_empty_receive: float = 0.0  # when the last receive that got nothing started
    waited_for_retries: bool = False
    batches: list[Batch] = field(default_factory=list)


class _WatchedSqs:
    """The SQS client the mapping polls with, noting what each receive got."""

    def __init__(self, client: Any, on_receive: Callable[[float, bool], None]) -> None:
        self._client = client
        self._on_receive = on_receive

    def receive_message(self, **kwargs: Any) -> Any:
        started = time.monotonic()
        response = self._client.receive_message(**kwargs)
        self._on_receive(started, bool(response.get("Messages")))
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class Environment(Protocol):
    """A worker execution environment (a FunctionRunner): one invocation at a time."""

    def invoke(self, event: dict[str, Any], budget_seconds: float) -> Invocation: ...

    def close(self) -> None: ...


# Where an invocation's log lines go (FunctionLogs.publish: the function's log group).
Publish = Callable[[Any, Invocation], None]


class WorkQueueDrain:
    """Drains the work queue with the worker's environments, one poller each."""

    def __init__(
        self,
        sqs: Any,
        config: MappingConfig,
        *,
        dead_letter_queue_url: str,
        environments: Sequence[Environment],
        publish: Publish,
        budget_seconds: float,
    ) -> None:
        if not environments:
            raise ValueError("at least one worker environment")
        self._sqs = sqs
        self._queue_url = config.queue_url
        self._dead_letter_queue_url = dead_letter_queue_url
        self.config = replace(config, max_concurrency=len(environments))
        self._environments = list(environments)
        self._publish = publish
        self._budget = budget_seconds
        self._on_batch: Callable[[Batch], None] | None = None
        self._lock = threading.Lock()
        self._current = threading.local()
        self._fatal: BaseException | None = None
        self._stopping = False
        self._progress = _Progress()
        # account -> ids of its records reported failed and not received since (across ticks)
        self.waiting: dict[str, set[str]] = {}
        # message id -> account, of the messages SQS moved to the dead-letter queue
        self.dead_letters: dict[str, str] = {}

    def run(
        self,
        *,
        timeout: float,
        wait_for: Collection[str] = (),
        retry_wait_seconds: float = 0.0,
        on_batch: Callable[[Batch], None] | None = None,
    ) -> DrainResult:
        """Run the pollers until nothing can be received (see the module's docstring);
        `on_batch` is called (in a poller's thread) with each batch once it is answered."""
        started = time.monotonic()
        self._on_batch = on_batch
        self._progress = _Progress(last_answered=started)
        wait_until = started + retry_wait_seconds
        mapping = EventSourceMapping(
            _WatchedSqs(self._sqs, self._received),
            self.config,
            [self._invoker(slot, env) for slot, env in enumerate(self._environments)],
            on_batch=self._answered,
        )

        def settled() -> bool:
            return self._settled(wait_for, wait_until)

        while True:
            remaining = started + timeout - time.monotonic()
            if remaining <= 0:
                raise SandboxError(f"the work queue did not settle in {timeout:.0f} s")
            try:
                self._drain_interruptibly(mapping, remaining, settled)
            except TimeoutError as exc:
                raise SandboxError(f"the work queue did not settle in {timeout:.0f} s") from exc
            if self._fatal is not None:
                raise self._fatal
            # The pollers have stopped: a batch received after the decision has been answered
            # since, and may have left work that can be received.
            if settled() or self._depth() == (0, 0):
                break
        self._note_dead_letters()
        visible, in_flight = self._depth()
        with self._lock:
            return DrainResult(
                batches=list(self._progress.batches),
                waiting={a: len(ids) for a, ids in sorted(self.waiting.items()) if ids},
                dead_letters=dict(sorted(Counter(self.dead_letters.values()).items())),
                visible=visible,
                in_flight=in_flight,
                seconds=time.monotonic() - started,
                waited_for_retries=self._progress.waited_for_retries,
            )

    def _drain_interruptibly(
        self, mapping: EventSourceMapping, timeout: float, until: Callable[[], bool]
    ) -> None:
        """mapping.drain in a thread of its own: on Ctrl-C (or SIGTERM) the environments are
        stopped at once, as the sandbox's other subprocesses are, rather than after their
        invocations end (the mapping waits for its pollers)."""
        errors: list[BaseException] = []

        def drain() -> None:
            try:
                mapping.drain(timeout=timeout, until=until)
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=drain, name="work-queue-drain", daemon=True)
        thread.start()
        try:
            while thread.is_alive():
                thread.join(0.2)
        except BaseException:
            self._stopping = True  # no new invocation; the pollers stop after their current one
            for environment in self._environments:
                environment.close()
            thread.join(10)
            raise
        if errors:
            raise errors[0]

    def _note_dead_letters(self) -> None:
        """SQS moves a record to the dead-letter queue on the receive after its last allowed
        one, unseen by the pollers: the records found there are no longer waiting."""
        visible, in_flight = queue_depth(self._sqs, self._dead_letter_queue_url)
        if visible + in_flight <= len(self.dead_letters):
            return
        found = {
            str(message["MessageId"]): account_of(str(message.get("Body", ""))) or "?"
            for message in peek_messages(self._sqs, self._dead_letter_queue_url)
        }
        with self._lock:
            self.dead_letters.update(found)
            for ids in self.waiting.values():
                ids.difference_update(found)

    # -- the pollers' side ----------------------------------------------------------------------

    def _invoker(self, slot: int, environment: Environment) -> Invoke:
        def invoke(event: dict[str, Any]) -> Any:
            if self._stopping:
                raise FunctionError("the sandbox is stopping")
            started_at = datetime.now(UTC)
            try:
                invocation = environment.invoke(event, self._budget)
            except SandboxError as exc:  # the environment could not start: stop the drain
                with self._lock:
                    self._fatal = exc
                raise
            self._publish(environment, invocation)
            self._current.batch = (slot, started_at, invocation)
            if not invocation.ok:
                raise FunctionError(invocation.error or "function error")
            return invocation.result

        return invoke

    def _received(self, started: float, got_messages: bool) -> None:
        with self._lock:
            if got_messages:
                self._progress.received += 1
            else:
                self._progress.last_empty_receive = max(self._progress.last_empty_receive, started)

    def _answered(self, event: dict[str, Any], response: Any, elapsed: float) -> None:
        """Called by the poller after the mapping deleted the batch's done records."""
        records = event.get("Records", [])
        current = getattr(self._current, "batch", None)
        self._current.batch = None
        failed = None if isinstance(response, BaseException) else failed_ids(response, self.config)
        message_ids = [str(record["messageId"]) for record in records]
        failed_set = set(message_ids) if failed is None else failed
        accounts = [account_of(str(record.get("body", ""))) for record in records]
        batch = None
        if current is not None:
            slot, started_at, invocation = current
            batch = Batch(slot, started_at, invocation, message_ids, accounts, failed_set)
        with self._lock:
            for message_id, account in zip(message_ids, accounts, strict=True):
                key = account or "?"
                if message_id in failed_set:
                    self.waiting.setdefault(key, set()).add(message_id)
                else:
                    self.waiting.get(key, set()).discard(message_id)
            if batch is not None:
                self._progress.batches.append(batch)
            self._progress.answered += 1
            self._progress.last_answered = time.monotonic()
        if batch is not None and self._on_batch is not None:
            self._on_batch(batch)

    def _settled(self, wait_for: Collection[str], wait_until: float) -> bool:
        with self._lock:
            progress = self._progress
            if self._fatal is not None or self._stopping:
                return True
            if progress.received != progress.answered:
                return False  # a batch is being worked on
            if progress.last_empty_receive <= progress.last_answered:
                return False  # no receive has found the queue idle since the last answer
            waiting = {account for account, ids in self.waiting.items() if ids}
            if set(wait_for) & waiting and time.monotonic() < wait_until:
                progress.waited_for_retries = True
                return False
            return True

    def _depth(self) -> tuple[int, int]:
        return queue_depth(self._sqs, self._queue_url)


def stack_drain(
    stack: DeployedStack,
    workers: Sequence[FunctionRunner],
    *,
    function_logs: FunctionLogs,
    budget_seconds: float,
) -> WorkQueueDrain:
    """The drain of the deployed work queue, polled as the deployed mapping says."""
    return WorkQueueDrain(
        local_session(stack.region).client("sqs", endpoint_url=stack.endpoint_url),
        MappingConfig(
            queue_url=stack.work_queue_url,
            queue_arn=stack.mapping.queue_arn,
            region=stack.region,
            batch_size=stack.mapping.batch_size,
            max_concurrency=len(workers),
            report_batch_item_failures=stack.mapping.report_batch_item_failures,
        ),
        dead_letter_queue_url=stack.dead_letter_queue_url,
        environments=workers,
        publish=function_logs.publish,
        budget_seconds=budget_seconds,
    )


def account_of(body: str) -> str | None:
    """The account a work request asks for (None: not a work request)."""
    try:
        document: Any = json.loads(body)
    except ValueError:
        return None
    account = document.get("accountId") if isinstance(document, dict) else None
    return account if isinstance(account, str) else None


def queue_depth(sqs: Any, queue_url: str) -> tuple[int, int]:
    """(visible, in flight) messages, as SQS reports them."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes.get("ApproximateNumberOfMessages", 0)),
        int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
    )


def peek_messages(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message of the queue, as the console's "poll for messages" shows them: received
    (which counts as a receive), then made visible again at once."""
    seen: dict[str, dict[str, Any]] = {}
    handles: list[str] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=PEEK_VISIBILITY_SECONDS,
            AttributeNames=["All"],
        ).get("Messages", [])
        new = [message for message in messages if message["MessageId"] not in seen]
        handles.extend(message["ReceiptHandle"] for message in messages)
        if not new:
            break
        seen.update((message["MessageId"], message) for message in new)
    for start in range(0, len(handles), 10):
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for index, handle in enumerate(handles[start : start + 10])
            ],
        )
    return list(seen.values())
