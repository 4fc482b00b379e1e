"""Errors the exporter's adapters raise, translated from AWS errors at the edge."""

from __future__ import annotations


class ExportError(Exception):
    """Base of the exporter's own errors."""


class LeaseHeld(ExportError):
    """Another invocation holds the account's lease: skip the account this time."""


class LeaseLost(ExportError):
    """The lease was taken over (it expired): stop writing for this account at once."""


class StateUnavailable(ExportError):
    """The checkpoint table refused a read or write even after retries (not a lease conflict)."""


class AccountUnavailable(ExportError):
    """MGN refuses the whole account (uninitialized, access denied, throttled past retries)."""


class AccountUninitialized(AccountUnavailable):
    """MGN is not initialized in the account (or the Region): a state to record, not a failure."""


class JobUnavailable(ExportError):
    """MGN refuses one job's log (validation error other than an expired token)."""


class TokenRejected(ExportError):
    """MGN rejected a nextToken (expired or invalid): re-read the log from its start."""


class DeliveryError(ExportError):
    """A sink did not take a batch even after retries: the checkpoint must not move past it."""


class SinkUnavailable(ExportError):
    """A sink stayed down during the export; the other sink went on (its progress is saved)."""


class QueueUnavailable(ExportError):
    """The work queue did not take a message even after retries."""


class InventoryUnavailable(ExportError):
    """MGN did not list an account's servers, applications or waves: events go out unnamed."""
