"""Opaque, reusable, expiring pagination tokens.

A token is ``base64url(JSON payload) + "." + base64url(HMAC)``; the payload names the
operation, account and scope (job) it was issued for, the position to resume from, the
simulated issue time and the generation (bumped by ``expire_all``). The format is an
emulator detail: clients must treat tokens as opaque.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
from datetime import datetime
from typing import Any


class TokenError(Exception):
    """The token cannot be used; ``expired`` tells a stale token from a bad one."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenCodec:
    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret if secret is not None else secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._generation = 0

    def expire_all(self) -> None:
        """Invalidate every token issued so far."""
        with self._lock:
            self._generation += 1

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()[:16]

    def issue(
        self, *, operation: str, account: str, scope: str, position: Any, now: datetime
    ) -> str:
        with self._lock:
            generation = self._generation
        payload = json.dumps(
            {
                "op": operation,
                "acct": account,
                "scope": scope,
                "pos": position,
                "iat": now.timestamp(),
                "gen": generation,
            },
            separators=(",", ":"),
        ).encode()
        return f"{_b64encode(payload)}.{_b64encode(self._mac(payload))}"

    def decode(
        self,
        token: str,
        *,
        operation: str,
        account: str,
        scope: str,
        now: datetime,
        ttl_seconds: float,
    ) -> Any:
        """The position stored in ``token``; raises ``TokenError`` if it is not valid here."""
        try:
            encoded_payload, encoded_mac = token.split(".")
            payload = _b64decode(encoded_payload)
            mac = _b64decode(encoded_mac)
        except (ValueError, binascii.Error) as exc:
            raise TokenError("The nextToken is malformed") from exc
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise TokenError("The nextToken is malformed")
        data = json.loads(payload)
        if (data["op"], data["acct"], data["scope"]) != (operation, account, scope):
            raise TokenError("The nextToken was not issued for this request")
        with self._lock:
            generation = self._generation
        if data["gen"] != generation or now.timestamp() - float(data["iat"]) >= ttl_seconds:
            raise TokenError("The nextToken has expired", expired=True)
        return data["pos"]
