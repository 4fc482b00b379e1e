"""Typed stack configuration read from CDK context, validated once at synth time.

Values arrive as JSON from cdk.json or as strings from ``cdk deploy -c key=value``; both are
accepted. A bad value fails the synth with a message naming the context key, instead of a
template that deploys and then fails at run time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from aws_cdk import aws_logs as logs

from infra import constants as c
from infra.chat import SlackChannel, TeamsChannel
from mgn_exporter import config_rules as rules

T = TypeVar("T")

# EventBridge: bus names are [/.\-_A-Za-z0-9]{1,256}; "default" is the account's own bus.
BUS_NAME = re.compile(r"^[/\.\-_A-Za-z0-9]{1,256}$")
# CloudWatch Logs group names.
LOG_GROUP_NAME = re.compile(r"^[\.\-_/#A-Za-z0-9]{1,512}$")
# CloudWatch dashboard names.
DASHBOARD_NAME = re.compile(r"^[\-_A-Za-z0-9]{1,255}$")
SERVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-\.]{0,254}$")
EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
# Slack workspace and channel IDs, Teams team, tenant and (URL-encoded) channel IDs.
CHAT_ID = re.compile(r"^[A-Za-z0-9%:@._=+/,-]{1,255}$")
KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# The retention periods CloudWatch Logs accepts, mapped to the CDK enum.
RETENTION_DAYS: Mapping[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


class ConfigError(ValueError):
    """A context value is invalid; the message names the cdk.json key."""


@dataclass(frozen=True, kw_only=True)
class ExporterConfig:
    # Names set in context; None (the default, an empty string) derives them from the stack
    # name (infra/naming.py).
    event_bus_name: str | None
    event_source: str
    event_log_group_name: str | None
    dashboard_name: str | None
    event_log_retention_days: int
    event_log_kms_key_arn: str | None
    function_log_retention_days: int
    schedule_rate_minutes: int
    accounts: str
    backfill_days: int
    discovery_overlap_minutes: int
    enrichment_refresh_minutes: int
    completed_job_grace_minutes: int
    post_launch_wait_minutes: int
    deadline_margin_seconds: int
    log_level: str
    service_name: str
    archive_enabled: bool
    archive_retention_days: int
    alert_email: str | None
    ops_email: str | None
    # Chat delivery of the alert topic; None: not deployed.
    chat_slack: SlackChannel | None = None
    chat_teams: TeamsChannel | None = None
    # Alarm when some account has had no successful export for this long.
    staleness_alarm_minutes: int
    powertools_layer_version: int
    # X-Ray SDK subsegments for every AWS call; its import doubles the cold start.
    sdk_tracing: bool
    # The work queue's event source mapping: at most this many workers at once (its
    # ScalingConfig.MaximumConcurrency, 2..1000), and up to this many messages per invocation
    # (at most 10 for a FIFO queue).
    worker_max_concurrency: int
    worker_batch_size: int
    # Deliveries of a work request before SQS moves it to the work dead-letter queue.
    worker_max_receive_count: int

    @classmethod
    def from_context(cls, get: Callable[[str], Any]) -> ExporterConfig:
        """Build from a context getter such as ``app.node.try_get_context``.

        Keys the getter does not know fall back to ``constants.CONTEXT_DEFAULTS``.
        """

        def raw(key: str) -> Any:
            value = get(key)
            return c.CONTEXT_DEFAULTS[key] if value is None else value

        config = cls(
            event_bus_name=_optional(raw, c.CTX_EVENT_BUS_NAME, BUS_NAME),
            event_source=_ruled(c.CTX_EVENT_SOURCE, rules.event_source, raw(c.CTX_EVENT_SOURCE)),
            event_log_group_name=_optional(raw, c.CTX_EVENT_LOG_GROUP_NAME, LOG_GROUP_NAME),
            dashboard_name=_optional(raw, c.CTX_DASHBOARD_NAME, DASHBOARD_NAME),
            event_log_retention_days=_retention(raw, c.CTX_EVENT_LOG_RETENTION_DAYS),
            event_log_kms_key_arn=_optional(raw, c.CTX_EVENT_LOG_KMS_KEY_ARN, KMS_KEY_ARN),
            function_log_retention_days=_retention(raw, c.CTX_FUNCTION_LOG_RETENTION_DAYS),
            schedule_rate_minutes=_int(raw, c.CTX_SCHEDULE_RATE_MINUTES, 1, 60),
            accounts=_accounts(raw(c.CTX_ACCOUNTS)),
            backfill_days=_setting(raw, c.CTX_BACKFILL_DAYS, "BACKFILL_DAYS"),
            discovery_overlap_minutes=_setting(
                raw, c.CTX_DISCOVERY_OVERLAP_MINUTES, "DISCOVERY_OVERLAP_MINUTES"
            ),
            deadline_margin_seconds=_setting(
                raw, c.CTX_DEADLINE_MARGIN_SECONDS, "DEADLINE_MARGIN_SECONDS"
            ),
            enrichment_refresh_minutes=_setting(
                raw, c.CTX_ENRICHMENT_REFRESH_MINUTES, "ENRICHMENT_REFRESH_MINUTES"
            ),
            completed_job_grace_minutes=_setting(
                raw, c.CTX_COMPLETED_JOB_GRACE_MINUTES, c.ENV_COMPLETED_JOB_GRACE_MINUTES
            ),
            post_launch_wait_minutes=_setting(
                raw, c.CTX_POST_LAUNCH_WAIT_MINUTES, c.ENV_POST_LAUNCH_WAIT_MINUTES
            ),
            log_level=_log_level(raw(c.CTX_LOG_LEVEL)),
            service_name=_matching(raw, c.CTX_SERVICE_NAME, SERVICE_NAME),
            archive_enabled=_bool(raw, c.CTX_ARCHIVE_ENABLED),
            # 0 keeps archived events indefinitely (EventBridge's meaning of 0).
            archive_retention_days=_int(raw, c.CTX_ARCHIVE_RETENTION_DAYS, 0, 3650),
            alert_email=_optional(raw, c.CTX_ALERT_EMAIL, EMAIL),
            ops_email=_optional(raw, c.CTX_OPS_EMAIL, EMAIL),
            chat_slack=_slack(raw),
            chat_teams=_teams(raw),
            # At least two periods of the fastest schedule; at most a day (beyond that the
            # alarm would only confirm what AccountsFailed and the dead-letter queue said).
            staleness_alarm_minutes=_int(raw, c.CTX_STALENESS_ALARM_MINUTES, 10, 24 * 60),
            powertools_layer_version=_int(raw, c.CTX_POWERTOOLS_LAYER_VERSION, 1, 10_000),
            sdk_tracing=_bool(raw, c.CTX_SDK_TRACING),
            # Lambda's limits for an SQS event source mapping's MaximumConcurrency.
            worker_max_concurrency=_int(raw, c.CTX_WORKER_MAX_CONCURRENCY, 2, 1000),
            # A FIFO queue's event source mapping takes at most 10 messages per batch.
            worker_batch_size=_int(raw, c.CTX_WORKER_BATCH_SIZE, 1, 10),
            # SQS's limits for a redrive policy's maxReceiveCount.
            worker_max_receive_count=_int(raw, c.CTX_WORKER_MAX_RECEIVE_COUNT, 1, 1000),
        )
        if config.event_bus_name == "default":
            # The account's own bus: the stack cannot create (or keep) it.
            raise ConfigError(f"context {c.CTX_EVENT_BUS_NAME} cannot be 'default'")
        if config.deadline_margin_seconds >= c.WORKER_TIMEOUT_SECONDS:
            raise ConfigError(
                f"context {c.CTX_DEADLINE_MARGIN_SECONDS} must be below the worker timeout "
                f"({c.WORKER_TIMEOUT_SECONDS} s)"
            )
        return config

    @property
    def event_log_retention(self) -> logs.RetentionDays:
        return RETENTION_DAYS[self.event_log_retention_days]

    @property
    def function_log_retention(self) -> logs.RetentionDays:
        return RETENTION_DAYS[self.function_log_retention_days]


def _str(raw: Callable[[str], Any], key: str) -> str:
    value = raw(key)
    if not isinstance(value, str):
        raise ConfigError(f"context {key} must be a string, got {value!r}")
    return value.strip()


def _matching(raw: Callable[[str], Any], key: str, pattern: re.Pattern[str]) -> str:
    value = _str(raw, key)
    if not pattern.match(value):
        raise ConfigError(f"context {key} is not valid: {value!r}")
    return value


def _chat_ids(raw: Callable[[str], Any], keys: tuple[str, ...]) -> tuple[str, ...] | None:
    """The values of a chat channel's keys: all given, or none (no channel)."""
    values = tuple(_optional(raw, key, CHAT_ID) for key in keys)
    given = [key for key, value in zip(keys, values, strict=True) if value]
    if not given:
        return None
    if len(given) != len(keys):
        missing = ", ".join(key for key in keys if key not in given)
        raise ConfigError(f"context {', '.join(given)} also needs {missing}")
    return tuple(str(value) for value in values)


