"""Modeled MGN errors as exceptions that know their rest-json wire form."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from local.mgn_emulator.model import error_shape, error_status


class ApiError(Exception):
    """An error answered as ``status`` + ``x-amzn-ErrorType: name`` + JSON body."""

    def __init__(
        self,
        name: str,
        message: str,
        *,
        status: int | None = None,
        fields: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message
        self.status = error_status(name) if status is None else status
        self.fields = dict(fields or {})
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message}
        shape = error_shape(self.name)
        if shape is not None and "code" in shape.members:
            body["code"] = self.name
        body.update(self.fields)
        return body


def validation_error(
    message: str, reason: str, field_list: Sequence[Mapping[str, str]] | None = None
) -> ApiError:
    fields: dict[str, Any] = {"reason": reason}
    if field_list is not None:
        fields["fieldList"] = [dict(field) for field in field_list]
    return ApiError("ValidationException", message, fields=fields)


def field_error(name: str, message: str, reason: str = "fieldValidationFailed") -> ApiError:
    """A ValidationException about one request member ``name``."""
    return validation_error(message, reason, [{"name": name, "message": message}])


def access_denied(account_id: str) -> ApiError:
    return ApiError(
        "AccessDeniedException", f"Not authorized to access account {account_id} in MGN"
    )


def uninitialized(account_id: str) -> ApiError:
    return ApiError(
        "UninitializedAccountException",
        f"Account {account_id} has not been initialized for Application Migration Service",
    )
