"""Which jobs an account's export reads: new ones DescribeJobs lists, and the state of those
already open."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from mgn_exporter.checkpoint import STATE_BUDGET_BYTES, AccountState
from mgn_exporter.metric_names import WorkerCounters, WorkerMetric
from mgn_exporter.mgn_reader import mgn_timestamp

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

    from mgn_exporter.mgn_reader import MgnReader

# Closed jobs are remembered a day longer than discovery could list them again (clock skew).
CLOSED_MEMORY = timedelta(days=1)


@dataclass(frozen=True)
class Discovery:
    """What one discovery learnt besides the state it updated."""

    # The open jobs as DescribeJobs answered this time (a job missed this time is absent):
    # their participatingServers hold the launches and post-launch actions (post_launch.py).
    records: dict[str, dict[str, Any]]
    # The source servers the open jobs name: the servers their items will name, which the
    # names can be read for in one go.
    servers: set[str]


def discover_jobs(
    state: AccountState,
    reader: MgnReader,
    *,
    now: datetime,
    backfill: timedelta,
    overlap: timedelta,
    counters: WorkerCounters,
    logger: Logger,
) -> Discovery:
    """Admit the jobs created since the watermark (less `overlap`) into `state`, refresh the
    status of the open jobs the listing did not include, and forget closed jobs no listing can
    return any more. New jobs wait when the state item is full (counted as deferred).
    """
    start = state.discovery_start(now, backfill, overlap)
    listed_jobs = reader.jobs_since(state.account_id, start)
    listed = {str(job["jobID"]) for job in listed_jobs}
    for job in listed_jobs:
        job_id = str(job["jobID"])
        if job_id in state.jobs:
            state.jobs[job_id] = state.jobs[job_id].with_job(job)
    known_before = set(state.jobs)
    watermark = state.admit(listed_jobs, now, max_bytes=STATE_BUDGET_BYTES)
    for job_id in set(state.jobs) - known_before:
        logger.info("New job discovered", extra={"jobID": job_id})
    deferred = len(listed - set(state.jobs) - set(state.closed))
    if deferred:
        counters[WorkerMetric.JOBS_DEFERRED] += deferred
        logger.warning(
            "The state item is full of open jobs: newer jobs wait for the next discoveries",
            extra={"deferred": deferred, "open": len(state.jobs)},
        )
    refreshed = _refresh_unlisted(state, reader, listed)
    if watermark is not None:
        state.watermark = mgn_timestamp(watermark)
    state.forget_closed_before((watermark or now) - overlap - CLOSED_MEMORY)
    records = {
        str(job["jobID"]): job
        for job in [*listed_jobs, *refreshed]
        if str(job.get("jobID")) in state.jobs
    }
    for job_id in records:
        checkpoint = state.jobs[job_id]
        if checkpoint.completed and checkpoint.completed_seen is None:
            state.jobs[job_id] = replace(checkpoint, completed_seen=mgn_timestamp(now))
    return Discovery(records=records, servers=_servers_of(list(records.values())))


def _servers_of(jobs: list[dict[str, Any]]) -> set[str]:
    servers: set[str] = set()
    for job in jobs:
        for server in job.get("participatingServers") or []:
            server_id = server.get("sourceServerID") if isinstance(server, dict) else None
            if isinstance(server_id, str):
                servers.add(server_id)
    return servers


def _refresh_unlisted(
    state: AccountState, reader: MgnReader, listed: set[str]
) -> list[dict[str, Any]]:
    """Open jobs older than the listing's window are asked for by id; one not found counts a
    miss (after MISSES_BEFORE_GONE in a row it is gone: read to its end, then closed)."""
    older = [job_id for job_id in state.jobs if job_id not in listed]
    if not older:
        return []
    found = {str(job["jobID"]): job for job in reader.jobs_by_id(state.account_id, older)}
    for job_id in older:
        refreshed = found.get(job_id)
        job = state.jobs[job_id]
        state.jobs[job_id] = job.with_job(refreshed) if refreshed else job.not_found()
    return list(found.values())
