"""Loopback HTTP servers that stand in for the internet in tests, benchmarks and the demo."""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class QuietHTTPServer(ThreadingHTTPServer):
    """Clients that hang up (as retrying clients do) are not errors worth a traceback."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # type: ignore[override]
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    """Headers and body go out in two writes; with Nagle's algorithm and delayed ACKs a
    kept-alive connection would wait about 40 ms between them, and a benchmark would
    measure this server instead of its client."""

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass


class LoopbackServer:
    """A threaded server on 127.0.0.1 (a free port by default), used as a context manager.

    Subclasses provide ``_handler()``, the request handler class bound to themselves.
    """

    host_name = "127.0.0.1"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Lock()
        self._httpd = QuietHTTPServer((host, port), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host_name}:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
