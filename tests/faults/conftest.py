"""The fault suite under pytest: one moto server for the session, the exporter's logs kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from local.faultsuite.cloud import moto_server


@pytest.fixture(scope="session")
def fault_moto() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(scope="session")
def fault_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each scenario's exporter processes write their logs (printed on failure)."""
    return tmp_path_factory.mktemp("faultsuite")
