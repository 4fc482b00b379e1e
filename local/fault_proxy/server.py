"""HTTP/1.1 front end: reads each request whole, asks the pipeline, writes the answer."""

from __future__ import annotations

import socket
import struct
import sys
from http.server import BaseHTTPRequestHandler
from typing import Any

from local.fault_proxy.pipeline import Pipeline
from local.fault_proxy.upstream import HOP_BY_HOP, Connections, Routes
from local.fault_proxy.wire import Request, Response
from local.loopback import ClosableServer


class ProxyHTTPServer(ClosableServer):
    def __init__(
        self,
        address: tuple[str, int],
        pipeline: Pipeline,
        routes: Routes,
        preserve_host: bool,
    ) -> None:
        self.pipeline = pipeline
        self.routes = routes
        self.preserve_host = preserve_host
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A caller that went away mid-call (a killed process) is no error of the proxy's."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: botocore pools its connections
    # Headers and body go out in separate writes; with Nagle on, the body waits for the
    # client's delayed ACK (~40 ms a call).
    disable_nagle_algorithm = True
    server: ProxyHTTPServer
    timeout = 120

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, alive=True)
        self.upstreams = Connections(self.server.preserve_host)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.upstreams.close()
            self.server.track(self.connection, alive=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr log."""

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        if len(body) < length:
            # The caller went away mid-request (a killed worker): what arrived is not a
            # request, and forwarding it would only make the service fail on a truncated body.
            raise ConnectionResetError("request body cut short")
        return body

    def _forward(self, request: Request) -> Response:
        base_url = self.server.routes.for_request(request)
        if base_url is None:
            return Response(502, [("Content-Type", "text/plain")], b"fault_proxy: no upstream")
        return self.upstreams.send(base_url, request)

    def _serve(self) -> None:
        request = Request(
            method=self.command,
            path=self.path,
            headers=tuple(self.headers.items()),
            body=self._read_body(),
        )
        response = self.server.pipeline.handle(request, self._forward)
        if response.reset:
            self._reset()
            return
        self.send_response_only(response.status)
        for name, value in response.headers:
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        if self.command == "HEAD":
            length = response.header("Content-Length") or "0"
        else:
            length = str(len(response.body))
        self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _reset(self) -> None:
        # Linger 0 makes close() send an RST: the client sees ECONNRESET, not a clean EOF.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve
    do_PATCH = _serve
    do_HEAD = _serve
    do_OPTIONS = _serve
