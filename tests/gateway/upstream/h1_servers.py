"""Raw HTTP/1.1 servers on 127.0.0.1 for testing the h1 client: each connection is handed to a
scripted coroutine that reads requests and writes exactly the bytes the test wants (split, stalled,
malformed or cut short), and the server counts the connections it accepted."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


@dataclass
class Peer:
    """The server's side of one accepted connection."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    index: int
    requests: list[Request] = field(default_factory=list)
    eof: asyncio.Event = field(default_factory=asyncio.Event)  # the client closed (or reset) it
    reading: bool = False  # the handler is waiting in request()
    _drainer: asyncio.Task[None] | None = None

    async def request(self) -> Request | None:
        """The next request, or None once the client closed the connection."""
        self.reading = True
        try:
            return await self._request()
        finally:
            self.reading = False

    async def _request(self) -> Request | None:
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            self.eof.set()
            return None
        lines = head[:-4].decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers = [(name.strip(), value.strip())
                   for name, _, value in (line.partition(":") for line in lines[1:])]
        length = next((int(value) for name, value in headers if name.lower() == "content-length"), 0)
        try:
            body = await self.reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError):
            self.eof.set()
            return None
        request = Request(method, target, version, headers, body)
        self.requests.append(request)
        return request

    async def wait_eof(self, timeout: float = 2.0) -> None:
        """Wait until the client closes the connection; anything it still sends is discarded.
        Several tasks may wait at once (the handler and the test); one reader drains the socket."""
        if not self.reading and not self.eof.is_set() and self._drainer is None:
            self._drainer = asyncio.get_running_loop().create_task(self._drain())
        await asyncio.wait_for(self.eof.wait(), timeout)

    async def _drain(self) -> None:
        try:
            while await self.reader.read(65536):
                pass
        except ConnectionError:
            pass
        self.eof.set()

    def send(self, data: bytes) -> None:
        if self.writer.is_closing():  # uvloop raises RuntimeError on a closed transport; be uniform
            raise ConnectionResetError("the client closed the connection")
        self.writer.write(data)

    async def send_drain(self, data: bytes) -> None:
        self.send(data)
        await self.writer.drain()

    def close(self) -> None:
        """Orderly close (FIN)."""
        self.writer.close()

    def reset(self) -> None:
        """Close with a TCP RST (SO_LINGER 0)."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


Handler = Callable[[Peer], Awaitable[None]]


class RawServer:
    """`async with RawServer(handler) as server:` — `server.url()`, `server.accepted`, `server.peers`."""

    def __init__(self, handler: Handler, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.ssl_context = ssl_context
        self.peers: list[Peer] = []
        self.errors: list[BaseException] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def accepted(self) -> int:
        return len(self.peers)

    def url(self, path: str = "/v1/chat/completions", host: str = "127.0.0.1") -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A task of our own rather than the one asyncio.start_server would make of a coroutine
        # callback: cancelling that one at exit makes Python 3.11's streams log a spurious error.
        peer = Peer(reader, writer, len(self.peers))
        self.peers.append(peer)
        task = asyncio.get_running_loop().create_task(self._serve(peer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, peer: Peer) -> None:
        try:
            await self.handler(peer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # a bug in the test's script: report it at exit
            self.errors.append(exc)

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        drainers = [peer._drainer for peer in self.peers if peer._drainer is not None]
        for peer in self.peers:
            peer.writer.transport.abort()
        await asyncio.gather(*self._tasks, *drainers, return_exceptions=True)
        await self._server.wait_closed()
        await asyncio.sleep(0)
        if self.errors and exc_info[0] is None:
            raise self.errors[0]


# -- response bytes ------------------------------------------------------------------------------

def response(status: int = 200, body: bytes = b"", headers: Iterable[tuple[str, str]] = (),
             reason: str = "OK", version: str = "1.1", length: bool = True) -> bytes:
    head = f"HTTP/{version} {status} {reason}\r\n"
    for name, value in headers:
        head += f"{name}: {value}\r\n"
    if length:
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode("latin-1") + b"\r\n" + body


def chunked_head(status: int = 200, headers: Iterable[tuple[str, str]] = (), reason: str = "OK") -> bytes:
    head = f"HTTP/1.1 {status} {reason}\r\nTransfer-Encoding: chunked\r\n"
    for name, value in headers:
        head += f"{name}: {value}\r\n"
    return head.encode("latin-1") + b"\r\n"


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"


def answer_each(make: Callable[[Request], bytes]) -> Handler:
    """Keep-alive handler: answers every request on the connection with `make(request)`."""
    async def handler(peer: Peer) -> None:
        while (request := await peer.request()) is not None:
            await peer.send_drain(make(request))
    return handler


def ok_json(body: bytes = b'{"ok":true}') -> Handler:
    return answer_each(lambda _request: response(200, body, [("Content-Type", "application/json")]))


# -- TLS -----------------------------------------------------------------------------------------

def self_signed(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1: (cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def free_port_refusing() -> int:
    """A 127.0.0.1 port nothing listens on (bound then released)."""
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
