"""Settings shared by every test layer."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from mgn_exporter.clients import forget_clients

# Powertools: no X-Ray daemon here, and a fixed service name for the EMF output.
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "mgn-job-log-exporter")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "MgnJobLogExporterTest")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
# Never reach a real AWS account from a test.
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ.pop("AWS_SESSION_TOKEN", None)
os.environ.pop("AWS_PROFILE", None)
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(autouse=True)
def fresh_clients() -> Iterator[None]:
    """Each test's exporter builds its own clients: a world started on ports an earlier test
    used must not meet that test's connections or the inventories its clients kept."""
    forget_clients()
    yield
    forget_clients()
