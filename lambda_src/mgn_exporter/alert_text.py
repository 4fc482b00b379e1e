"""The alert a person reads: an exported event as an email subject and a few plain lines.

Pure. EventBridge's input transformer cannot leave out a line whose field is missing, and its
text output keeps every line in quotes on SNS email, so the alert rules hand the event to a
small function (alert_handler.py) that writes the message with this module.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mgn_exporter.derived_events import JOB_OUTCOME, POST_LAUNCH_ACTION

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
    detail_type = _text(detail.get("detailType"))
    if detail_type == JOB_OUTCOME:
        return _outcome_text(detail)
    if detail_type == POST_LAUNCH_ACTION:
        return _action_text(detail)
    data = _mapping(detail.get("eventData"))
    where = _Where.of(detail, data.get("sourceServerID"))
    server, application, wave = where.server, where.application, where.wave
    subject = _headline(detail) + (f": {where.who}" if where.who else "") + where.groups()
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


# An outcome lists this many failed servers; the event in the log group has them all.
LISTED_SERVERS = 20
SERVER_ERROR_LIMIT = 300


def _outcome_text(detail: Mapping[str, Any]) -> tuple[str, str]:
    """A job's outcome: how many servers launched, which failed and why."""
    kind = _JOBS.get(_text(detail.get("initiatedBy")) or "", "job")
    servers = [_mapping(s) for s in detail.get("participatingServers") or []]
    failed = [s for s in servers if s.get("launchStatus") == "FAILED"]
    total = detail.get("serversTotal")
    waves = sorted({w for s in servers if (w := _text(_mapping(s.get("wave")).get("name")))})
    subject = f"MGN {kind} finished: {len(failed)} of {total} servers failed"
    if not failed:
        subject = f"MGN {kind} finished: post-launch actions failed"
    if waves:
        subject += f" ({', '.join(waves)})"
    actions = _mapping(detail.get("postLaunchActions"))
    lines = [
        subject,
        "",
        _line("Account", _joined(detail.get("accountID"), detail.get("region"), sep=", ")),
        _line("Job", _job_line(detail)),
        _line("Ended", _text(detail.get("endDateTime"))),
        _line(
            "Servers",
            f"{total} ({detail.get('serversLaunched')} launched, "
            f"{detail.get('serversFailed')} failed)",
        ),
        _line(
            "Post-launch actions",
            f"{actions.get('failed', 0)} failed ({actions.get('mustSucceedFailed', 0)} that must "
            f"succeed for cutover) of {actions.get('total', 0)}"
            if actions.get("total")
            else None,
        ),
        *(_line("Failed", _failed_server_line(server)) for server in failed[:LISTED_SERVERS]),
        _line("More failed", str(len(failed) - LISTED_SERVERS))
        if len(failed) > LISTED_SERVERS
        else None,
        _line("Console", console_link(detail)),
        _line("Event id", _text(detail.get("eventId"))),
    ]
    return _subject(subject), "\n".join(line for line in lines if line is not None)


def _failed_server_line(server: Mapping[str, Any]) -> str | None:
    names = _mapping(server.get("sourceServer"))
    who = _server_line(names, server)
    failure = _mapping(server.get("failure"))
    why = _joined(
        failure.get("event"), _clip(_text(failure.get("rawError")), SERVER_ERROR_LIMIT), sep=": "
    )
    return _joined(who, why, sep=" - ")


def _action_text(detail: Mapping[str, Any]) -> tuple[str, str]:
    """A post-launch action that reached a status (the rules send the failed ones)."""
    action = _mapping(detail.get("postLaunchAction"))
    where = _Where.of(detail, detail.get("sourceServerID"))
    server, application, wave = where.server, where.application, where.wave
    status = (_text(detail.get("status")) or "changed").lower().replace("_", " ")
    name = _text(action.get("actionName")) or _text(action.get("ssmDocumentName")) or "an action"
    subject = f"MGN post-launch action {status}: {name}"
    subject += (f" on {where.who}" if where.who else "") + where.groups()
    must = action.get("mustSucceedForCutover")
    lines = [
        subject,
        "",
        _line("Server", _server_line(server, detail)),
        _line("Application", application),
        _line("Wave", wave),
        _line("Account", _joined(detail.get("accountID"), detail.get("region"), sep=", ")),
        _line("Job", _job_line(detail)),
        _line(
            "Action",
            _joined(
                name,
                _joined(action.get("ssmDocumentName"), action.get("ssmDocumentType"), sep=", "),
                sep=" - ",
            ),
        ),
        _line(
            "Must succeed for cutover",
            {True: "yes", False: "no"}.get(must) if isinstance(must, bool) else None,
        ),
        _line("Execution", _text(action.get("executionID"))),
        _line("Instance", _text(detail.get("launchedEc2InstanceID"))),
        _line("Reason", _clip(_text(action.get("failureReason")), ERROR_LIMIT)),
        _line("Seen at", _text(detail.get("observedDateTime"))),
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


@dataclass(frozen=True)
class _Where:
    """The server an event is about, as people name it, and its application and wave."""

    server: Mapping[str, Any]
    who: str | None
    application: str | None
    wave: str | None

    @classmethod
    def of(cls, detail: Mapping[str, Any], server_id: object) -> _Where:
        server = _mapping(detail.get("sourceServer"))
        who = _text(server.get("hostname")) or _text(server.get("name")) or _text(server_id)
        return cls(
            server=server,
            who=who,
            application=_text(_mapping(detail.get("application")).get("name")),
            wave=_text(_mapping(detail.get("wave")).get("name")),
        )

    def groups(self) -> str:
        """ " (application, wave)" for a subject, or nothing."""
        named = [part for part in (self.application, self.wave) if part]
        return f" ({', '.join(named)})" if named else ""


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
