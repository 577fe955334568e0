"""The usage journal: an append-only local file that holds every usage record until the database
has committed it, so that a crash (even `kill -9`) loses nothing the client was told succeeded.

Why `os.write` on an O_APPEND descriptor and no fsync per line: once `write()` returns the data is in
the kernel's page cache, which survives the death of the process; only a power loss or kernel crash
can lose it, and `sync()` (called periodically by the writer) narrows that window.

Layout: `<data_dir>/usage-journal/<time_ns>-<pid>-<seq>.jsonl` segments. A process writes only its
own segments and holds an exclusive `flock` on each while it is open or pending, so several worker
processes can share one data directory: at start each one replays only segments nobody holds (their
owner died). A segment is deleted once every record in it is committed. Replay is idempotent because
`request_id` is unique in the ledger; a torn last line (a write cut short) is skipped.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from unillm.usage.records import UsageRecord

try:  # pragma: no cover - Windows has no fcntl; segments are then not shared between processes
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("unillm.usage.journal")

DEFAULT_SEGMENT_BYTES = 4 * 1024 * 1024
SUFFIX = ".jsonl"


def _try_lock(fd: int) -> bool:
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


@dataclass(slots=True)
class _Segment:
    path: Path
    fd: int
    pending: int = 0
    size: int = 0
    closed: bool = False


@dataclass
class Journal:
    """Segments of this process: `append` returns the segment id a record went to, `ack` releases it."""

    directory: Path
    segment_bytes: int = DEFAULT_SEGMENT_BYTES
    _segments: dict[int, _Segment] = field(default_factory=dict)
    _current: int | None = None
    _next_id: int = 0
    _dirty: bool = False

    @classmethod
    def open(cls, directory: Path, *, segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> Journal:
        directory.mkdir(parents=True, exist_ok=True)
        return cls(directory=directory, segment_bytes=segment_bytes)

    def _new_segment(self) -> int:
        segment_id = self._next_id
        self._next_id += 1
        path = self.directory / f"{time.time_ns()}-{os.getpid()}-{segment_id}{SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        _try_lock(fd)
        self._segments[segment_id] = _Segment(path=path, fd=fd)
        self._current = segment_id
        return segment_id

    def append(self, record: UsageRecord) -> int:
        """Write one line and return its segment id (to `ack` after the database commit)."""
        line = record.to_json_line()
        segment_id = self._current if self._current is not None else self._new_segment()
        segment = self._segments[segment_id]
        if segment.size and segment.size + len(line) > self.segment_bytes:
            self._retire(segment_id)
            segment_id = self._new_segment()
            segment = self._segments[segment_id]
        written = os.write(segment.fd, line)
        while written < len(line):  # a short write (rare; e.g. interrupted): finish the line
            written += os.write(segment.fd, line[written:])
        segment.size += len(line)
        segment.pending += 1
        self._dirty = True
        return segment_id

    def ack(self, segment_id: int, count: int = 1) -> None:
        """`count` records of the segment are committed; a retired segment with none left is deleted."""
        segment = self._segments.get(segment_id)
        if segment is None:
            return
        segment.pending -= count
        if segment.pending <= 0 and segment_id != self._current:
            self._delete(segment_id)

    def rotate_if_idle(self) -> None:
        """When everything written so far is committed, start a fresh segment and delete the old one,
        so a restart has little to replay."""
        if self._current is None:
            return
        segment = self._segments[self._current]
        if segment.pending <= 0 and segment.size > 0:
            old = self._current
            self._retire(old)
            self._current = None
            self._delete(old)

    def sync(self) -> None:
        """fsync the current segment: bounds what a power loss (not a process crash) can lose."""
        if self._dirty and self._current is not None:
            os.fsync(self._segments[self._current].fd)
            self._dirty = False

    def _retire(self, segment_id: int) -> None:
        segment = self._segments[segment_id]
        if not segment.closed:
            segment.closed = True
        if self._current == segment_id:
            self._current = None

    def _delete(self, segment_id: int) -> None:
        segment = self._segments.pop(segment_id)
        try:
            segment.path.unlink(missing_ok=True)
        finally:
            os.close(segment.fd)  # closing drops the flock

    def replay(self) -> Iterator[tuple[UsageRecord, int]]:
        """Records of orphaned segments (no live process holds them), each with a segment id to ack.

        The segment stays locked by this process until every record is acked, so another process
        starting meanwhile does not replay it too.
        """
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            if any(segment.path == path for segment in self._segments.values()):
                continue
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue  # another process finished it meanwhile
            if not _try_lock(fd):
                os.close(fd)
                continue
            segment_id = self._next_id
            self._next_id += 1
            segment = _Segment(path=path, fd=fd, closed=True)
            self._segments[segment_id] = segment
            records = list(_read_lines(path))
            segment.pending = len(records)
            if not records:
                self._delete(segment_id)
                continue
            for record in records:
                yield record, segment_id

    def pending_segments(self) -> int:
        return len(self._segments)

    def close(self) -> None:
        """Close descriptors (releasing locks); files with pending records stay for the next start."""
        for segment_id in list(self._segments):
            segment = self._segments[segment_id]
            if segment.pending <= 0:
                self._delete(segment_id)
            else:
                os.close(segment.fd)
                del self._segments[segment_id]
        self._current = None


def _read_lines(path: Path) -> Iterator[UsageRecord]:
    data = path.read_bytes()
    lines = data.split(b"\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield UsageRecord.from_json_line(line)
        except (ValueError, KeyError, TypeError, IndexError):
            torn = number == len(lines)  # the last line has no newline: the write was cut short
            logger.warning("usage journal %s line %d %s; skipped", path.name, number,
                           "is torn (partial write)" if torn else "is unreadable")
