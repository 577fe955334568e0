"""The counters' own Redis client: RESP2 parsing of replies cut anywhere, URLs, pipelining in order,
failures that fail every pending call at once, cancellation that keeps replies matched, NOSCRIPT, TLS.

Scripted failures run against `FakeRedis`, a small RESP server on 127.0.0.1 whose answers each test
writes; the rest runs against the real Redis under the test's own key prefix.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from unillm.access.quota.redis import RedisCounter
from unillm.access.quota.resp import (
    ErrorReply,
    RedisAddress,
    Reply,
    ReplyError,
    RespClient,
    RespConnectionError,
    RespParser,
    Script,
    _Connection,
    encode_command,
)
from unillm.errors import ConfigError, CounterStoreUnavailable

DAY = date(2026, 3, 1)

# ---------------------------------------------------------------- parser


def _line(data: bytes) -> bytes:
    return data.replace(b"\r", b"").replace(b"\n", b"")


_error_text = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"))
_scalars: st.SearchStrategy[tuple[bytes, Reply]] = st.one_of(
    st.integers(-(2**63), 2**63 - 1).map(lambda n: (b":%d\r\n" % n, n)),
    st.binary(max_size=40).map(lambda b: (b"$%d\r\n%s\r\n" % (len(b), b), b)),  # may hold \r\n itself
    st.just((b"$-1\r\n", None)),
    st.just((b"*-1\r\n", None)),
    st.binary(max_size=20).map(_line).map(lambda b: (b"+%s\r\n" % b, b)),
    _error_text.map(lambda t: (b"-%s\r\n" % t.encode(), ErrorReply(t))),
)
replies_strategy = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4).map(
        lambda items: (b"*%d\r\n" % len(items) + b"".join(wire for wire, _ in items),
                       [value for _, value in items])),
    max_leaves=15)


@settings(max_examples=300)
@given(st.lists(replies_strategy, min_size=1, max_size=6), st.data())
def test_parser_reads_any_split_of_the_stream(replies: list[tuple[bytes, Reply]],
                                              data: st.DataObject) -> None:
    stream = b"".join(wire for wire, _ in replies)
    cuts = sorted(data.draw(st.sets(st.integers(0, len(stream)), max_size=12), label="cuts"))
    parser = RespParser()
    parsed: list[Reply] = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        parsed += parser.feed(stream[start:end])
    assert parsed == [value for _, value in replies]


@pytest.mark.parametrize("wire", [b"?what\r\n", b":12x\r\n", b"$3\r\nabcd\r\n", b"*x\r\n"])
def test_parser_refuses_malformed_replies(wire: bytes) -> None:
    with pytest.raises(RespConnectionError, match="malformed reply"):
        RespParser().feed(wire)


def test_commands_are_arrays_of_bulk_strings() -> None:
    assert encode_command([b"EVALSHA", "k\u00e9y", 12, -1]) == \
        b"*4\r\n$7\r\nEVALSHA\r\n$4\r\nk\xc3\xa9y\r\n$2\r\n12\r\n$2\r\n-1\r\n"
    assert RespParser().feed(encode_command([b"GET", b"a\r\nb"])) == [[b"GET", b"a\r\nb"]]


# ---------------------------------------------------------------- URLs


@pytest.mark.parametrize(("url", "expected"), [
    ("redis://127.0.0.1", RedisAddress(host="127.0.0.1")),
    ("redis://u%40x:p%3Aw@h:7000/3", RedisAddress(host="h", port=7000, db=3, username="u@x", password="p:w")),
    ("redis://:pw@h/2", RedisAddress(host="h", db=2, password="pw")),
    ("redis://h/2?db=5&password=pw", RedisAddress(host="h", db=5, password="pw")),
    ("redis://[::1]:6380", RedisAddress(host="::1", port=6380)),
    ("unix://:pw@/run/redis.sock?db=4", RedisAddress(unix_path="/run/redis.sock", db=4, password="pw")),
])
def test_urls(url: str, expected: RedisAddress) -> None:
    assert RedisAddress.from_url(url) == expected


def test_where_and_repr_never_hold_the_password() -> None:
    assert RedisAddress.from_url("redis://user:s3cret@10.0.0.1:7000/2").where == "10.0.0.1:7000/2"
    assert RedisAddress.from_url("redis://[::1]").where == "[::1]:6379/0"
    assert RedisAddress.from_url("unix:///tmp/r.sock?db=1").where == "unix:/tmp/r.sock?db=1"
    assert "s3cret" not in repr(RedisAddress.from_url("rediss://:s3cret@h"))


@pytest.mark.parametrize(("url", "message"), [
    ("http://h", "unsupported scheme"),
    ("redis://:s3cret@h/0?socket_timeout=5", "unsupported option"),
    ("redis://:s3cret@h/zero", "whole number"),
    ("rediss://:s3cret@h/0?ssl_cert_reqs=maybe", "ssl_cert_reqs"),
    ("unix://", "socket path"),
])
def test_unusable_urls_are_a_config_error(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        RedisCounter(url, key_prefix="x:")
    assert "s3cret" not in caught.value.message


def test_tls_options() -> None:
    address = RedisAddress.from_url("rediss://h")
    assert address.tls is not None and address.tls.verify_mode == ssl.CERT_REQUIRED
    assert address.tls.check_hostname
    relaxed = RedisAddress.from_url("rediss://h?ssl_cert_reqs=none").tls
    assert relaxed is not None and relaxed.verify_mode == ssl.CERT_NONE and not relaxed.check_hostname
    assert RedisAddress.from_url("redis://h").tls is None


# ---------------------------------------------------------------- one connection, unit level


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def abort(self) -> None:
        self.aborted = True

    def close(self) -> None:
        pass


async def test_commands_of_one_tick_go_out_in_one_write_in_call_order() -> None:
    connection = _Connection(asyncio.get_running_loop(), 2.0)
    transport = RecordingTransport()
    connection.connection_made(transport)
    futures = [connection.request(encode_command([b"GET", name])) for name in (b"a", b"b", b"c")]
    await asyncio.sleep(0)  # one loop turn: the flush scheduled by the first request runs
    assert transport.writes == [b"".join(encode_command([b"GET", n]) for n in (b"a", b"b", b"c"))]
    connection.data_received(b"$1\r\nA\r\n$1")  # a reply cut in the middle
    assert futures[0].result() == b"A" and not futures[1].done()
    connection.data_received(b"\r\nB\r\n-ERR no\r\n")
    assert futures[1].result() == b"B"
    error = futures[2].exception()
    assert isinstance(error, ReplyError) and error.code == "ERR"
    assert not connection.broken


async def test_a_reply_nobody_asked_for_breaks_the_connection() -> None:
    connection = _Connection(asyncio.get_running_loop(), 2.0)
    transport = RecordingTransport()
    connection.connection_made(transport)
    connection.data_received(b":1\r\n")
    assert connection.broken and transport.aborted
    with pytest.raises(RespConnectionError):
        connection.request(encode_command([b"GET", b"a"]))


# ---------------------------------------------------------------- a scripted server

Answer = Callable[[list[bytes], int], Awaitable[bytes | None]]
CLOSE = b"<close the connection>"


async def default_answer(command: list[bytes], connection: int) -> bytes | None:
    """AUTH and SELECT say OK; GET answers with the key itself, so each caller can check its reply."""
    if command[0] in (b"AUTH", b"SELECT"):
        return b"+OK\r\n"
    if command[0] == b"GET":
        return b"$%d\r\n%s\r\n" % (len(command[1]), command[1])
    return b"-ERR unknown command\r\n"


class FakeRedis:
    """Records every command it receives; answers them in order through `answer` (None: no reply)."""

    def __init__(self, answer: Answer = default_answer) -> None:
        self.answer = answer
        self.commands: list[list[bytes]] = []
        self.connections = 0
        self.arrived = asyncio.Event()
        self.open: list[FakeConnection] = []

    async def wait_for_commands(self, count: int) -> None:
        while len(self.commands) < count:
            self.arrived.clear()
            await self.arrived.wait()

    async def stop(self) -> None:
        for connection in self.open:
            connection.transport.close()
            connection.responder.cancel()
        await asyncio.gather(*(c.responder for c in self.open), return_exceptions=True)
        await asyncio.gather(*(c.closed for c in self.open))


class FakeConnection(asyncio.Protocol):
    def __init__(self, fake: FakeRedis) -> None:
        self.fake = fake
        self.parser = RespParser()
        self.queue: asyncio.Queue[list[bytes]] = asyncio.Queue()
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's do not subclass asyncio.Transport
        self.fake.connections += 1
        self.responder = asyncio.create_task(self._respond(self.fake.connections))
        self.fake.open.append(self)

    def data_received(self, data: bytes) -> None:
        for command in self.parser.feed(data):
            assert isinstance(command, list)
            self.fake.commands.append(command)  # type: ignore[arg-type]
            self.queue.put_nowait(command)  # type: ignore[arg-type]
        self.fake.arrived.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.responder.cancel()
        self.closed.set_result(None)

    async def _respond(self, connection: int) -> None:
        while True:
            reply = await self.fake.answer(await self.queue.get(), connection)
            if reply == CLOSE:
                self.transport.close()
                return
            if reply is not None:
                self.transport.write(reply)


@asynccontextmanager
async def fake_redis(answer: Answer = default_answer, *, tls: ssl.SSLContext | None = None,
                     unix_path: Path | None = None) -> AsyncIterator[tuple[FakeRedis, int]]:
    fake = FakeRedis(answer)
    loop = asyncio.get_running_loop()
    if unix_path is not None:
        server = await loop.create_unix_server(lambda: FakeConnection(fake), unix_path)
        port = 0
    else:
        server = await loop.create_server(lambda: FakeConnection(fake), "127.0.0.1", 0, ssl=tls)
        port = server.sockets[0].getsockname()[1]
    try:
        yield fake, port
    finally:
        server.close()
        await fake.stop()
        await server.wait_closed()


@asynccontextmanager
async def client_of(url: str, *, timeout: float = 2.0) -> AsyncIterator[RespClient]:
    client = RespClient(RedisAddress.from_url(url), timeout=timeout)
    try:
        yield client
    finally:
        await client.aclose()


async def test_handshake_sends_auth_and_select_once_for_many_callers() -> None:
    async with fake_redis() as (fake, port):
        async with client_of(f"redis://reader:pw@127.0.0.1:{port}/3") as client:
            replies = await asyncio.gather(*(client.get(f"k{i}") for i in range(20)))
            assert replies == [f"k{i}".encode() for i in range(20)]
        assert fake.connections == 1
        assert fake.commands[:2] == [[b"AUTH", b"reader", b"pw"], [b"SELECT", b"3"]]
        async with client_of(f"redis://:pw@127.0.0.1:{port}") as client:
            await client.get("k")
        assert fake.commands[-2:] == [[b"AUTH", b"pw"], [b"GET", b"k"]]  # db 0: no SELECT


async def test_wrong_password_is_counter_store_unavailable_without_the_password() -> None:
    async def refuse(command: list[bytes], connection: int) -> bytes | None:
        return b"-WRONGPASS invalid username-password pair\r\n"

    async with fake_redis(refuse) as (_, port):
        counter = RedisCounter(f"redis://:s3cret-pw@127.0.0.1:{port}/0", key_prefix="x:")
        try:
            with pytest.raises(CounterStoreUnavailable, match=rf"127\.0\.0\.1:{port}/0.*WRONGPASS") as caught:
                await counter.used(user_id="a", rule_key="r", day=DAY)
            assert "s3cret-pw" not in caught.value.message
        finally:
            await counter.aclose()


async def test_a_lost_connection_fails_every_pending_call_and_the_next_call_reconnects() -> None:
    async def hold_then_close(command: list[bytes], connection: int) -> bytes | None:
        if connection == 1:
            return CLOSE if command[1] == b"third" else None
        return await default_answer(command, connection)

    async with fake_redis(hold_then_close) as (fake, port), client_of(f"redis://127.0.0.1:{port}") as client:
        results = await asyncio.gather(*(client.get(name) for name in ("first", "second", "third")),
                                       return_exceptions=True)
        assert all(isinstance(r, RespConnectionError) and "closed by Redis" in str(r) for r in results)
        assert await client.get("again") == b"again"
        assert fake.connections == 2


async def test_an_overdue_reply_fails_every_pending_call_and_the_next_call_reconnects() -> None:
    async def silent_at_first(command: list[bytes], connection: int) -> bytes | None:
        return None if connection == 1 else await default_answer(command, connection)

    async with fake_redis(silent_at_first) as (fake, port), \
            client_of(f"redis://127.0.0.1:{port}", timeout=0.1) as client:
        results = await asyncio.gather(*(client.get(f"k{i}") for i in range(3)), return_exceptions=True)
        assert all(isinstance(r, RespConnectionError) and "no reply within 0.1 s" in str(r) for r in results)
        assert await client.get("later") == b"later"
        assert fake.connections == 2


async def test_a_malformed_reply_fails_every_pending_call() -> None:
    async def garbage(command: list[bytes], connection: int) -> bytes | None:
        return b"%oops\r\n" if connection == 1 else await default_answer(command, connection)

    async with fake_redis(garbage) as (_, port), client_of(f"redis://127.0.0.1:{port}") as client:
        results = await asyncio.gather(client.get("a"), client.get("b"), return_exceptions=True)
        assert all(isinstance(r, RespConnectionError) and "malformed" in str(r) for r in results)
        assert await client.get("c") == b"c"


async def test_a_cancelled_caller_leaves_the_replies_matched() -> None:
    gate = asyncio.Event()

    async def held(command: list[bytes], connection: int) -> bytes | None:
        await gate.wait()
        return await default_answer(command, connection)

    async with fake_redis(held) as (fake, port), client_of(f"redis://127.0.0.1:{port}") as client:
        calls = {name: asyncio.create_task(client.get(name)) for name in ("a", "b", "c", "d")}
        await fake.wait_for_commands(4)
        calls["b"].cancel()
        calls["c"].cancel()
        gate.set()
        assert await calls["a"] == b"a"
        assert await calls["d"] == b"d"
        assert calls["b"].cancelled() and calls["c"].cancelled()
        assert await client.get("e") == b"e"
        assert fake.connections == 1


async def test_aclose_fails_pending_calls_and_a_later_call_reconnects() -> None:
    async def silent_at_first(command: list[bytes], connection: int) -> bytes | None:
        return None if connection == 1 else await default_answer(command, connection)

    async with fake_redis(silent_at_first) as (fake, port), client_of(f"redis://127.0.0.1:{port}") as client:
        pending = asyncio.create_task(client.get("a"))
        await fake.wait_for_commands(1)
        await client.aclose()
        with pytest.raises(RespConnectionError, match="closed by the client"):
            await pending
        assert await client.get("b") == b"b"
        assert fake.connections == 2


async def test_aclose_during_a_connect_fails_its_callers_with_a_connection_error() -> None:
    gate = asyncio.Event()

    async def slow_auth(command: list[bytes], connection: int) -> bytes | None:
        if command[0] == b"AUTH":
            await gate.wait()
        return await default_answer(command, connection)

    async with fake_redis(slow_auth) as (fake, port), client_of(f"redis://:pw@127.0.0.1:{port}") as client:
        calls = [asyncio.create_task(client.get(name)) for name in ("a", "b")]
        await fake.wait_for_commands(1)  # the AUTH of the shared connect
        closing = asyncio.create_task(client.aclose())
        gate.set()
        await closing
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(r, RespConnectionError) for r in results), results
        assert fake.connections == 1


async def test_noscript_loads_the_script_by_eval_and_retries_once() -> None:
    script = Script.of("return 7")

    async def without_cache(command: list[bytes], connection: int) -> bytes | None:
        if command[0] == b"EVALSHA":
            return b"-NOSCRIPT No matching script. Please use EVAL.\r\n"
        return b":7\r\n" if command[0] == b"EVAL" else await default_answer(command, connection)

    async with fake_redis(without_cache) as (fake, port), client_of(f"redis://127.0.0.1:{port}") as client:
        assert await client.evalsha(script, [b"k"], [1]) == 7
        assert fake.commands == [[b"EVALSHA", script.sha, b"1", b"k", b"1"],
                                 [b"EVAL", b"return 7", b"1", b"k", b"1"]]


async def test_other_error_replies_are_not_retried() -> None:
    async def busy(command: list[bytes], connection: int) -> bytes | None:
        return b"-BUSY Redis is busy running a script\r\n"

    async with fake_redis(busy) as (fake, port), client_of(f"redis://127.0.0.1:{port}") as client:
        with pytest.raises(ReplyError, match="BUSY"):
            await client.evalsha(Script.of("return 1"), [b"k"], [])
        assert len(fake.commands) == 1


def _self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


async def test_rediss_speaks_tls_and_checks_the_certificate(tmp_path: Path) -> None:
    cert_path, key_path = _self_signed_certificate(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_path, key_path)
    async with fake_redis(tls=server_tls) as (_, port):
        async with client_of(f"rediss://:pw@127.0.0.1:{port}/1?ssl_ca_certs={cert_path}") as client:
            assert await client.get("over-tls") == b"over-tls"
        async with client_of(f"rediss://127.0.0.1:{port}") as client:  # the system CAs do not know it
            with pytest.raises(RespConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.get("k")


async def test_unix_socket(tmp_path: Path) -> None:
    path = tmp_path / "redis.sock"
    async with fake_redis(unix_path=path) as (fake, _), client_of(f"unix://{path}?db=2") as client:
        assert await client.get("k") == b"k"
        assert fake.commands == [[b"SELECT", b"2"], [b"GET", b"k"]]


# ---------------------------------------------------------------- the real Redis


async def test_many_concurrent_calls_with_cancellations_on_real_redis(redis_url: str,
                                                                      redis_key_prefix: str) -> None:
    async with client_of(redis_url) as client:
        keys = [f"{redis_key_prefix}fifo:{i}" for i in range(300)]
        assert await asyncio.gather(*(client.execute(b"SET", key, i) for i, key in enumerate(keys))) == \
            [b"OK"] * len(keys)
        calls = [asyncio.create_task(client.get(key)) for key in keys]
        await asyncio.sleep(0)  # every call has queued its command
        for call in calls[::3]:
            call.cancel()
        for i, call in enumerate(calls):
            if i % 3:
                assert await call == str(i).encode()
        assert await client.get(keys[0]) == b"0"


async def test_noscript_fallback_on_real_redis(redis_url: str) -> None:
    script = Script.of(f"-- {uuid.uuid4().hex}\nreturn tonumber(ARGV[1]) + 1")  # never loaded before
    async with client_of(redis_url) as client:
        assert await client.execute(b"SCRIPT", b"EXISTS", script.sha) == [0]
        assert await client.evalsha(script, [], [41]) == 42
        assert await client.execute(b"SCRIPT", b"EXISTS", script.sha) == [1]
        assert await client.evalsha(script, [], [1]) == 2


async def test_counter_reconnects_after_aclose(redis_url: str, redis_key_prefix: str) -> None:
    counter = RedisCounter(redis_url, key_prefix=redis_key_prefix)
    try:
        assert await counter.reserve(user_id="a", rule_key="r", day=DAY, limit=3) == 2
        await counter.aclose()
        assert await counter.reserve(user_id="a", rule_key="r", day=DAY, limit=3) == 1
        assert await counter.used(user_id="a", rule_key="r", day=DAY) == 2
    finally:
        await counter.aclose()
