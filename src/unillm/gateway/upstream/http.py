"""The HTTP mechanics every adapter shares: headers built from scratch, timeouts, and turning
whatever went wrong (refused connection, timeout, an error status, an HTML page) into one
`UpstreamError` whose message helps an operator and never carries a credential."""

from __future__ import annotations

import re
from typing import Any

import orjson

from unillm.errors import BadRequest, UpstreamError, UpstreamTimeout
from unillm.gateway.upstream.h1 import (
    ClientClosed,
    ConnectFailed,
    ConnectTimeout,
    H1Response,
    InvalidHeader,
    InvalidUrl,
    ProtocolError,
    ReadTimeout,
    ServerDisconnected,
    Timeouts,
    TotalTimeout,
    UpstreamHttp,
    UpstreamHttpError,
)
from unillm.gateway.upstream.types import UpstreamConnectTimeout, UpstreamTarget, UpstreamUnreachable

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "trailers", "transfer-encoding", "upgrade", "host", "content-length",
})
# headers the adapter sets itself; an extra header may not replace them
RESERVED = frozenset({"authorization", "x-api-key", "content-type", "accept", "accept-encoding",
                      "anthropic-version"})
SECRET_PATTERNS = re.compile(
    r"(?i)(bearer\s+)[^\s\"',]+|\b(?:sk|ulm|unillm|rk|pk|gsk|xai)[-_][A-Za-z0-9_\-]{6,}"
    r"|\bAIza[0-9A-Za-z_\-]{20,}|(://)[^/\s:@]+:[^/\s@]+@")
MAX_MESSAGE = 400


def _check(value: str, what: str) -> str:
    if "\r" in value or "\n" in value or "\0" in value:
        raise BadRequest(f"{what} contains a line break or NUL, which cannot go into an HTTP header")
    return value


def build_headers(target: UpstreamTarget, auth: dict[str, str], *, accept: str) -> dict[str, str]:
    """Headers from scratch: nothing of the caller's request is forwarded, hop-by-hop headers and
    reserved names in `extra_headers` are dropped, and CR/LF anywhere is refused."""
    headers = {"Content-Type": "application/json", "Accept": accept, "User-Agent": "unillm-gateway",
               # the upstream client does not decompress: ask for plain bytes
               "Accept-Encoding": "identity"}
    for name, value in target.extra_headers:
        lowered = _check(name, "an extra header name").lower()
        if lowered in HOP_BY_HOP or lowered in RESERVED:
            continue
        headers[name] = _check(value, f"the extra header {name!r}")
    for name, value in auth.items():
        headers[name] = _check(value, "the provider credential")
    return headers


def client_timeouts(target: UpstreamTarget, *, stream: bool) -> Timeouts:
    return Timeouts(connect=target.connect_timeout, total=target.total_timeout,
                    read=target.first_byte_timeout if stream else None)


def scrub(text: str, target: UpstreamTarget) -> str:
    """Remove the provider key, bearer tokens, key-like strings and URL passwords from a message."""
    if target.api_key and len(target.api_key) >= 4:
        text = text.replace(target.api_key, "***")
    text = SECRET_PATTERNS.sub(lambda m: (m.group(1) or m.group(2) or "") + "***", text)
    if len(text) > MAX_MESSAGE:
        text = text[:MAX_MESSAGE] + "…"
    return text


