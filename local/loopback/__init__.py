"""A ThreadingHTTPServer run on a loopback port in a daemon thread, for the project's local
stand-ins (the MGN emulator, the fault proxy): one start/stop/context-manager lifecycle."""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import ThreadingHTTPServer
from socketserver import BaseRequestHandler
from types import TracebackType
from typing import Self


class ClosableServer(ThreadingHTTPServer):
    """A threaded server that cuts its idle keep-alive connections when stopped.

    Handlers call `track(connection, alive=...)` from setup() and finish().
    """

    daemon_threads = True
    block_on_close = False  # idle keep-alive handler threads must not block stop()

    def __init__(self, address: tuple[str, int], handler: type[BaseRequestHandler]) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def track(self, connection: socket.socket, alive: bool) -> None:
        with self._connections_lock:
            if alive:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """Cut the idle keep-alive connections so that a stopped server stops answering."""
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class BackgroundServer:
    """Start, stop and address a server built by `_new_server()`; subclasses build it."""

    def __init__(self, *, host: str, port: int, thread_name: str) -> None:
        self.host = host
        self._requested_port = port
        self._thread_name = thread_name
        self._server: ClosableServer | None = None
        self._thread: threading.Thread | None = None

    def _new_server(self, address: tuple[str, int]) -> ClosableServer:
        raise NotImplementedError

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError(f"the {self._thread_name} is already running")
        self._server = self._new_server((self.host, self._requested_port))
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self._thread_name}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"the {self._thread_name} is not running; call start()")
        return int(self._server.server_address[1])

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"
