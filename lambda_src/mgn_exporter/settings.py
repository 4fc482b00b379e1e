"""Typed configuration of the two functions, read once from the environment.

The dispatcher needs the accounts and the work queue (DispatchSettings); the worker needs the
sinks, the checkpoint table and the work queue (Settings). Names that must come from the stack
have no defaults: a missing or bad one fails at cold start with an error naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

from mgn_exporter.config_rules import (
    InvalidValue,
    accounts,
    bounded_int,
    event_source,
    integer,
)

T = TypeVar("T")

# Read by the worker but never set by the stack: the local clouds' seconds-level overrides of
# the completed-job timings (see `_seconds`).
LOCAL_ONLY_VARIABLES = frozenset({"COMPLETED_JOB_GRACE_SECONDS", "POST_LAUNCH_WAIT_SECONDS"})


class SettingsError(ValueError):
    """A configuration variable is missing or invalid; the message names it."""


@dataclass(frozen=True)
class Settings:
    """What exporting an account needs (the worker)."""

    event_bus_name: str
    event_source: str
    log_group_name: str
    checkpoint_table_name: str
    # Where the worker hands on an account it could not finish (None: only for direct runs).
    work_queue_url: str | None = None
    backfill_days: int = 7
    discovery_overlap_minutes: int = 60
    deadline_margin_seconds: float = 10.0
    # First wait before a failed work request is tried again (doubling each time); 0 leaves it
    # to the queue's visibility timeout.
    retry_backoff_seconds: int = 0
    # How old an account's inventory (servers, applications, waves) may get before it is read
    # again; 0: events are not enriched.
    enrichment_refresh_minutes: int = 15
    # A completed job stays open this long after its end (items MGN makes readable late)...
    completed_job_grace_seconds: int = 15 * 60
    # ...and while its post-launch actions run, up to this long after its end.
    post_launch_wait_seconds: int = 60 * 60

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        return cls(
            event_bus_name=_required(env, "EVENT_BUS_NAME"),
            event_source=_checked("EVENT_SOURCE", event_source, _required(env, "EVENT_SOURCE")),
            log_group_name=_required(env, "EVENT_LOG_GROUP_NAME"),
            checkpoint_table_name=_required(env, "CHECKPOINT_TABLE_NAME"),
            work_queue_url=env.get("WORK_QUEUE_URL", "").strip() or None,
            backfill_days=_int(env, "BACKFILL_DAYS", 7),
            discovery_overlap_minutes=_int(env, "DISCOVERY_OVERLAP_MINUTES", 60),
            deadline_margin_seconds=float(_int(env, "DEADLINE_MARGIN_SECONDS", 10)),
            retry_backoff_seconds=_int(env, "RETRY_BACKOFF_SECONDS", 0),
            enrichment_refresh_minutes=_int(env, "ENRICHMENT_REFRESH_MINUTES", 15),
            completed_job_grace_seconds=_seconds(env, "COMPLETED_JOB_GRACE", 15),
            post_launch_wait_seconds=_seconds(env, "POST_LAUNCH_WAIT", 60),
        )


@dataclass(frozen=True)
class DispatchSettings:
    """What the dispatcher needs: which accounts, and the queue their work goes to."""

    # None means `auto`: the caller's own account plus ListManagedAccounts (MGN global view).
    accounts: tuple[str, ...] | None
    work_queue_url: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DispatchSettings:
        return cls(
            accounts=parse_accounts(_required(env, "ACCOUNTS")),
            work_queue_url=_required(env, "WORK_QUEUE_URL"),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Parse the environment once per execution environment (cold start)."""
    return Settings.from_env(os.environ)


@lru_cache(maxsize=1)
def get_dispatch_settings() -> DispatchSettings:
    return DispatchSettings.from_env(os.environ)


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"environment variable {name} is required and is missing or empty")
    return value


def _checked(name: str, rule: Callable[[str], T], value: str) -> T:
    try:
        return rule(value)
    except InvalidValue as error:
        raise SettingsError(f"environment variable {name} {error}") from None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    return _checked(name, lambda value: bounded_int(value, name), raw) if raw else default


def _seconds(env: Mapping[str, str], name: str, default_minutes: int) -> int:
    """`<name>_MINUTES` (what the stack sets), in seconds. `<name>_SECONDS`, which the stack
    never sets, overrides it: the local clouds compress a migration into a minute."""
    raw = env.get(f"{name}_SECONDS", "").strip()
    if raw:
        return _checked(f"{name}_SECONDS", lambda value: integer(value, 0, 7 * 24 * 3600), raw)
    return _int(env, f"{name}_MINUTES", default_minutes) * 60


def parse_accounts(value: str) -> tuple[str, ...] | None:
    return _checked("ACCOUNTS", accounts, value)
