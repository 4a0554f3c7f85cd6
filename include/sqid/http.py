"""HTTP details shared by every fetcher: header numbers and bounded response bodies.

Servers are not trusted. A header number is ASCII digits or nothing (``'²'.isdigit()``
is true in Python, and ``int('²')`` raises). A body is read one socket read at a time,
so a wall-clock deadline holds even against a server that drips two bytes a second
(a read timeout alone never fires then), and a size limit holds while streaming. The
same deadline covers connecting and the status line and headers (:func:`within`): a
server that drips its headers a byte a second is cut off when it passes, not when the
task's own timeout ends. A session from :func:`public_session` connects only to public
addresses, checked on the addresses it connects to, so a name that resolves differently
a second time (DNS rebinding) cannot reach a private one.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util import connection as _connection

MAX_HEADER_DIGITS = 18
"""More digits than any real length or delay: a longer number is refused, not parsed."""


def parse_header_int(value: str | None) -> int | None:
    """A non-negative decimal header value (``Content-Length``, ``Retry-After``), or None."""
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > MAX_HEADER_DIGITS or not (value.isascii() and value.isdigit()):
        return None
    return int(value)


class BodyError(Exception):
    """A response body that could not be read whole; ``kind`` names why."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


TIMEOUT = "timeout"
TRUNCATED = "truncated"
TOO_LARGE = "too_large"
CONNECTION = "connection"


def iter_body(
    response: requests.Response, *, max_bytes: int, deadline: float, chunk: int = 65536
) -> Iterator[bytes]:
    """The decoded body in blocks, within ``max_bytes`` and a ``time.monotonic()`` deadline.

    Raises :class:`BodyError` (``too_large``, ``timeout``, ``truncated`` or
    ``connection``) instead of returning a partial body.
    """
    declared = parse_header_int(response.headers.get("Content-Length"))
    if declared is not None and declared > max_bytes:
        raise BodyError(TOO_LARGE, f"{declared} bytes declared")
    raw = response.raw
    size = 0
    try:
        while True:
            if time.monotonic() > deadline:
                raise BodyError(TIMEOUT, f"body not complete by the deadline ({size} bytes)")
            block = raw.read1(chunk, decode_content=True)
            if not block:
                break
            size += len(block)
            if size > max_bytes:
                raise BodyError(TOO_LARGE, f"over {max_bytes} bytes")
            yield block
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise BodyError(TIMEOUT, str(exc)) from exc
    except urllib3.exceptions.ProtocolError as exc:
        raise BodyError(TRUNCATED, str(exc)) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise BodyError(CONNECTION, f"{type(exc).__name__}: {exc}") from exc


def read_body(response: requests.Response, *, max_bytes: int, deadline: float) -> bytes:
    """The whole body within the limits of :func:`iter_body`."""
    return b"".join(iter_body(response, max_bytes=max_bytes, deadline=deadline))


_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "sqid_http_deadline", default=None
)


@contextlib.contextmanager
def within(deadline: float) -> Iterator[None]:
    """Requests made in this block (on this thread) give up at ``deadline``
    (``time.monotonic()``), whether connecting, waiting for the status line or reading
    headers: a read timeout is per socket read, so it alone never ends a server that
    sends one byte a second."""
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


