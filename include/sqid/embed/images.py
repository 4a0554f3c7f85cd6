"""Safe image download and verification for the embedding stage.

Images come from URLs scraped off web pages, so every step distrusts its input: only
allowlisted hosts over HTTPS (by default), no IP literals, no hosts that resolve to
loopback or private ranges, redirects followed by hand and re-checked, a byte limit
while streaming, then magic bytes, a pixel-count limit before decoding (decompression
bombs) and a conversion of every mode to 8-bit RGB. Each image ends with a status;
nothing raises into the shard.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin

import requests

from sqid.http import (
    BodyError,
    private_address_refused,
    public_session,
    read_body,
    within,
)
from sqid.imageurl import AMAZON_IMAGE_HOSTS
from sqid.retry import RetryPolicy, decide
from sqid.urlgate import UrlGate, UrlParts, resolves_publicly, split_url

OK = "ok"
NOT_IMAGE = "not_image"
TOO_LARGE = "too_large"
TOO_SMALL = "too_small"
DECODE_ERROR = "decode_error"
FORBIDDEN_HOST = "forbidden_host"
HTTP_ERROR = "http_error"
NETWORK_ERROR = "network_error"
NO_AI = "noai"
"""The image was served with ``X-Robots-Tag: noai`` or ``noimageai``: not embedded."""
IMAGE_STATUSES = (
    OK, NOT_IMAGE, TOO_LARGE, TOO_SMALL, DECODE_ERROR, FORBIDDEN_HOST, HTTP_ERROR, NETWORK_ERROR,
    NO_AI,
)  # fmt: skip
FINAL_FAILURES = (NOT_IMAGE, TOO_LARGE, TOO_SMALL, DECODE_ERROR, FORBIDDEN_HOST, NO_AI)
_NO_AI_DIRECTIVES = frozenset({"noai", "noimageai"})
"""Download outcomes that another attempt at the same URL would only repeat; with HTTP
404 and 410 (:data:`GONE`), a later run does not plan them again (``force`` does)."""
GONE = (404, 410)

_MAGIC = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)


def sniff(data: bytes) -> str | None:
    """The image format named by the first bytes, or None."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


@dataclass(frozen=True)
class ImagePolicy:
    allowed_hosts: frozenset[str] = AMAZON_IMAGE_HOSTS
    allow_http: bool = False
    allow_private_addresses: bool = False
    """Only for tests and private mirrors: hosts resolving to loopback/private ranges."""
    allowed_ports: frozenset[int] = frozenset()
    """Explicit ports a URL may name (a mirror's); Amazon's image URLs name none."""
    any_public_host: bool = False
    """Any host name on a public address, over HTTPS: for an image a user names
    (``sqid search --image URL``), never for URLs read off scraped pages."""
    max_bytes: int = 15_000_000
    max_pixels: int = 40_000_000
    min_side: int = 16
    """Images narrower or lower than this (tracking pixels, spacers) are not embedded."""
    max_redirects: int = 3
    timeout: tuple[float, float] = (5.0, 20.0)
    deadline: float = 60.0
    """Wall-clock limit of one request, body included."""
    retry: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(max_attempts=4, backoff_base=1.0)
    )

    @property
    def gate(self) -> UrlGate:
        return UrlGate(
            allowed_hosts=self.allowed_hosts,
            allow_http=self.allow_http,
            allowed_ports=self.allowed_ports,
            allow_private_addresses=self.allow_private_addresses,
            any_public_host=self.any_public_host,
        )

    @classmethod
    def with_mirror(cls, base_url: str, **overrides: object) -> ImagePolicy:
        """Amazon's hosts plus one private mirror of the CDN (tests, the demo, an offline
        copy): the mirror's host, its scheme and its port, and private addresses."""
        parts = split_url(base_url)
        if isinstance(parts, str):
            raise ValueError(f"image mirror {base_url!r}: {parts}")
        values: dict[str, object] = {
            "allowed_hosts": AMAZON_IMAGE_HOSTS | {parts.host},
            "allow_http": parts.scheme == "http",
            "allow_private_addresses": True,
            "allowed_ports": frozenset({parts.port}) if parts.port else frozenset(),
        }
        return cls(**{**values, **overrides})


@dataclass
class Fetched:
    url: str
    status: str
    sha256: str | None = None
    data: bytes | None = None
    http_status: int | None = None
    error: str | None = None
    attempts: int = 0


def image_session(policy: ImagePolicy, pool_size: int = 10) -> requests.Session:
    """The session images are fetched with: connections to public addresses only,
    unless the policy allows private ones (a local CDN)."""
    return public_session(pool_size, allow_private=policy.allow_private_addresses)


