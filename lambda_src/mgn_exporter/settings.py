"""Typed configuration of the two functions, read once from the environment.

The dispatcher needs the accounts and the work queue (DispatchSettings); the worker needs the
sinks, the checkpoint table and the work queue (Settings). Names that must come from the stack
have no defaults: a missing or bad one fails at cold start with an error naming the variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

ACCOUNT_ID_PATTERN = re.compile(r"^[0-9]{12}$")
AUTO_ACCOUNTS = "auto"


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

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        return cls(
            event_bus_name=_required(env, "EVENT_BUS_NAME"),
            event_source=_event_source(_required(env, "EVENT_SOURCE")),
            log_group_name=_required(env, "EVENT_LOG_GROUP_NAME"),
            checkpoint_table_name=_required(env, "CHECKPOINT_TABLE_NAME"),
            work_queue_url=env.get("WORK_QUEUE_URL", "").strip() or None,
            backfill_days=_int(env, "BACKFILL_DAYS", 7, minimum=0, maximum=365),
            discovery_overlap_minutes=_int(
                env, "DISCOVERY_OVERLAP_MINUTES", 60, minimum=0, maximum=7 * 24 * 60
            ),
            deadline_margin_seconds=float(
                _int(env, "DEADLINE_MARGIN_SECONDS", 10, minimum=1, maximum=600)
            ),
            retry_backoff_seconds=_int(env, "RETRY_BACKOFF_SECONDS", 0, minimum=0, maximum=900),
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


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(
            f"environment variable {name} must be an integer, got {raw!r}"
        ) from None
    if not minimum <= value <= maximum:
        raise SettingsError(
            f"environment variable {name} must be between {minimum} and {maximum}, got {value}"
        )
    return value


def _event_source(value: str) -> str:
    # EventBridge reserves the aws. prefix for AWS services; PutEvents would reject every entry.
    if value.lower().startswith("aws."):
        raise SettingsError(
            f"environment variable EVENT_SOURCE must not start with 'aws.': {value!r}"
        )
    if len(value) > 256:
        raise SettingsError("environment variable EVENT_SOURCE must be at most 256 characters")
    return value


def parse_accounts(value: str) -> tuple[str, ...] | None:
    if value.lower() == AUTO_ACCOUNTS:
        return None
    accounts = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    bad = [account for account in accounts if not ACCOUNT_ID_PATTERN.match(account)]
    if bad or not accounts:
        raise SettingsError(
            "environment variable ACCOUNTS must be 'auto' or a comma-separated list of "
            f"12-digit account IDs, got {value!r}"
        )
    return accounts
