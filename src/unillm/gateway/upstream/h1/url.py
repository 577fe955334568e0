"""Turning an upstream URL string into what a request needs: where to connect and the bytes of the
request line and Host header. Parsing costs microseconds, so the client caches what it derives from
each distinct URL string; a gateway talks to a handful of URLs, millions of times."""

from __future__ import annotations

import base64
import re
import string
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

from unillm.gateway.upstream.h1.errors import InvalidUrl

_DEFAULT_PORTS = {"http": 80, "https": 443}
# whitespace or control characters would let a URL smuggle extra lines into the request head
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")
# everything printable in ASCII stays as written (existing %-escapes included); only non-ASCII
# characters get percent-encoded, as browsers and aiohttp/yarl do
_PATH_SAFE = string.punctuation


@dataclass(frozen=True, slots=True)
class ParsedUrl:
    scheme: str  # "http" or "https"
    host: str  # what to connect to: IDNA-encoded name or IP literal without brackets
    port: int
    target: bytes  # request target: path and query, never empty
    host_header: str  # Host header value: brackets around IPv6, port only when not the default
    # `user:password@` in the URL, as an `Authorization: Basic` value (what aiohttp and curl send)
    basic_auth: str | None = field(default=None, repr=False)

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    @property
    def authority(self) -> str:
        """`host:port` for messages (never the path or query, which may hold a key)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_url(url: str) -> ParsedUrl:
    # The messages below never quote the URL: its query or userinfo may hold a credential.
    if not isinstance(url, str) or not url:
        raise InvalidUrl("the URL is empty or not a string")
    if _FORBIDDEN.search(url):
        raise InvalidUrl("the URL contains whitespace or a control character")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise InvalidUrl("the URL cannot be parsed (bad IPv6 literal?)") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidUrl("the URL's scheme must be http or https")
    basic_auth = None
    if "@" in parts.netloc:
        credentials = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        basic_auth = "Basic " + base64.b64encode(credentials.encode()).decode("ascii")
    host = parts.hostname  # lowercased, IPv6 brackets removed
    if not host:
        raise InvalidUrl("the URL has no host")
    try:
        port = parts.port
    except ValueError:
        raise InvalidUrl("the URL's port is not a number between 0 and 65535") from None
    if port is None:
        port = _DEFAULT_PORTS[scheme]
    elif port == 0:
        raise InvalidUrl("the URL's port cannot be 0")
    if ":" not in host:  # a name or IPv4 address: IDNA-encode (also refuses empty or overlong labels,
        try:               # which getaddrinfo would reject with a UnicodeError, not an OSError)
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidUrl("the URL's host is not a valid domain name") from None
    path = parts.path or "/"
    if not path.startswith("/"):
        raise InvalidUrl("the URL's path must be absolute")
    if parts.query:
        path = f"{path}?{parts.query}"
    if not path.isascii():
        path = quote(path, safe=_PATH_SAFE)
    if not host.isascii():  # only possible in an IPv6 zone id, which the idna step above skips
        raise InvalidUrl("the URL's host is not ASCII")
    bracketed = f"[{host}]" if ":" in host else host
    host_header = bracketed if port == _DEFAULT_PORTS[scheme] else f"{bracketed}:{port}"
    return ParsedUrl(scheme, host, port, path.encode("ascii"), host_header, basic_auth)
