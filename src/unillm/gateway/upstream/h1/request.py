"""Encoding the caller's headers into the request head, refusing anything that could break out of
its line (header injection) before a byte is sent.

Checking every value character by character would cost more than the rest of the request; instead
the whole block is built once and its CR, LF and NUL are counted: a valid block has exactly one CR
and one LF per header (the line ends) and no NUL. Only when that count is off do we look for the
culprit, to name it in the error."""

from __future__ import annotations

import re
from collections.abc import Mapping

from unillm.gateway.upstream.h1.errors import InvalidHeader

# RFC 9110 token characters
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# The client frames the message itself: a caller's Host, Content-Length or Transfer-Encoding would
# contradict the head it writes (request smuggling), so they are dropped rather than sent.
CLIENT_SET = frozenset({"host", "content-length", "transfer-encoding"})
# name -> True (send) / False (drop). Names repeat endlessly (Authorization, Content-Type, ...), so
# each distinct name is validated once. Bounded so that a caller inventing names cannot grow it.
_verdicts: dict[str, bool] = {}
_MAX_VERDICTS = 4096


def _judge(name: str) -> bool:
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        # the name itself is not quoted: a malformed "name" may well be a misplaced secret
        raise InvalidHeader("a header name is empty or has characters not allowed in an HTTP token")
    keep = name.lower() not in CLIENT_SET
    if len(_verdicts) >= _MAX_VERDICTS:
        _verdicts.clear()
    _verdicts[name] = keep
    return keep


def encode_headers(headers: Mapping[str, str]) -> bytes:
    """`Name: value\\r\\n` lines for the caller's headers, UTF-8 encoded; Host, Content-Length and
    Transfer-Encoding are dropped (the client writes its own). Raises InvalidHeader."""
    lines = []
    for name, value in headers.items():
        keep = _verdicts.get(name)
        if keep is None:
            keep = _judge(name)
        if keep:
            lines.append(f"{name}: {value}\r\n")
    block = "".join(lines)
    count = len(lines)
    if block.count("\n") != count or block.count("\r") != count or "\0" in block:
        _raise_for_bad_value(headers)
    try:
        return block.encode()
    except UnicodeEncodeError:
        pass
    # raised outside the except block so that the UnicodeEncodeError, which quotes the whole
    # header block, does not travel along as __context__
    raise InvalidHeader("a header value is not encodable as UTF-8 (lone surrogate)")


def _raise_for_bad_value(headers: Mapping[str, str]) -> None:
    for name, value in headers.items():
        text = str(value)
        if "\r" in text or "\n" in text or "\0" in text:
            # the name is a validated token by now, safe to show; the value never is
            raise InvalidHeader(f"the value of header {name!r} contains CR, LF or NUL")
    raise InvalidHeader("a header value contains CR, LF or NUL")  # pragma: no cover - defensive
