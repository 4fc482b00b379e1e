"""Lambda's invoke loop, in small: runs inside the function's "execution environment".

The sandbox starts this module as ``python -S -m sandbox.lambda_runner`` in a subprocess
whose ``sys.path`` is the code extracted from the deployed function (LAMBDA_TASK_ROOT), then
the virtualenv's site-packages (standing in for the Powertools layer and the runtime's boto3),
then the repository, for this module only. ``-S`` keeps the project's editable install (a
``.pth`` file) out, so ``mgn_exporter`` can only come from the deployed code.

Init: import the deployed ``Handler``, then answer ``{"ready": true, "handlerFile": ...}``.
Then, like Lambda's runtime API, one invocation per request line on stdin:
``{"requestId", "deadlineMs", "invokedFunctionArn", "event"}``; one response line each:
``{"requestId", "ok": true, "result"}`` or ``{"requestId", "ok": false, "errorType",
"errorMessage"}``. Responses go to the original stdout; the function's own stdout (Powertools'
JSON log lines, EMF metrics) and stderr go to this process's stderr, which the sandbox keeps
as the function's log, as Lambda does.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any, TextIO

from local.sandbox.lambda_context import LocalLambdaContext


def main() -> int:
    protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # whatever the function prints is its log, not the protocol
    try:
        handler = _load_handler(os.environ["_HANDLER"])
    except Exception as exc:
        traceback.print_exc()
        _send(protocol, {"ready": False, "errorType": type(exc).__name__, "errorMessage": str(exc)})
        return 1
    module = sys.modules[handler.__module__]
    _send(protocol, {"ready": True, "handlerFile": getattr(module, "__file__", None)})
    try:
        for line in sys.stdin:
            if line.strip():
                _send(protocol, _invoke(handler, json.loads(line)))
    except KeyboardInterrupt:
        return 130
    return 0


def _load_handler(spec: str) -> Any:
    module_name, _, function_name = spec.rpartition(".")
    return getattr(importlib.import_module(module_name), function_name)


def _invoke(handler: Any, request: dict[str, Any]) -> dict[str, Any]:
    arn = str(request["invokedFunctionArn"])
    _, _, _, region, account_id, _, function_name = arn.split(":")[:7]
    context = LocalLambdaContext(
        budget_ms=max(0, int(request["deadlineMs"] - time.time() * 1000)),
        account_id=account_id,
        region=region,
        function_name=function_name,
        function_version=os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        memory_limit_in_mb=int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")),
        aws_request_id=str(request["requestId"]),
        log_group_name=os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", ""),
        log_stream_name=os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", ""),
    )
    response: dict[str, Any] = {"requestId": request["requestId"]}
    try:
        response.update(ok=True, result=handler(request["event"], context))
    except Exception as exc:
        traceback.print_exc()
        response.update(ok=False, errorType=type(exc).__name__, errorMessage=str(exc))
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return response


def _send(stream: TextIO, message: dict[str, Any]) -> None:
    stream.write(json.dumps(message, default=str) + "\n")
    stream.flush()


if __name__ == "__main__":
    raise SystemExit(main())
