"""The RESP2 wire format for `resp.py`: encoding commands and parsing replies from a byte stream
that arrives in arbitrary pieces."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias


@dataclass(frozen=True)
class ErrorReply:
    """An error reply (`-ERR …`) as a value: inside an array it is an element, not a failure."""

    message: str

    @property
    def code(self) -> str:
        return self.message.split(" ", 1)[0]


Reply: TypeAlias = "int | bytes | ErrorReply | list[Reply] | None"
Arg: TypeAlias = "bytes | str | int"


class RespError(Exception):
    """Everything this client raises."""


class ReplyError(RespError):
    """Redis answered this command with an error."""

    def __init__(self, reply: ErrorReply) -> None:
        super().__init__(reply.message)
        self.code = reply.code


class RespConnectionError(RespError):
    """No usable connection: connect failed, connection lost, reply overdue, or malformed reply."""




def encode_command(args: Sequence[Arg]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else arg.encode() if isinstance(arg, str) else b"%d" % arg
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _parse(buffer: bytes, start: int) -> tuple[Reply, int] | None:
    """One reply at `start`: (reply, end), or None when the buffer holds only part of it."""
    line_end = buffer.find(b"\r\n", start)
    if line_end < 0:
        return None
    kind = buffer[start]
    line = buffer[start + 1:line_end]
    end = line_end + 2
    try:
        if kind == 58:  # ':' integer
            return int(line), end
        if kind == 36:  # '$' bulk string
            length = int(line)
            if length < 0:
                return None, end
            if len(buffer) < end + length + 2:
                return None
            if buffer[end + length:end + length + 2] != b"\r\n":
                raise RespConnectionError("malformed reply from Redis: bulk string length mismatch")
            return buffer[end:end + length], end + length + 2
        if kind == 43:  # '+' simple string
            return line, end
        if kind == 45:  # '-' error
            return ErrorReply(line.decode("utf-8", "replace")), end
        if kind == 42:  # '*' array
            count = int(line)
            if count < 0:
                return None, end
            items: list[Reply] = []
            for _ in range(count):
                parsed = _parse(buffer, end)
                if parsed is None:
                    return None
                item, end = parsed
                items.append(item)
            return items, end
    except ValueError:
        # The reply's bytes stay out of the message: it reaches API clients inside a 503.
        raise RespConnectionError(f"malformed reply from Redis: a bad {bytes([kind])!r} line") from None
    raise RespConnectionError(f"malformed reply from Redis: unknown type byte {bytes([kind])!r}")


class RespParser:
    """Turns a byte stream cut anywhere into whole replies.

    Counter replies are a few bytes, so a partial reply is kept as bytes and parsed again from its
    start when more arrives (quadratic only for multi-megabyte replies, which the counters never read).
    """

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, data: bytes) -> list[Reply]:
        buffer = self._rest + data if self._rest else data
        replies: list[Reply] = []
        position = 0
        while position < len(buffer):
            parsed = _parse(buffer, position)
            if parsed is None:
                break
            reply, position = parsed
            replies.append(reply)
        self._rest = buffer[position:]
        return replies