@contextlib.contextmanager
def _watchdog(conn: HTTPConnection, phase: str) -> Iterator[None]:
    """Shut the connection's socket down when the block's deadline passes; the blocked
    read then returns, and the error is reported as the timeout it is."""
    deadline = _DEADLINE.get()
    if deadline is None:
        yield
        return
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError(f"deadline passed before {phase}")
    fired = threading.Event()

    def cut() -> None:
        fired.set()
        sock = getattr(conn, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(remaining, cut)
    timer.daemon = True
    timer.start()
    try:
        yield
    except Exception as exc:
        if fired.is_set():
            raise TimeoutError(f"deadline passed during {phase}") from exc
        raise
    finally:
        timer.cancel()
    if fired.is_set():
        raise TimeoutError(f"deadline passed during {phase}")


class _WallClock:
    """Mixed into urllib3's connections: the block's deadline bounds connecting (TLS
    handshake included) and reading the status line and headers."""

    def connect(self) -> None:
        try:
            with _watchdog(self, "connect"):  # type: ignore[arg-type]
                super().connect()  # type: ignore[misc]
        except TimeoutError as exc:
            raise urllib3.exceptions.ConnectTimeoutError(self, str(exc)) from exc

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        with _watchdog(self, "the status line and headers"):  # type: ignore[arg-type]
            return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class PrivateAddressError(urllib3.exceptions.NewConnectionError):
    """A connection refused because its host name resolves to a non-public address."""

    def __init__(self, conn: HTTPConnection, detail: str) -> None:
        super().__init__(conn, detail)
        self.detail = detail


def public_addresses(host: str, port: int) -> list[tuple[int, tuple]]:
    """(family, socket address) of each address ``host`` resolves to, all of them public.

    Raises ``ValueError`` when any is loopback, private, link-local or otherwise not
    global (one such answer is enough to distrust the name), ``OSError`` when the name
    does not resolve.
    """
    found = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    private = [sa[0] for *_, sa in found if not ipaddress.ip_address(sa[0]).is_global]
    if private:
        raise ValueError(f"host {host} resolves to a private or loopback address ({private[0]})")
    return [(family, sa) for family, _, _, _, sa in found]


class _PublicOnly:
    """Mixed into urllib3's connections: resolve once, check, connect to what was checked."""

    def _new_conn(self) -> socket.socket:
        try:
            addresses = public_addresses(self._dns_host, self.port)
        except ValueError as exc:
            raise PrivateAddressError(self, str(exc)) from None
        except socket.gaierror as exc:
            raise urllib3.exceptions.NameResolutionError(self.host, self, exc) from exc
        error: OSError | None = None
        for _, sockaddr in addresses:
            try:
                return _connection.create_connection(
                    sockaddr[:2], self.timeout, source_address=self.source_address,
                    socket_options=self.socket_options,
                )  # fmt: skip
            except TimeoutError as exc:
                error = urllib3.exceptions.ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out"
                )
                error.__cause__ = exc
            except OSError as exc:
                error = urllib3.exceptions.NewConnectionError(
                    self, f"Failed to establish a new connection: {exc}"
                )
        raise error or urllib3.exceptions.NewConnectionError(self, "no address to connect to")


def _pools(*mixins: type) -> dict[str, type]:
    """urllib3 pool classes whose connections carry ``mixins`` (and the deadline)."""
    http = type("Connection", (*mixins, _WallClock, HTTPConnection), {})
    https = type("TLSConnection", (*mixins, _WallClock, HTTPSConnection), {})
    return {
        "http": type("Pool", (HTTPConnectionPool,), {"ConnectionCls": http}),
        "https": type("TLSPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
    }


_ANY_ADDRESS_POOLS = _pools()
_PUBLIC_POOLS = _pools(_PublicOnly)


class _Adapter(HTTPAdapter):
    """requests' adapter with this module's connections, directly and through a proxy."""

    def __init__(self, pools: dict[str, type], **kwargs: Any) -> None:
        self._pool_classes = pools
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        # Through a proxy the socket goes to the proxy (often on a private network) and
        # the proxy resolves the name: only the deadline applies to its connections.
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = _ANY_ADDRESS_POOLS
        return manager


def session(pool_size: int = 10, *, public_only: bool = True) -> requests.Session:
    """A session whose requests honour :func:`within`, and with ``public_only`` connect
    only to public addresses. Nothing is retried inside requests: every caller has its
    own retry policy, which counts what it retries."""
    s = requests.Session()
    adapter = _Adapter(
        _PUBLIC_POOLS if public_only else _ANY_ADDRESS_POOLS,
        pool_connections=pool_size,
        pool_maxsize=pool_size,
        max_retries=0,
    )
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s


def public_session(pool_size: int = 10, *, allow_private: bool = False) -> requests.Session:
    """A session whose every connection goes to a public address (``allow_private``:
    any address, for local servers in the demo and tests).

    The check is made on the very addresses the socket connects to, not on an earlier
    lookup of the name; the connection is refused with :class:`PrivateAddressError`.
    """
    return session(pool_size, public_only=not allow_private)


def private_address_refused(exc: requests.ConnectionError) -> str | None:
    """The reason, when ``exc`` is a connection :func:`public_session` refused."""
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3 wraps it in MaxRetryError
    return reason.detail if isinstance(reason, PrivateAddressError) else None
