"""Every metric the functions emit, named once.

The code counts with these names and emits every one of them each run (zeros included), and the
stack's alarms and dashboard read them from here: a metric cannot be counted and never emitted,
nor alarmed under a name the code does not use.
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum


class WorkerMetric(StrEnum):
    """Counters of a worker run (an SQS batch of accounts), emitted as Count metrics."""

    ITEMS_EXPORTED = "ItemsExported"
    # Job outcomes and post-launch action statuses (derived events) that reached a sink first.
    DERIVED_EVENTS = "DerivedEventsExported"
    PUBLISH_RETRIES = "PublishRetries"
    FAILED_ENTRIES = "FailedEntries"
    ACCOUNTS_FAILED = "AccountsFailed"
    ACCOUNTS_SKIPPED = "AccountsSkipped"
    # Accounts newly found with MGN not initialized in the Region: a state, not a failure.
    ACCOUNTS_UNINITIALIZED = "AccountsUninitialized"
    # Account exports whose PutEvents calls failed as a whole after retries (the bus
    # unavailable, AccessDenied, KMS), and those whose CloudWatch Logs write failed.
    EVENTS_DELIVERY_FAILED = "EventsDeliveryFailed"
    LOGS_DELIVERY_FAILED = "LogsDeliveryFailed"
    JOBS_FAILED = "JobsFailed"
    # Jobs discovery left for a later run (the account's state item is full).
    JOBS_DEFERRED = "JobsDeferred"
    THROTTLES = "Throttles"
    TOKENS_REJECTED = "TokensRejected"
    # A job log changed under the checkpoint (items shifted): the export may have gaps or repeats.
    LOG_SHIFTS = "LogShifts"
    LOG_EVENTS_RESTAMPED = "LogEventsRestamped"
    ODD_ITEMS = "OddItems"
    # Events that named a source server but went out without its names, application and wave
    # (the account's inventory could not be read: throttled, denied, no time left).
    EVENTS_NOT_ENRICHED = "EventsNotEnriched"
    LEASES_LOST = "LeasesLost"
    REQUESTS_COVERED = "RequestsCovered"
    HAND_ONS = "HandOns"
    HAND_ONS_FAILED = "HandOnsFailed"
    BAD_MESSAGES = "BadMessages"


class DispatcherMetric(StrEnum):
    """Counters of a dispatcher run (a tick)."""

    ACCOUNTS_DISPATCHED = "AccountsDispatched"
    MANAGED_ACCOUNTS_UNAVAILABLE = "ManagedAccountsUnavailable"


# Per worker run, the largest over its accounts of the seconds since the account's last export
# that did not fail (Maximum is the statistic that means something).
ACCOUNT_STALENESS_SECONDS = "AccountStalenessSeconds"

# How long each step took (job_steps.py), from the items' own times: one metric with the
# dimensions step (JOB, SNAPSHOT, CONVERSION, LAUNCH, CLEANUP) and initiatedBy, a few values of
# each low-cardinality pair per run.
STEP_DURATION_SECONDS = "StepDurationSeconds"


class StepDurations(dict[tuple[str, str], list[float]]):
    """(step, initiatedBy) -> the durations (seconds) a run saw reach a sink first."""


# A run's counts: typed by the enum, so that counting under a name that is not emitted does not
# type-check.
WorkerCounters = Counter[WorkerMetric]
DispatcherCounters = Counter[DispatcherMetric]
