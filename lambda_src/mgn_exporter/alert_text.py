"""The alert a person reads: an exported event as an email subject and a few plain lines.

Pure. EventBridge's input transformer cannot leave out a line whose field is missing, and its
text output keeps every line in quotes on SNS email, so the alert rules hand the event to a
small function (alert_handler.py) that writes the message with this module.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# SNS: a subject is at most 100 printable ASCII characters, on one line.
SUBJECT_LIMIT = 100
# A rawError can be long (a stack of reasons); the event in the log group keeps all of it.
ERROR_LIMIT = 2000

_STEPS = {
    "SNAPSHOT_FAIL": "snapshot failed",
    "CONVERSION_FAIL": "conversion failed",
    "LAUNCH_FAILED": "launch failed",
    "CLEANUP_FAIL": "cleanup failed",
    "JOB_CANCEL": "job cancelled",
}
_JOBS = {"START_CUTOVER": "cutover", "START_TEST": "test", "TERMINATE": "terminate"}


def alert_text(event: Mapping[str, Any]) -> tuple[str, str]:
    """(subject, message) for one EventBridge event of the exporter."""
    detail = _mapping(event.get("detail"))
    data = _mapping(detail.get("eventData"))
    server = _mapping(detail.get("sourceServer"))
    application = _text(_mapping(detail.get("application")).get("name"))
    wave = _text(_mapping(detail.get("wave")).get("name"))
    who = _text(server.get("hostname")) or _text(server.get("name"))
    who = who or _text(data.get("sourceServerID"))
    headline = _headline(detail)
    subject = headline + (f": {who}" if who else "")
    if application or wave:
        subject += f" ({', '.join(part for part in (application, wave) if part)})"
    lines = [
        subject,
        "",
        _line("Server", _server_line(server, data)),
        _line("Application", application),
        _line("Wave", wave),
        _line("Account", _joined(detail.get("accountID"), detail.get("region"), sep=", ")),
        _line("Job", _job_line(detail)),
        _line("Step", _step_line(detail, data)),
        _line("Target instance", _text(data.get("targetInstanceID"))),
        _line("Conversion server", _text(data.get("conversionServerID"))),
        _line("Error", _clip(_text(data.get("rawError")), ERROR_LIMIT)),
        _line("Console", console_link(detail)),
        _line("Event id", _text(detail.get("eventId"))),
    ]
    return _subject(subject), "\n".join(line for line in lines if line is not None)


def chat_notification(subject: str, message: str) -> dict[str, Any]:
    """The alert as Amazon Q Developer in chat applications (AWS Chatbot) takes a custom
    notification: it shows no plain-text SNS message, only this JSON shape."""
    body = message.split("\n", 2)[-1] if "\n\n" in message else message
    return {
        "version": "1.0",
        "source": "custom",
        "content": {"textType": "client-markdown", "title": subject, "description": body},
    }


def sns_message(subject: str, message: str) -> str:
    """One publish for every subscriber (MessageStructure json): the text for email, SQS and
    the rest, the custom notification for chat (whose endpoint is an HTTPS subscription)."""
    return json.dumps(
        {
            "default": message,
            "email": message,
            "https": json.dumps(chat_notification(subject, message)),
        }
    )


def console_link(detail: Mapping[str, Any]) -> str | None:
    """The MGN console's page of the job, in the event's Region (sign in to its account)."""
    region, job = _text(detail.get("region")), _text(detail.get("jobID"))
    if not region or not job:
        return None
    return f"https://{region}.console.aws.amazon.com/mgn/home?region={region}#/jobs/{job}"


def _headline(detail: Mapping[str, Any]) -> str:
    event = _text(detail.get("event")) or "an item"
    step = _STEPS.get(event, event)
    kind = _JOBS.get(_text(detail.get("initiatedBy")) or "")
    return f"MGN {kind} {step}" if kind else f"MGN {step}"


def _server_line(server: Mapping[str, Any], data: Mapping[str, Any]) -> str | None:
    hostname, fqdn = _text(server.get("hostname")), _text(server.get("fqdn"))
    server_id = _text(server.get("sourceServerID")) or _text(data.get("sourceServerID"))
    name = hostname or _text(server.get("name"))
    if fqdn and fqdn != name:
        name = f"{name} ({fqdn})" if name else fqdn
    return _joined(name, server_id, sep=", ")


def _job_line(detail: Mapping[str, Any]) -> str | None:
    job = _text(detail.get("jobID"))
    initiated = _text(detail.get("initiatedBy"))
    return f"{job} ({initiated})" if job and initiated else job


def _step_line(detail: Mapping[str, Any], data: Mapping[str, Any]) -> str | None:
    event = _text(detail.get("event"))
    if event is None:
        return None
    at = _text(detail.get("logDateTime"))
    line = f"{event} at {at}" if at else event
    attempt, attempts = data.get("attemptCount"), data.get("maxAttemptsCount")
    if isinstance(attempt, int) and isinstance(attempts, int):
        line += f" (attempt {attempt} of {attempts})"
    return line


def _line(label: str, value: str | None) -> str | None:
    return f"{label}: {value}" if value else None


def _joined(*parts: object, sep: str) -> str | None:
    present = [text for text in (_text(part) for part in parts) if text]
    return sep.join(present) or None


def _subject(text: str) -> str:
    printable = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    return _clip(printable, SUBJECT_LIMIT) or "MGN job log alert"


def _clip(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 3] + "..."


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
