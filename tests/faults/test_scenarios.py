"""Each guarantee proved by a scenario that injects its fault over the wire and counts, item by
item and derived event by derived event, what reached both sinks (see faultsuite.scenarios;
tests/faults/test_derived.py checks the derived events' ledger itself).

The quick, seeded subset runs by default (CI); the full set is marked slow:

    .venv/bin/pytest tests/faults -m slow -s      # or: .venv/bin/python -m local.faultsuite
"""

from __future__ import annotations

from pathlib import Path

import pytest

from local.faultsuite.ledger import Result
from local.faultsuite.scenarios import SCENARIOS, Options, Scenario

QUICK_SEED = 7
FULL_SEEDS = (7,)


def check(results: list[Result], workdir: Path) -> None:
    for result in results:
        print(result.line())  # the summary line, shown with -s
    failed = [r for r in results if not r.ok]
    assert not failed, "\n".join(
        [f"{r.line()}\n  " + "\n  ".join(r.problems) for r in failed]
        + [f"exporter logs in {workdir}"]
    )


@pytest.mark.timeout(240)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_quick(scenario: Scenario, fault_moto: str, fault_workdir: Path) -> None:
    options = Options(fault_moto, QUICK_SEED, full=False, workdir=fault_workdir)
    check(scenario.run(options), fault_workdir)


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("seed", FULL_SEEDS)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_full(scenario: Scenario, seed: int, fault_moto: str, fault_workdir: Path) -> None:
    options = Options(fault_moto, seed, full=True, workdir=fault_workdir)
    check(scenario.run(options), fault_workdir)
