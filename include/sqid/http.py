"""HTTP details shared by every fetcher: header numbers and bounded response bodies.

Servers are not trusted. A header number is ASCII digits or nothing (``'²'.isdigit()``
is true in Python, and ``int('²')`` raises). A body is read one socket read at a time,
so a wall-clock deadline holds even against a server that drips two bytes a second
(a read timeout alone never fires then), and a size limit holds while streaming.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import requests
import urllib3.exceptions

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
