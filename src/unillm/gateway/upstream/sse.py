"""An incremental server-sent-events parser over the byte chunks a socket delivers.

Network reads cut events anywhere (mid-line, between `\\r` and `\\n`); the decoder keeps the partial
tail and returns only whole events. Comments (`: ping`) and `id`/`retry` fields are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson


@dataclass(slots=True)
class SSEEvent:
    event: str | None
    data: bytes


class SSEDecoder:
    __slots__ = ("_buffer", "_data", "_event")

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []
        self._event: str | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if (not self._buffer and not self._data and self._event is None and chunk.startswith(b"data: ")
                and chunk.find(b"\n") == len(chunk) - 2 and chunk.endswith(b"\n\n") and b"\r" not in chunk):
            return [SSEEvent(None, chunk[6:-2])]  # the common case: one whole single-line event
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\r" in buffer:
            # hold back a trailing \r: its \n may be in the next chunk
            held = buffer.endswith(b"\r")
            if held:
                buffer = buffer[:-1]
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if held:
                buffer += b"\r"
        events: list[SSEEvent] = []
        start = 0
        find = buffer.find
        while True:
            end = find(b"\n", start)
            if end < 0:
                break
            line = buffer[start:end]
            start = end + 1
            if not line:
                if self._data:
                    events.append(SSEEvent(self._event, b"\n".join(self._data)))
                self._data = []
                self._event = None
            elif line.startswith(b"data:"):
                value = line[5:]
                self._data.append(value[1:] if value.startswith(b" ") else value)
            elif line.startswith(b"event:"):
                self._event = line[6:].strip().decode("utf-8", "replace")
            # comments (":"), id, retry and unknown fields are ignored
        self._buffer = buffer[start:]
        return events

    def flush(self) -> list[SSEEvent]:
        """At end of stream: an event not followed by a blank line still counts (servers that close
        right after the last `data:` line)."""
        events = self.feed(b"\n\n") if self._buffer.strip() or self._data else []
        self._buffer = b""
        return events


DONE = b"data: [DONE]\n\n"


def frame(data: bytes) -> bytes:
    return b"data: " + data + b"\n\n"


def error_event(message: str, *, code: str = "upstream_error", error_type: str = "upstream_error") -> bytes:
    """The final event of a stream that failed after its first byte; the OpenAI SDK raises on it."""
    return frame(orjson.dumps({"error": {"message": message, "type": error_type, "param": None,
                                         "code": code}}))
