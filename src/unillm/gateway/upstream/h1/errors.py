"""The errors of the upstream HTTP/1.1 client.

Every message is written so that it can be logged and shown to an operator as is: it may name the
scheme, host, port, a header *name* or an OS error's text, but never a header value (those carry
provider API keys), the request body, or the URL's path and query (some providers put the key there).
"""

from __future__ import annotations

from typing import Literal


class UpstreamHttpError(Exception):
    """Base of every error this client raises."""


class InvalidUrl(UpstreamHttpError):
    """The URL is not an absolute http(s) URL the client can send to (refused before connecting)."""


class InvalidHeader(UpstreamHttpError):
    """A header name or value cannot go on the wire (refused before anything is sent)."""


class ConnectFailed(UpstreamHttpError):
    """No connection: refused, DNS failure, unreachable network, or a failed TLS handshake."""


class ConnectTimeout(UpstreamHttpError, TimeoutError):
    """TCP connect plus TLS handshake of a new connection took longer than `Timeouts.connect`."""


class ReadTimeout(UpstreamHttpError, TimeoutError):
    """The response head, or the next piece of the body, took longer than `Timeouts.read`."""


class TotalTimeout(UpstreamHttpError, TimeoutError):
    """The whole exchange (connect, send, head, body) took longer than `Timeouts.total`."""


class ServerDisconnected(UpstreamHttpError):
    """The server closed or reset the connection before the end of the response.

    `phase` says where: ``"head"`` (nothing, or only part of the status line and headers, arrived)
    or ``"body"`` (the head arrived, the body was cut short)."""

    def __init__(self, message: str, *, phase: Literal["head", "body"]) -> None:
        super().__init__(message)
        self.phase: Literal["head", "body"] = phase


class ProtocolError(UpstreamHttpError):
    """The server's bytes are not a valid HTTP/1.1 response (or ask for a protocol switch)."""


class ClientClosed(UpstreamHttpError):
    """The client, or the response being read, was closed by this side."""