def transport_error(exc: UpstreamHttpError, target: UpstreamTarget, *, what: str) -> UpstreamError:
    """Map what the upstream client raised while calling the upstream."""
    name = target.upstream_type
    if isinstance(exc, ConnectTimeout):
        return UpstreamConnectTimeout(
            f"could not connect to the {name} upstream within {target.connect_timeout:g} s")
    if isinstance(exc, ReadTimeout):
        return UpstreamTimeout(
            f"the {name} upstream sent nothing for {target.first_byte_timeout:g} s ({what})")
    if isinstance(exc, TotalTimeout):
        return UpstreamTimeout(
            f"the {name} upstream did not finish within {target.total_timeout:g} s ({what})")
    if isinstance(exc, ConnectFailed):
        return UpstreamUnreachable(scrub(f"the {name} upstream is unreachable: {exc}", target))
    if isinstance(exc, ServerDisconnected):  # accepted, then dropped before the whole answer
        return UpstreamUnreachable(f"the {name} upstream closed the connection before answering ({what})")
    if isinstance(exc, InvalidUrl):
        return UpstreamError(f"the {name} upstream's base URL is not a valid URL: {exc}")
    if isinstance(exc, InvalidHeader):
        return UpstreamError(f"a header configured for the {name} upstream cannot be sent: {exc}")
    if isinstance(exc, ProtocolError):
        return UpstreamError(scrub(f"the {name} upstream did not answer in HTTP/1.1: {exc}", target))
    if isinstance(exc, ClientClosed):
        return UpstreamError(f"the gateway is shutting down; the {name} call was abandoned")
    return UpstreamError(scrub(f"the {name} upstream call failed: {type(exc).__name__}: {exc}", target))


def error_message_of(payload: Any) -> str | None:
    """The human message in an error body: OpenAI's and Anthropic's envelopes, FastAPI's `detail`,
    Ollama's `{"error": "..."}`."""
    if not isinstance(payload, dict):
        return None
    error = payload.get("error")
    if isinstance(error, dict):
        message = error.get("message")
        return str(message) if message is not None else orjson.dumps(error).decode()
    if isinstance(error, str):
        return error
    for key in ("message", "detail"):
        if key in payload:
            value = payload[key]
            return value if isinstance(value, str) else orjson.dumps(value).decode()
    return None


def non_json_error(status: int, content_type: str, target: UpstreamTarget) -> UpstreamError:
    return UpstreamError(
        f"the {target.upstream_type} upstream answered HTTP {status} with "
        f"{content_type or 'no content type'}, not JSON", upstream_status=status if status >= 400 else None)


async def raise_for_status(response: H1Response, target: UpstreamTarget) -> None:
    """Raise the upstream's own error message (scrubbed) with its status and Retry-After."""
    if response.status < 400:
        return
    try:
        raw = await response.read()
    except UpstreamHttpError:
        raw = b""
    try:
        message = error_message_of(orjson.loads(raw)) if raw else None
    except orjson.JSONDecodeError:
        message = None
    if message is None:
        kind = response.content_type or "an empty body"
        message = f"a non-JSON error body ({kind})" if raw else "no error body"
    retry_after = response.headers.get("Retry-After")
    if retry_after is not None and not retry_after.strip().replace(".", "", 1).isdigit():
        retry_after = None  # only seconds pass through; an HTTP date is dropped
    raise UpstreamError(
        scrub(f"the {target.upstream_type} upstream returned HTTP {response.status}: {message}", target),
        upstream_status=response.status, retry_after=retry_after)


async def post(http: UpstreamHttp, target: UpstreamTarget, url: str, headers: dict[str, str],
               payload: bytes, *, stream: bool) -> H1Response:
    """Send the request and return a response with a success status; the caller reads and releases it."""
    try:
        response = await http.post(url, body=payload, headers=headers,
                                   timeouts=client_timeouts(target, stream=stream))
    except UpstreamHttpError as exc:
        raise transport_error(exc, target, what="waiting for the response") from None
    try:
        await raise_for_status(response, target)
    except BaseException:
        response.release()
        raise
    return response


async def read_json(response: H1Response, target: UpstreamTarget) -> tuple[bytes, Any]:
    """The body and its parsed form; an HTML page or broken JSON becomes a clear 502."""
    try:
        raw = await response.read()
    except UpstreamHttpError as exc:
        raise transport_error(exc, target, what="reading the response") from None
    finally:
        response.release()
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise non_json_error(response.status, response.content_type, target) from None
    if not isinstance(parsed, dict):
        raise non_json_error(response.status, "a JSON value that is not an object", target)
    if parsed.get("error") and "choices" not in parsed and "data" not in parsed and "content" not in parsed:
        message = error_message_of(parsed) or "an error"
        raise UpstreamError(scrub(f"the {target.upstream_type} upstream answered with an error: {message}",
                                  target), upstream_status=response.status)
    return raw, parsed
