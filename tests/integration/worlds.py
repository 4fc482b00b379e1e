"""Builders of MGN activity in the emulator for the integration tests."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from local.mgn_emulator import MgnEmulator
from local.mgn_emulator.worlds import job_log


def add_job(
    emu: MgnEmulator,
    account_id: str,
    count: int,
    *,
    completed: bool = True,
    initiated_by: str = "START_TEST",
    created: datetime | None = None,
    seed: int = 1,
    fail_every: int = 0,
) -> str:
    rng = random.Random(seed)
    created = created or datetime.now(UTC) - timedelta(minutes=30)
    job_id = emu.add_job(account_id, initiated_by=initiated_by, status="STARTED", created=created)
    log = job_log(count, start=created, rng=rng, fail_every=fail_every)
    emu.append_items(account_id, job_id, log)
    if completed:
        emu.set_job_status(account_id, job_id, "COMPLETED")
    return job_id


def grow(emu: MgnEmulator, account_id: str, job_id: str, count: int, *, seed: int = 1) -> None:
    """`count` more items at the end of a job's log, logged now."""
    emu.append_items(
        account_id, job_id, job_log(count, start=datetime.now(UTC), rng=random.Random(seed))
    )