def vet_url(
    url: str, policy: ImagePolicy, resolve: Callable[[str], bool] = resolves_publicly
) -> UrlParts | str:
    """The parts of ``url`` if the policy lets it be fetched, else the reason it may not
    (the one gate, :class:`sqid.urlgate.UrlGate`, with the policy's hosts).

    The request goes to ``parts.geturl()``, the URL rebuilt from the parts checked here,
    so no parser downstream can read a different host into it.
    """
    return policy.gate.vet(url, resolve)


def check_url(
    url: str, policy: ImagePolicy, resolve: Callable[[str], bool] = resolves_publicly
) -> str | None:
    """Why ``url`` may not be fetched (a reason string), or None if it may."""
    vetted = vet_url(url, policy, resolve)
    return vetted if isinstance(vetted, str) else None


def fetch_image(
    url: str,
    session: requests.Session,
    policy: ImagePolicy,
    sleep: Callable[[float], None] = time.sleep,
) -> Fetched:
    """Download ``url`` within the policy; verify the bytes are an image (not decoded yet)."""
    for attempt in range(1, policy.retry.max_attempts + 1):
        result = _fetch_once(url, session, policy)
        result.attempts = attempt
        if result.status not in (HTTP_ERROR, NETWORK_ERROR):
            return result
        decision = decide(
            policy.retry,
            attempt,
            status=result.http_status if result.status == HTTP_ERROR else None,
            error=result.error if result.status == NETWORK_ERROR else None,
        )
        if not decision.retry:
            return result
        sleep(decision.delay)
    return result


def refuses_ai(robots: str) -> str | None:
    """``X-Robots-Tag: noai`` or ``noimageai`` (alone, in a list, or for a named agent
    such as ``otherbot: noai``), in words; None when the header allows use."""
    directives = {part.strip().lower().rpartition(":")[2].strip()
                  for part in robots.replace(";", ",").split(",")}  # fmt: skip
    found = sorted(directives & _NO_AI_DIRECTIVES)
    return f"X-Robots-Tag: {', '.join(found)}" if found else None


def _fetch_once(url: str, session: requests.Session, policy: ImagePolicy) -> Fetched:
    current = url
    deadline = time.monotonic() + policy.deadline
    for _ in range(policy.max_redirects + 1):
        vetted = vet_url(current, policy)
        if isinstance(vetted, str):
            return Fetched(url, FORBIDDEN_HOST, error=vetted)
        current = vetted.geturl()
        try:
            with (
                within(deadline),
                session.get(
                    current, timeout=policy.timeout, stream=True, allow_redirects=False
                ) as resp,
            ):
                if resp.is_redirect:
                    current = urljoin(current, resp.headers.get("Location", ""))
                    continue
                if resp.status_code != 200:
                    return Fetched(
                        url,
                        HTTP_ERROR,
                        http_status=resp.status_code,
                        error=f"http_{resp.status_code}",
                    )
                if refused := refuses_ai(resp.headers.get("X-Robots-Tag", "")):
                    return Fetched(url, NO_AI, http_status=200, error=refused)
                try:
                    data = read_body(resp, max_bytes=policy.max_bytes, deadline=deadline)
                except BodyError as exc:
                    if exc.kind == TOO_LARGE:
                        return Fetched(url, TOO_LARGE, http_status=200, error=str(exc))
                    return Fetched(url, NETWORK_ERROR, http_status=200, error=exc.kind)
                content_type = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
        except requests.Timeout:
            return Fetched(url, NETWORK_ERROR, error="timeout")
        except requests.ConnectionError as exc:
            if refused := private_address_refused(exc):
                return Fetched(url, FORBIDDEN_HOST, error=refused)
            return Fetched(url, NETWORK_ERROR, error="connection")
        except requests.exceptions.ChunkedEncodingError:
            return Fetched(url, NETWORK_ERROR, error="connection")
        except requests.RequestException as exc:
            return Fetched(url, NETWORK_ERROR, error=type(exc).__name__)
        kind = sniff(data)
        if kind is None:
            return Fetched(
                url,
                NOT_IMAGE,
                http_status=200,
                error=f"content-type {content_type or '?'}, unknown magic bytes",
            )
        if (
            content_type
            and not content_type.startswith("image/")
            and content_type != "application/octet-stream"
        ):
            return Fetched(url, NOT_IMAGE, http_status=200, error=f"content-type {content_type}")
        return Fetched(url, OK, hashlib.sha256(data).hexdigest(), data, 200)
    return Fetched(url, FORBIDDEN_HOST, error="too many redirects")
