"""Access to botocore's ``mgn`` service model, the source of truth for shapes and errors."""

from __future__ import annotations

from functools import cache

import botocore.session
from botocore.model import OperationModel, ServiceModel, StructureShape

SERVED_OPERATIONS = frozenset(
    {
        "ListManagedAccounts",
        "DescribeJobs",
        "DescribeJobLogItems",
        "DescribeSourceServers",
        "ListApplications",
        "ListWaves",
    }
)


@cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("mgn")


def operation_model(name: str) -> OperationModel:
    return service_model().operation_model(name)


def input_shape(operation: str) -> StructureShape:
    shape = operation_model(operation).input_shape
    if shape is None:  # pragma: no cover - every served operation has an input
        raise LookupError(f"{operation} has no input shape")
    return shape


def error_shape(name: str) -> StructureShape | None:
    """The modeled error shape called ``name`` (any error of the service), or None."""
    for shape in service_model().error_shapes:
        if shape.name == name and isinstance(shape, StructureShape):
            return shape
    return None


def error_status(name: str) -> int:
    """The HTTP status the model gives the error ``name`` (400 when not modeled)."""
    shape = error_shape(name)
    if shape is None:
        return 400
    error = shape.metadata.get("error", {})
    return int(error.get("httpStatusCode", 400))
