"""The SSE decoder returns whole events whatever the network splits, and ignores comments."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from unillm.gateway.upstream.sse import SSEDecoder, SSEEvent, error_event

STREAM = (b": keep-alive\n\nevent: message_start\ndata: {\"a\": 1}\n\n"
          b"data: {\"b\":\ndata: 2}\n\nid: 7\nretry: 100\ndata: [DONE]\n\n")
EXPECTED = [SSEEvent("message_start", b'{"a": 1}'), SSEEvent(None, b'{"b":\n2}'), SSEEvent(None, b"[DONE]")]


def decode(chunks: list[bytes]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events = [e for c in chunks for e in decoder.feed(c)]
    return events + decoder.flush()


def test_whole_stream_in_one_chunk() -> None:
    assert decode([STREAM]) == EXPECTED


def test_every_two_way_split_gives_the_same_events() -> None:
    for cut in range(len(STREAM) + 1):
        assert decode([STREAM[:cut], STREAM[cut:]]) == EXPECTED, cut


def test_crlf_and_cr_line_endings_split_between_cr_and_lf() -> None:
    crlf = STREAM.replace(b"\n", b"\r\n")
    for cut in range(len(crlf) + 1):
        assert decode([crlf[:cut], crlf[cut:]]) == EXPECTED, cut
    assert decode([STREAM.replace(b"\n", b"\r")]) == EXPECTED


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=8))
def test_any_split_gives_the_same_events(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    assert decode(chunks) == EXPECTED


def test_last_event_without_blank_line_is_flushed() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: {\"x\": 1}") == []
    assert decoder.flush() == [SSEEvent(None, b'{"x": 1}')]
    assert decoder.flush() == []


def test_data_without_space_and_comment_only_stream() -> None:
    assert decode([b"data:abc\n\n"]) == [SSEEvent(None, b"abc")]
    assert decode([b": ping\n\n: ping\n\n"]) == []


def test_error_event_is_openai_envelope() -> None:
    assert error_event("boom") == (b'data: {"error":{"message":"boom","type":"upstream_error",'
                                   b'"param":null,"code":"upstream_error"}}\n\n')
