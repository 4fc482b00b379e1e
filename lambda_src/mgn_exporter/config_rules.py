"""The rules a configuration value must follow, stated once.

The functions check their environment with them at cold start (settings.py), and the stack
checks its CDK context with them at synth time (infra/config.py): a value the stack accepts is
one the functions accept. Each rule raises InvalidValue with what is wrong; the caller names
where the value came from (an environment variable, a context key).
"""

from __future__ import annotations

import re

ACCOUNT_ID_PATTERN = re.compile(r"^[0-9]{12}$")
AUTO_ACCOUNTS = "auto"

# The integer settings the stack passes to the functions: environment variable -> bounds.
INT_BOUNDS: dict[str, tuple[int, int]] = {
    "BACKFILL_DAYS": (0, 365),
    "DISCOVERY_OVERLAP_MINUTES": (0, 7 * 24 * 60),
    "DEADLINE_MARGIN_SECONDS": (1, 600),
    "RETRY_BACKOFF_SECONDS": (0, 900),
    # 0 turns enrichment off (events carry MGN's ids only).
    "ENRICHMENT_REFRESH_MINUTES": (0, 24 * 60),
    # How long a completed job stays open for late items, and for its post-launch actions.
    "COMPLETED_JOB_GRACE_MINUTES": (0, 24 * 60),
    "POST_LAUNCH_WAIT_MINUTES": (0, 7 * 24 * 60),
}


class InvalidValue(ValueError):
    """A value breaks a rule; the message completes "<where it came from> ..."."""


def bounded_int(value: object, variable: str) -> int:
    """`value` as an integer within the bounds of the setting `variable` (INT_BOUNDS)."""
    return integer(value, *INT_BOUNDS[variable])


def integer(value: object, minimum: int, maximum: int) -> int:
    """`value` (an int, or its text) as an integer in [minimum, maximum]."""
    if isinstance(value, bool):
        raise InvalidValue(f"must be an integer, got {value!r}")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise InvalidValue(f"must be an integer, got {value!r}") from None
    if not minimum <= number <= maximum:
        raise InvalidValue(f"must be between {minimum} and {maximum}, got {number}")
    return number


def event_source(value: object) -> str:
    """The `Source` of every entry the exporter puts on the bus."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue("must be a non-empty string")
    text = value.strip()
    # EventBridge reserves aws.* for AWS services; PutEvents would reject every entry.
    if text.lower().startswith("aws."):
        raise InvalidValue(f"must not start with 'aws.': {text!r}")
    if len(text) > 256:
        raise InvalidValue("must be at most 256 characters")
    return text


def accounts(value: object) -> tuple[str, ...] | None:
    """'auto' (None: the caller's account plus MGN global view's), or 12-digit account IDs,
    comma-separated (or a list), each once in the order given."""
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    if not isinstance(value, str):
        raise InvalidValue("must be 'auto' or a list of account IDs")
    text = value.strip()
    if text.lower() == AUTO_ACCOUNTS:
        return None
    ids = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not ids or not all(ACCOUNT_ID_PATTERN.match(account) for account in ids):
        raise InvalidValue(
            f"must be 'auto' or a comma-separated list of 12-digit account IDs, got {value!r}"
        )
    return ids
