"""Forwarding to the real servers over kept-alive ``http.client`` connections."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Mapping
from urllib.parse import urlsplit

from local.fault_proxy.wire import Request, Response, service_of

# Per connection, not end to end (RFC 9110 7.6.1); Content-Length is recomputed, and
# Expect is answered by our own server already.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "expect",
    }
)
TIMEOUT_SECONDS = 120.0


class Routes:
    """Which upstream serves which service: one URL, or {signing name: URL} with "*" last."""

    def __init__(self, upstream: str | Mapping[str, str]) -> None:
        table = {"*": upstream} if isinstance(upstream, str) else dict(upstream)
        for url in table.values():
            if urlsplit(url).scheme not in ("http", "https"):
                raise ValueError(f"upstream must be an http(s) URL, not {url!r}")
        self.table = table

    def for_request(self, request: Request) -> str | None:
        service = service_of(request)
        return self.table.get(service) or self.table.get("*")


class Connections:
    """One handler thread's upstream connections (one per upstream URL), reused across calls."""

    def __init__(self, preserve_host: bool) -> None:
        self._preserve_host = preserve_host
        self._open: dict[str, http.client.HTTPConnection] = {}

    def send(self, base_url: str, request: Request) -> Response:
        try:
            return self._send(base_url, request, retry_stale=True)
        except (OSError, http.client.HTTPException) as error:
            self._drop(base_url)
            # botocore retries a 502 like any other transient error, so a dead upstream looks
            # like an unhealthy endpoint rather than a proxy crash.
            body = json.dumps({"message": f"fault_proxy: upstream {base_url} failed: {error}"})
            return Response(502, [("Content-Type", "application/json")], body.encode())

    def close(self) -> None:
        for url in list(self._open):
            self._drop(url)

    def _send(self, base_url: str, request: Request, retry_stale: bool) -> Response:
        reused = base_url in self._open
        connection = self._connection(base_url)
        target = urlsplit(base_url)
        headers = {k: v for k, v in request.headers if k.lower() not in HOP_BY_HOP}
        if not self._preserve_host or not any(k.lower() == "host" for k in headers):
            headers = {k: v for k, v in headers.items() if k.lower() != "host"}
            headers["Host"] = target.netloc
        if request.body or request.method in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(request.body))
        try:
            connection.request(
                request.method, target.path.rstrip("/") + request.path, request.body, headers
            )
            upstream = connection.getresponse()
            body = upstream.read()  # de-chunks; re-sent with a Content-Length
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self._drop(base_url)
            # A kept-alive connection the upstream closed while idle: one fresh try. A new
            # connection failing this way is a real failure and is not retried.
            if reused and retry_stale:
                return self._send(base_url, request, retry_stale=False)
            raise
        if upstream.will_close:
            self._drop(base_url)
        keep_length = request.method == "HEAD"  # no body to measure: keep the upstream's
        headers_out = [
            (k, v)
            for k, v in upstream.getheaders()
            if k.lower() not in HOP_BY_HOP or (keep_length and k.lower() == "content-length")
        ]
        return Response(upstream.status, headers_out, body)

    def _connection(self, base_url: str) -> http.client.HTTPConnection:
        connection = self._open.get(base_url)
        if connection is None:
            target = urlsplit(base_url)
            factory = (
                http.client.HTTPSConnection
                if target.scheme == "https"
                else http.client.HTTPConnection
            )
            connection = factory(target.netloc, timeout=TIMEOUT_SECONDS)
            connection.connect()
            if connection.sock is not None:  # small writes must not wait for delayed ACKs
                connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._open[base_url] = connection
        return connection

    def _drop(self, base_url: str) -> None:
        connection = self._open.pop(base_url, None)
        if connection is not None:
            connection.close()
