"""One Lambda execution environment in a process of its own: ``python -m local.faultsuite.worker``.

Like a Lambda execution environment, it does its init once (imports the handlers), then serves
invocations one at a time until its stdin closes, and can be killed at any instant (SIGKILL)
without warning. Its configuration is its environment, exactly as in Lambda.

Protocol, one JSON document a line:

* out, once ready: ``{"ready": true, "pid": 123}``;
* in: ``{"budgetMs": 3000, "requestId": "...", "handler": "worker", "event": {...}}``
  (handler: ``worker`` (default) or ``dispatcher``; event: the SQS batch or the schedule's);
* out: ``{"response": {...}, "report": {...}, "elapsedMs": 812.4, "budgetMs": 3000}``, or
  ``{"error": "...", "report": ..., "elapsedMs": ..., "budgetMs": ...}`` when the handler raised.
  ``response`` is what the handler returned (the worker's partial batch response); ``report``
  is the run summary the function logged ("Batch finished" / "Work dispatched"), read from its
  log records as an operator reads them in CloudWatch Logs: the Lambda code has no test hook.

The protocol has the process's stdout to itself: the exporter's own logs and metrics (which
Powertools prints to stdout) go to stderr.

One knob, outside the function's configuration: ``FAULTSUITE_ENRICHMENT_RETRY_SECONDS`` sets
the pause after a failed inventory read (``mgn_exporter.enrichment.RETRY_AFTER_FAILURE_SECONDS``,
300 s of the environment's wall clock, which the suite does not control), scaled down like the
suite's other waits, for the scenario that waits it out (``inventory-outage``). Unset, the
exporter's own pause stands.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import IO, Any

# The log lines that summarise one invocation, per handler.
SUMMARY_MESSAGES = ("Batch finished", "Work dispatched", "Export run finished")
# Attributes every logging.LogRecord has: what remains are the summary's fields.
_RECORD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class SummaryCapture(logging.Handler):
    """Keeps the fields of the last summary line the function logged."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.summary: dict[str, Any] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() in SUMMARY_MESSAGES:
            self.summary = {
                key: value for key, value in vars(record).items() if key not in _RECORD_ATTRIBUTES
            }


def _claim_stdout() -> IO[str]:
    """Keep the real stdout for the protocol; everything else printing to stdout goes to stderr."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    return protocol


def serve(protocol: IO[str], commands: IO[str]) -> None:
    # Imported only now, after stdout is claimed: Powertools binds its stream at import.
    from local.sandbox.lambda_context import LocalLambdaContext
    from mgn_exporter.dispatcher_handler import handler as dispatcher_handler
    from mgn_exporter.observability import logger
    from mgn_exporter.worker_handler import handler as worker_handler

    _scale_enrichment_pause(os.environ.get("FAULTSUITE_ENRICHMENT_RETRY_SECONDS", "").strip())
    handlers = {"worker": worker_handler, "dispatcher": dispatcher_handler}
    capture = SummaryCapture()
    logging.getLogger(logger.name).addHandler(capture)
    account = os.environ.get("FAULTSUITE_OWN_ACCOUNT", "111111111111")
    region = os.environ.get("AWS_REGION", "us-east-1")
    _send(protocol, {"ready": True, "pid": os.getpid()})
    for line in commands:
        if not line.strip():
            continue
        command = json.loads(line)
        budget_ms = int(command["budgetMs"])
        handler = handlers[str(command.get("handler", "worker"))]
        event = command.get("event") or {"Records": []}
        context = LocalLambdaContext(budget_ms=budget_ms, account_id=account, region=region)
        if command.get("requestId"):
            context.aws_request_id = str(command["requestId"])
        capture.summary = None
        # The budget runs from here, as Lambda's does from the invocation (init is done).
        started = context.started = time.monotonic()
        answer: dict[str, Any]
        try:
            answer = {"response": handler(event, context)}
        except Exception as exc:  # the invocation failed; the environment lives on
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        answer["elapsedMs"] = round((time.monotonic() - started) * 1000, 1)
        answer["budgetMs"] = budget_ms
        answer["report"] = capture.summary
        _send(protocol, answer)


def _scale_enrichment_pause(seconds: str) -> None:
    """Set the pause after a failed inventory read (read at each read: the module's global)."""
    if not seconds:
        return
    from mgn_exporter import enrichment

    enrichment.RETRY_AFTER_FAILURE_SECONDS = int(seconds)


def _send(protocol: IO[str], document: dict[str, Any]) -> None:
    protocol.write(json.dumps(document, default=str) + "\n")
    protocol.flush()


def main() -> int:
    protocol = _claim_stdout()
    serve(protocol, sys.stdin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
