"""A loopback file server with HTTP Range support and injectable faults.

It serves a directory the way a CDN serves dataset files, and can misbehave on demand:
drop the connection part-way, flip a byte, answer with error statuses (optionally with
``Retry-After``), or ignore ``Range``. Tests use it to prove that downloads resume,
retry and refuse wrong bytes.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import unquote, urlparse

from sqid.localserve import LoopbackServer, QuietHandler

_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


@dataclass
class FileFaults:
    """Faults for one served file; each list is consumed one request at a time."""

    statuses: deque[int] = field(default_factory=deque)
    """Error statuses to answer with, in order, before serving normally."""
    retry_after: str | None = None
    drop_after: deque[int] = field(default_factory=deque)
    """Close the connection after sending this many body bytes (one entry per request)."""
    flip_byte_at: int | None = None
    """Serve the file with the byte at this offset changed (every request)."""
    ignore_range: bool = False


class FileServer(LoopbackServer):
    """``with FileServer(directory) as srv: srv.url(name)``; faults via ``srv.fault(name)``."""

    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.directory = Path(directory)
        self.faults: dict[str, FileFaults] = {}
        self.requests: list[tuple[str, str | None]] = []
        super().__init__(host, port)

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def fault(self, name: str) -> FileFaults:
        return self.faults.setdefault(name, FileFaults())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                name = unquote(urlparse(self.path).path).lstrip("/")
                with server._lock:
                    server.requests.append((name, self.headers.get("Range")))
                    faults = server.faults.get(name, FileFaults())
                    status = faults.statuses.popleft() if faults.statuses else None
                    drop = None
                    if status is None and faults.drop_after:
                        drop = faults.drop_after.popleft()
                path = (server.directory / name).resolve()
                if status is not None:
                    return self._plain(status, faults.retry_after)
                if server.directory.resolve() not in path.parents or not path.is_file():
                    return self._plain(404)
                data = bytearray(path.read_bytes())
                if faults.flip_byte_at is not None and faults.flip_byte_at < len(data):
                    data[faults.flip_byte_at] ^= 0xFF
                start, code = 0, 200
                match = _RANGE.match(self.headers.get("Range") or "")
                if match and not faults.ignore_range:
                    start = int(match.group(1))
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return None
                    code = 206
                body = bytes(data[start:])
                self.send_response(code)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                if code == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if drop is not None:
                    self.wfile.write(body[:drop])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return None
                self.wfile.write(body)
                return None

            def _plain(self, status: int, retry_after: str | None = None) -> None:
                body = f"status {status}\n".encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                if retry_after:
                    self.send_header("Retry-After", retry_after)
                self.end_headers()
                self.wfile.write(body)

        return Handler
