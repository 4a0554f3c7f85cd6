"""The one gate a URL passes before anything is fetched from it: image URLs read off
pages, an image a user names, and every redirect the scraper or the image downloader is
sent to. A URL is split once, by rules every HTTP client reads alike; the request then
goes to the URL rebuilt from the checked parts, and the connection itself is checked
again on the addresses it connects to (:func:`sqid.http.public_session`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqid.http import public_addresses

MAX_URL_LENGTH = 2048
_UNSAFE_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
"""Control characters, spaces and backslashes: HTTP clients and URL parsers disagree
about them (``https://127.0.0.1:1\\@host/`` is one host to ``urlsplit`` and another to
requests), so a URL that holds one is refused, not interpreted."""


@dataclass(frozen=True)
class UrlParts:
    """A URL every parser reads alike: ASCII, no userinfo, no backslash, no space."""

    scheme: str
    host: str
    port: int | None
    path: str
    query: str

    def geturl(self) -> str:
        """The URL rebuilt from the checked parts: what is checked is what is fetched."""
        port = f":{self.port}" if self.port is not None else ""
        query = f"?{self.query}" if self.query else ""
        return f"{self.scheme}://{self.host}{port}{self.path or '/'}{query}"


def split_url(url: object) -> UrlParts | str:
    """The parts of an absolute http(s) URL, or the reason it is refused.

    Refused: anything but a string of printable ASCII up to 2,048 characters, schemes
    other than http and https, userinfo (``user@``), backslashes, spaces, control
    characters, a fragment, a missing or malformed host or port. A protocol-relative
    ``//host/...`` is read as https. Surrounding whitespace (as in HTML attributes) is
    ignored.
    """
    if not isinstance(url, str):
        return "not a string"
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        return f"longer than {MAX_URL_LENGTH} characters"
    if not url.isascii() or _UNSAFE_URL_CHARS.search(url):
        return "non-ASCII, control, space or backslash characters"
    if url.startswith("//"):
        url = "https:" + url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"unparsable: {exc}"
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return f"scheme {scheme or 'none'!r} not allowed"
    if "@" in parts.netloc:
        return "credentials in the URL"
    host = (parts.hostname or "").lower()
    if ":" in host:
        return f"IP literal [{host}] not allowed"
    if not host or not _HOST.match(host):
        return "no host, or a malformed one"
    if parts.fragment or url.endswith("#"):
        return "a fragment"
    return UrlParts(scheme, host, port, parts.path, parts.query)


_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"^(?:{_LABEL}\.)*{_LABEL}\.?$|^[0-9a-f:.]+$")
"""A DNS name, or an IP literal (which policies then refuse by name)."""


@dataclass(frozen=True)
class UrlGate:
    """Which URLs may be fetched: hosts, schemes, ports and addresses."""

    allowed_hosts: frozenset[str]
    allow_http: bool = False
    allowed_ports: frozenset[int] = frozenset()
    allow_private_addresses: bool = False
    """Only for tests and private mirrors: hosts resolving to loopback/private ranges."""
    any_public_host: bool = False
    """Any host name on a public address, over HTTPS (an image a user names)."""
    allow_ip_literals: bool = False
    """A host written as an IP address (only where the configured site itself is one)."""

    @classmethod
    def for_site(cls, base_url: str) -> UrlGate:
        """Exactly the configured site's scheme, host and port; private addresses only
        when the site itself is on one (the demo's and the tests' local site)."""
        parts = split_url(base_url)
        if isinstance(parts, str):
            raise ValueError(f"site {base_url!r}: {parts}")
        literal = _is_ip_literal(parts.host)
        private = (
            not ipaddress.ip_address(parts.host).is_global
            if literal
            else not resolves_publicly(parts.host)
        )
        return cls(
            allowed_hosts=frozenset({parts.host}),
            allow_http=parts.scheme == "http",
            allowed_ports=frozenset({parts.port}) if parts.port else frozenset(),
            allow_private_addresses=private,
            allow_ip_literals=literal,
        )

    def vet(self, url: str, resolve: Callable[[str], bool] | None = None) -> UrlParts | str:
        """The parts of ``url`` if it may be fetched, else the reason it may not."""
        parts = split_url(url)
        if isinstance(parts, str):
            return parts
        if parts.scheme != "https" and not (self.allow_http and parts.scheme == "http"):
            return f"scheme {parts.scheme!r} not allowed"
        host = parts.host
        if _is_ip_literal(host) and not (self.allow_ip_literals and host in self.allowed_hosts):
            return f"IP literal {host} not allowed"
        if host not in self.allowed_hosts:
            if not self.any_public_host:
                return f"host {host} not allowlisted"
            if parts.scheme != "https":
                return f"scheme {parts.scheme!r} not allowed for host {host}"
        if parts.port is not None and parts.port not in self.allowed_ports:
            return f"port {parts.port} not allowed"
        if not self.allow_private_addresses and not (resolve or resolves_publicly)(host):
            return f"host {host} resolves to a private or loopback address"
        return parts


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def resolves_publicly(host: str) -> bool:
    """An early, readable refusal; the connection itself is checked again by
    :func:`sqid.http.public_session`, on the addresses it connects to."""
    try:
        public_addresses(host, 443)
    except ValueError:
        return False
    except OSError:
        return True  # unresolvable: the request itself will fail as a network error
    return True