def _slack(raw: Callable[[str], Any]) -> SlackChannel | None:
    ids = _chat_ids(raw, (c.CTX_CHAT_SLACK_WORKSPACE_ID, c.CTX_CHAT_SLACK_CHANNEL_ID))
    return SlackChannel(*ids) if ids else None


def _teams(raw: Callable[[str], Any]) -> TeamsChannel | None:
    keys = (c.CTX_CHAT_TEAMS_TEAM_ID, c.CTX_CHAT_TEAMS_CHANNEL_ID, c.CTX_CHAT_TEAMS_TENANT_ID)
    ids = _chat_ids(raw, keys)
    return TeamsChannel(*ids) if ids else None


def _optional(raw: Callable[[str], Any], key: str, pattern: re.Pattern[str]) -> str | None:
    value = _str(raw, key)
    if not value:
        return None
    if not pattern.match(value):
        raise ConfigError(f"context {key} is not valid: {value!r}")
    return value


def _int(raw: Callable[[str], Any], key: str, minimum: int, maximum: int) -> int:
    return _ruled(key, lambda value: rules.integer(value, minimum, maximum), raw(key))


def _bool(raw: Callable[[str], Any], key: str) -> bool:
    value = raw(key)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ConfigError(f"context {key} must be true or false, got {value!r}")


