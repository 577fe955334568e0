"""A lean asyncio HTTP/1.1 client for the gateway's upstream calls, built on httptools' llhttp parser.

It does one thing — POST a body, get status, headers and a (streamed) body back over a keep-alive
pool — at a fraction of aiohttp's per-request CPU cost (bench/client_bench.py).

    http = UpstreamHttp()
    response = await http.post(url, body=payload, headers={...}, timeouts=Timeouts(connect=5, total=600))
    response.status, response.headers.get("retry-after"), response.content_type
    body = await response.read()            # or: async for piece in response.iter_any(): ...
    response.release()                       # a no-op once the body was consumed to its end
    await http.close()

Semantics worth knowing:
- any status is returned; only transport and protocol failures raise (`UpstreamHttpError` subclasses);
- Host and Content-Length are written by the client (caller's Host/Content-Length/Transfer-Encoding
  are dropped); header values are sent UTF-8 encoded;
- consuming the body to its end returns the connection to the pool by itself; after that `read()`
  returns b"" and `iter_any()` yields nothing; `release()` of a response whose body was not consumed
  to its end closes the connection, as does `close()` or dropping the response unreleased;
- a reused idle connection that the server closed before answering is retried once on a fresh one.
"""

from unillm.gateway.upstream.h1.errors import (
    ClientClosed,
    ConnectFailed,
    ConnectTimeout,
    InvalidHeader,
    InvalidUrl,
    ProtocolError,
    ReadTimeout,
    ServerDisconnected,
    TotalTimeout,
    UpstreamHttpError,
)
from unillm.gateway.upstream.h1.pool import Timeouts, UpstreamHttp
from unillm.gateway.upstream.h1.response import H1Headers, H1Response

__all__ = [
    "ClientClosed",
    "ConnectFailed",
    "ConnectTimeout",
    "H1Headers",
    "H1Response",
    "InvalidHeader",
    "InvalidUrl",
    "ProtocolError",
    "ReadTimeout",
    "ServerDisconnected",
    "Timeouts",
    "TotalTimeout",
    "UpstreamHttp",
    "UpstreamHttpError",
]
