"""Generic server-side validation of a request against its botocore input shape.

Messages follow the AWS (Coral) style, e.g. ``Member must have value less than or equal
to 1000``. Member paths are dotted, list elements indexed: ``filters.jobIDs[0]``.
Patterns are matched against the whole value (anchored), as AWS services do.
Unknown members are ignored and JSON ``null`` counts as absent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_MAX_ECHO = 256

_Report = Callable[[str], None]


@dataclass(frozen=True)
class FieldProblem:
    name: str
    message: str
    value: Any
    sensitive: bool = False

    def describe(self) -> str:
        if self.value is None:
            shown = "null"
        elif self.sensitive:
            shown = "'***'"
        else:
            text = str(self.value)
            shown = "'" + (text if len(text) <= _MAX_ECHO else text[:_MAX_ECHO] + "...") + "'"
        return f"Value {shown} at '{self.name}' failed to satisfy constraint: {self.message}"


def summary(problems: list[FieldProblem]) -> str:
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    details = "; ".join(problem.describe() for problem in problems)
    return f"{count} validation {noun} detected: {details}"


def validate(shape: StructureShape, params: Any) -> list[FieldProblem]:
    """All constraint violations of ``params`` (the decoded JSON body) against ``shape``."""
    problems: list[FieldProblem] = []
    if not isinstance(params, dict):
        problems.append(FieldProblem("", "Member must be a structure", params))
        return problems
    _structure(shape, params, "", problems)
    return problems


def validate_value(shape: Shape, value: Any, path: str) -> list[FieldProblem]:
    """All constraint violations of one ``value`` against ``shape`` (any kind), named from
    ``path``: how the store checks a structured value it is given, such as an SSM document's
    parameters."""
    problems: list[FieldProblem] = []
    _value(shape, value, path, problems)
    return problems


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _join(path: str, member: str) -> str:
    return f"{path}.{member}" if path else member


def _structure(
    shape: StructureShape, value: dict[str, Any], path: str, out: list[FieldProblem]
) -> None:
    for member in shape.required_members:
        if value.get(member) is None:
            out.append(FieldProblem(_join(path, member), "Member must not be null", None))
    for member, member_shape in shape.members.items():
        if value.get(member) is not None:
            _value(member_shape, value[member], _join(path, member), out)


def _value(shape: Shape, value: Any, path: str, out: list[FieldProblem]) -> None:
    sensitive = bool(shape.metadata.get("sensitive", False))

    def problem(message: str) -> None:
        out.append(FieldProblem(path, message, value, sensitive))

    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            problem("Member must be a structure")
        else:
            assert isinstance(shape, StructureShape)
            _structure(shape, value, path, out)
    elif kind == "list":
        if not isinstance(value, list):
            problem("Member must be a list")
            return
        _length(shape, len(value), problem)
        assert isinstance(shape, ListShape)
        for index, element in enumerate(value):
            if element is None:
                out.append(FieldProblem(f"{path}[{index}]", "Member must not be null", None))
            else:
                _value(shape.member, element, f"{path}[{index}]", out)
    elif kind == "map":
        if not isinstance(value, dict):
            problem("Member must be a map")
            return
        _length(shape, len(value), problem)
        assert isinstance(shape, MapShape)
        for key, element in value.items():
            _value(shape.key, key, f"{path}.key", out)
            if element is None:
                out.append(FieldProblem(f"{path}.{key}", "Member must not be null", None))
            else:
                _value(shape.value, element, f"{path}.{key}", out)
    elif kind == "string":
        _string(shape, value, problem)
    elif kind in ("integer", "long"):
        low, high = _INT32 if kind == "integer" else _INT64
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            problem(f"Member must be of type {kind}")
            return
        _range(shape, value, problem)
    elif kind == "boolean":
        if not isinstance(value, bool):
            problem("Member must be of type boolean")
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            problem(f"Member must be of type {kind}")
            return
        _range(shape, value, problem)
    elif kind == "timestamp":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            problem("Member must be of type timestamp")
    elif kind == "blob" and not isinstance(value, str):
        problem("Member must be of type blob (base64 string)")


def _string(shape: Shape, value: Any, problem: _Report) -> None:
    if not isinstance(value, str):
        problem("Member must be of type string")
        return
    _length(shape, len(value), problem)
    enum = shape.metadata.get("enum")
    if enum and value not in enum:
        problem("Member must satisfy enum value set: [" + ", ".join(enum) + "]")
    pattern = shape.metadata.get("pattern")
    if pattern is not None and _compiled(pattern).fullmatch(value) is None:
        problem(f"Member must satisfy regular expression pattern: {pattern}")


def _length(shape: Shape, length: int, problem: _Report) -> None:
    low = shape.metadata.get("min")
    high = shape.metadata.get("max")
    if low is not None and length < low:
        problem(f"Member must have length greater than or equal to {low}")
    if high is not None and length > high:
        problem(f"Member must have length less than or equal to {high}")


def _range(shape: Shape, value: float, problem: _Report) -> None:
    low = shape.metadata.get("min")
    high = shape.metadata.get("max")
    if low is not None and value < low:
        problem(f"Member must have value greater than or equal to {low}")
    if high is not None and value > high:
        problem(f"Member must have value less than or equal to {high}")