def _retention(raw: Callable[[str], Any], key: str) -> int:
    days = _int(raw, key, 1, 3653)
    if days not in RETENTION_DAYS:
        allowed = ", ".join(str(d) for d in RETENTION_DAYS)
        raise ConfigError(f"context {key} must be one of {allowed}, got {days}")
    return days


def _ruled(key: str, rule: Callable[[Any], T], value: Any) -> T:
    """A value checked by the functions' own rule (mgn_exporter.config_rules)."""
    try:
        return rule(value)
    except rules.InvalidValue as error:
        raise ConfigError(f"context {key} {error}") from None


def _setting(raw: Callable[[str], Any], key: str, variable: str) -> int:
    """An integer the stack passes to the functions as `variable`: the functions' bounds."""
    return _ruled(key, lambda value: rules.bounded_int(value, variable), raw(key))


def _accounts(value: Any) -> str:
    ids = _ruled(c.CTX_ACCOUNTS, rules.accounts, value)
    return rules.AUTO_ACCOUNTS if ids is None else ",".join(ids)


def _log_level(value: Any) -> str:
    text = str(value).strip().upper()
    if text not in LOG_LEVELS:
        raise ConfigError(f"context {c.CTX_LOG_LEVEL} must be one of {', '.join(LOG_LEVELS)}")
    return text
