"""The stack's saved Logs Insights queries, run against the event log group in moto.

The QueryDefinition resources cannot be created in moto, so the queries are read from the
template. moto 5.2.5 runs a small subset of the query language: the ``fields``, ``sort`` and
``limit`` commands, on the ``@timestamp``, ``@message``, ``@logStream`` and ``@log`` fields,
sorted by time only. It skips every other command (``filter``, ``stats``, ``parse``...) and
field (the JSON keys of the lines, functions such as ``toMillis``) without an error, and so
answers such a query with every event of the time range. Each query is run anyway, and what
moto could not run is listed with its answer, which is then not the query's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from local.sandbox.stack import SavedQuery

MOTO_COMMANDS = frozenset({"fields", "sort", "limit"})
MOTO_FIELDS = frozenset({"@timestamp", "@message", "@logStream", "@log", "@ptr"})
RESULT_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class QueryRun:
    title: str
    query: str
    unsupported: tuple[str, ...]
    rows: tuple[dict[str, str], ...]
    error: str | None = None

    @property
    def faithful(self) -> bool:
        """moto ran every part of the query: its rows are the query's answer."""
        return not self.unsupported and self.error is None


def split_commands(query: str) -> list[str]:
    """The query's commands: split on ``|`` outside quotes and brackets."""
    return [part.strip() for part in _split_top_level(query, "|") if part.strip()]


def unsupported_parts(query: str) -> tuple[str, ...]:
    """What moto would skip: commands, then fields, then sort keys."""
    commands: list[str] = []
    fields: list[str] = []
    sort_keys: list[str] = []
    for command in split_commands(query):
        word, _, rest = command.partition(" ")
        word = word.strip().lower()
        if word not in MOTO_COMMANDS:
            if word not in commands:
                commands.append(word)
        elif word == "fields":
            for part in _split_top_level(rest, ","):
                expression = part.strip().split(" as ")[0].strip()
                if expression and expression not in MOTO_FIELDS:
                    fields.append(expression)
        elif word == "sort":
            for part in _split_top_level(rest, ","):
                key = part.strip().split()[0] if part.strip() else ""
                if key and key != "@timestamp":
                    sort_keys.append(key)
    parts = list(commands)
    if fields:
        parts.append("fields " + ", ".join(fields))
    if sort_keys:
        parts.append("sort by " + ", ".join(sort_keys))
    return tuple(parts)


def run_saved_queries(
    logs: Any, queries: tuple[SavedQuery, ...], *, start_time: int, end_time: int
) -> list[QueryRun]:
    return [_run(logs, query, start_time, end_time) for query in queries]


def _run(logs: Any, saved: SavedQuery, start_time: int, end_time: int) -> QueryRun:
    title = saved.name.split("/", 1)[-1]
    unsupported = unsupported_parts(saved.query)
    try:
        query_id = logs.start_query(
            logGroupNames=list(saved.log_group_names),
            startTime=start_time,
            endTime=end_time,
            queryString=saved.query,
        )["queryId"]
        deadline = time.monotonic() + RESULT_TIMEOUT_SECONDS
        while True:
            response = logs.get_query_results(queryId=query_id)
            if response["status"] not in ("Scheduled", "Running"):
                break
            if time.monotonic() > deadline:
                return QueryRun(title, saved.query, unsupported, (), "no result in time")
            time.sleep(0.1)
    except Exception as exc:  # moto may reject what it cannot parse: say so, go on
        return QueryRun(title, saved.query, unsupported, (), f"{type(exc).__name__}: {exc}")
    if response["status"] != "Complete":
        return QueryRun(title, saved.query, unsupported, (), f"status {response['status']}")
    rows = tuple(
        {cell["field"]: cell["value"] for cell in row} for row in response.get("results", [])
    )
    return QueryRun(title, saved.query, unsupported, rows)


def _split_top_level(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    quote: str | None = None
    current: list[str] = []
    for char in text:
        if quote:
            if char == quote:
                quote = None
        elif char in "\"'`":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts
