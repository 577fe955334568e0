"""The journal: what a killed process accepted is replayed exactly once; a torn line is skipped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from tests.usage.conftest import make_record
from unillm.config import Settings
from unillm.runtime import Runtime
from unillm.usage.journal import Journal
from unillm.usage.models import DailyCostSummary, UsageLog
from unillm.usage.writer import JOURNAL_DIR, UsageWriter

CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from zoneinfo import ZoneInfo
    from tests.usage.conftest import make_record
    from unillm.db.engine import create_engine, create_session_factory
    from unillm.usage.writer import UsageWriter

    url, journal, count = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    writer = UsageWriter(sessions=create_session_factory(create_engine(url)), tz=ZoneInfo("UTC"),
                         journal_dir=journal, batch_size=10_000)
    for i in range(count):
        writer.submit(make_record(request_id=f"killed-{i}"))
    print("submitted", flush=True)
    time.sleep(60)
""")


async def _rows(runtime: Runtime) -> tuple[int, int]:
    async with runtime.sessions() as session:
        rows = await session.scalar(select(func.count()).select_from(UsageLog))
        rolled = await session.scalar(select(func.coalesce(func.sum(DailyCostSummary.total_requests), 0)))
    return int(rows or 0), int(rolled or 0)


async def test_kill_9_loses_nothing_and_replay_counts_once(runtime: Runtime, database_url: str) -> None:
    journal_dir = Path(runtime.settings.data_dir) / JOURNAL_DIR
    child = subprocess.Popen([sys.executable, "-c", CHILD, database_url, str(journal_dir), "250"],
                             stdout=subprocess.PIPE, cwd=Path(__file__).parents[2])
    assert child.stdout is not None
    assert child.stdout.readline().strip() == b"submitted"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    assert await _rows(runtime) == (0, 0)

    # A write cut short: half a line at the end of a segment.
    segment = sorted(journal_dir.glob("*.jsonl"))[-1]
    with segment.open("ab") as handle:
        handle.write(make_record(request_id="torn").to_json_line()[:40])

    first = UsageWriter.from_runtime(runtime)
    assert first.replay_journal() == 250
    # Replaying the same lines again (as if a crash came after the commit) inserts nothing new.
    again = UsageWriter(sessions=runtime.sessions, tz=ZoneInfo("UTC"), journal_dir=None)
    for i in range(250):
        again.submit(make_record(request_id=f"killed-{i}"))
    await first.flush()
    await again.flush()
    await first.aclose()
    assert await _rows(runtime) == (250, 250)
    assert list(journal_dir.glob("*.jsonl")) == []

    second = UsageWriter.from_runtime(runtime)
    assert second.replay_journal() == 0
    await second.aclose()


def test_segments_rotate_by_size_and_are_deleted_once_acknowledged(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, segment_bytes=2000)
    ids = [journal.append(make_record()) for _ in range(20)]
    assert len(set(ids)) > 1
    assert len(list(tmp_path.glob("*.jsonl"))) == len(set(ids))
    for segment_id in ids:
        journal.ack(segment_id)
    journal.rotate_if_idle()
    assert list(tmp_path.glob("*.jsonl")) == []
    journal.close()


def test_a_live_process_keeps_its_segments_from_other_replayers(tmp_path: Path) -> None:
    owner = Journal.open(tmp_path)
    owner.append(make_record())
    other = Journal.open(tmp_path)
    assert list(other.replay()) == []
    owner.close()  # pending records stay on disk, the lock is released
    replayed = list(other.replay())
    assert len(replayed) == 1
    other.close()


async def test_aclose_keeps_the_journal_when_the_database_stays_down(tmp_path: Path) -> None:
    from unillm.db.engine import create_engine, create_session_factory

    engine = create_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}")
    writer = UsageWriter(sessions=create_session_factory(engine), tz=ZoneInfo("UTC"),
                         journal_dir=tmp_path / "journal")
    writer.submit(make_record())
    await writer.aclose()
    await engine.dispose()
    left = list((tmp_path / "journal").glob("*.jsonl"))
    assert len(left) == 1
    assert len(list(Journal.open(tmp_path / "journal").replay())) == 1


async def test_the_app_replays_the_journal_on_start_and_drains_on_shutdown(settings: Settings) -> None:
    from unillm.app import create_app

    journal_dir = Path(settings.data_dir) / JOURNAL_DIR
    left = Journal.open(journal_dir)
    for i in range(5):
        left.append(make_record(request_id=f"left-{i}"))
    left.close()  # as if the process had died: the lines stay, the lock is gone
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        runtime: Runtime = app.state.runtime
        writer: UsageWriter = runtime.components["usage"]
        writer.submit(make_record(request_id="live"))  # written by the drain at shutdown
    check = Runtime.create(settings)
    try:
        assert await _rows(check) == (6, 6)
    finally:
        await check.close()
    assert list(journal_dir.glob("*.jsonl")) == []
