"""The gateway benchmark: the mock upstream direct, unillm (SQLite; PostgreSQL + Redis) and LiteLLM
in front of the same mock, side by side in one run.

Why one script: the numbers only mean something next to each other, taken on the same machine in
the same minutes. Cells run one at a time (the machine has 2 cores) and rounds interleave the
targets, so a noisy neighbour slows every row alike instead of one. See bench/README.md.

    uv run python bench/run.py [--quick] [--only direct,unillm-sqlite,unillm-pg,litellm]
                               [--rounds N] [--duration S] [--loadgen auto|wrk|python]
    uv run python bench/run.py --soak 600
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import litellm_setup
import loadgen
import unillm_setup
from unillm_setup import Unavailable

BENCH_DIR = Path(__file__).resolve().parent
TARGETS = ("direct", "unillm-sqlite", "unillm-pg", "litellm")
CELLS = (("json", 1), ("json", 50), ("stream", 1), ("stream", 50))
# LiteLLM 1.103.7, one worker, from the issue: used for the ratio when the LiteLLM row is missing.
LITELLM_REFERENCE_RPS = {("json", 1): 80.0, ("json", 50): 95.0, ("stream", 50): 40.0}
TARGET_RATIO = 20.0
TARGET_ADDED_P50_MS = 1.0
TARGET_RSS_GROWTH = 10.0


@dataclass
class Target:
    name: str
    url: str  # the chat completions URL the load generator POSTs to
    headers: dict[str, str]
    model: str
    pid: int  # the process whose CPU time and RSS are measured (with its children)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def request_body(model: str, stream: bool) -> bytes:
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": 32,
        "messages": [{"role": "user", "content": "Say hello in five words."}],
    }
    if stream:
        body["stream"] = True
    return json.dumps(body).encode()


def smoke_test(target: Target) -> None:
    """One non-streaming and one streaming request must answer 200 (streaming must end in [DONE])."""
    for stream in (False, True):
        headers = {"Content-Type": "application/json", **target.headers}
        request = urllib.request.Request(
            target.url, data=request_body(target.model, stream), method="POST", headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode(errors="replace")
            raise Unavailable(f"smoke request (stream={stream}) -> {exc.code} {detail}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise Unavailable(f"smoke request (stream={stream}) failed: {exc}") from exc
        if stream and b"[DONE]" not in raw:
            raise Unavailable(f"streaming answer did not end with [DONE]: {raw[-200:]!r}")


class Bench:
    """Owns every process, scratch database and Redis key the run creates, and removes them all."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.tmp = Path(tempfile.mkdtemp(prefix="unillm-bench-"))
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.load: loadgen.LoadRun | None = None
        self.pg_databases: list[str] = []
        self.redis_prefix = f"unillm-bench-{os.getpid()}-{secrets.token_hex(3)}:"
        self.redis_used = False
        self.mock_base_url = ""

    def start(self, name: str, cmd: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
        """Start a server in its own session (so Ctrl-C reaches only us, and we stop its whole group)."""
        with open(self.run_dir / f"{name}.log", "ab") as log:
            process = subprocess.Popen(
                cmd, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        self.processes.append((name, process))
        return process

    def wait_ready(self, name: str, process: subprocess.Popen[bytes], url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise Unavailable(f"exited with {process.returncode} at start; {self.log_tail(name)}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status < 500:
                        return
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise Unavailable(f"not ready after {timeout:.0f} s; {self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 6) -> str:
        path = self.run_dir / f"{'mock' if name == 'direct' else name}.log"
        text = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
        return "log: " + " | ".join(text[-lines:]) if text else f"see {path}"

    def stop(self, name: str) -> None:
        for proc_name, process in list(self.processes):
            if proc_name != name:
                continue
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
                except ProcessLookupError:
                    pass
            self.processes.remove((proc_name, process))

    def start_mock(self) -> Target:
        port = free_port()
        cmd = [sys.executable, str(BENCH_DIR / "mock_upstream.py"), "--port", str(port)]
        process = self.start("mock", cmd, dict(os.environ), self.tmp)
        self.wait_ready("mock", process, f"http://127.0.0.1:{port}/healthz", 20)
        self.mock_base_url = f"http://127.0.0.1:{port}/v1"
        url = f"{self.mock_base_url}/chat/completions"
        return Target("direct", url, {"Authorization": "Bearer sk-mock"}, "gpt-4o-mini", process.pid)

    def start_unillm(self, name: str, *, postgres: bool) -> Target:
        data_dir = self.tmp / name
        data_dir.mkdir()
        redis_url = None
        if postgres:
            database, database_url = unillm_setup.create_pg_database()
            self.pg_databases.append(database)
            unillm_setup.check_redis()
            redis_url, self.redis_used = unillm_setup.REDIS_URL, True
        else:
            database_url = f"sqlite:///{data_dir / 'unillm.db'}"
        admin_key = unillm_setup.new_admin_key()
        env = unillm_setup.environment(
            database_url=database_url, data_dir=data_dir, admin_key=admin_key, redis_url=redis_url,
            redis_prefix=self.redis_prefix,
        )  # fmt: skip
        unillm_setup.migrate(env, data_dir)
        port = free_port()
        serve = [*unillm_setup.command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-migrate"]
        process = self.start(name, serve, env, data_dir)
        base_url = f"http://127.0.0.1:{port}"
        self.wait_ready(name, process, f"{base_url}/healthz", 90)
        key, model = unillm_setup.setup_unillm(base_url, admin_key, self.mock_base_url)
        auth = {"Authorization": f"Bearer {key}"}
        return Target(name, f"{base_url}/v1/chat/completions", auth, model, process.pid)

    def start_litellm(self) -> Target:
        try:
            executable = litellm_setup.ensure_venv()
        except litellm_setup.LitellmUnavailable as exc:
            raise Unavailable(str(exc)) from exc
        workdir = self.tmp / "litellm"
        workdir.mkdir()
        config = litellm_setup.write_config(workdir / "config.yaml", self.mock_base_url)
        port = free_port()
        cmd = litellm_setup.command(executable, config, port)
        process = self.start("litellm", cmd, litellm_setup.environment(), workdir)
        self.wait_ready("litellm", process, f"http://127.0.0.1:{port}/health/liveliness", 180)
        auth = {"Authorization": f"Bearer {litellm_setup.MASTER_KEY}"}
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        return Target("litellm", url, auth, litellm_setup.MODEL, process.pid)

    def cleanup(self) -> None:
        if self.load is not None:
            self.load.stop()
        for name in reversed([n for n, _ in self.processes]):
            self.stop(name)
        if self.pg_databases:
            try:
                unillm_setup.drop_pg_databases(self.pg_databases)
            except Exception as exc:
                print(f"warning: could not drop {self.pg_databases}: {exc}", file=sys.stderr)
        if self.redis_used:
            try:
                unillm_setup.delete_redis_keys(self.redis_prefix)
            except Exception as exc:
                print(f"warning: could not delete Redis keys {self.redis_prefix}*: {exc}", file=sys.stderr)
        shutil.rmtree(self.tmp, ignore_errors=True)


def measure(
    bench: Bench, target: Target, mode: str, concurrency: int, duration: float, wrk: str | None
) -> dict[str, Any]:
    """One cell run: load for `duration` seconds; the target's CPU delta over completed requests."""
    body = request_body(target.model, stream=(mode == "stream"))
    cpu_before = loadgen.cpu_seconds(target.pid)
    bench.load = loadgen.start_load(
        wrk=wrk, url=target.url, body=body, headers=target.headers, concurrency=concurrency,
        duration_s=duration,
    )  # fmt: skip
    result = bench.load.result(timeout=duration + 120)
    bench.load = None
    cpu_used = loadgen.cpu_seconds(target.pid) - cpu_before
    row: dict[str, Any] = result.as_dict()
    row["cpu_ms_per_req"] = round(cpu_used * 1000 / result.requests, 4) if result.requests else None
    return row


def run_matrix(
    bench: Bench, targets: list[Target], args: argparse.Namespace, wrk: str | None, failed: dict[str, str]
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Warm every target up, then run the rounds; a target that dies is dropped and reported in `failed`."""
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {t.name: {} for t in targets}
    alive = list(targets)

    def attempt(target: Target, mode: str, concurrency: int, duration: float) -> dict[str, Any] | None:
        try:
            return measure(bench, target, mode, concurrency, duration, wrk)
        except (loadgen.MeasurementError, RuntimeError) as exc:
            failed[target.name] = f"failed during the run: {exc}; {bench.log_tail(target.name)}"
            print(f"{target.name}: {failed[target.name]}", flush=True)
            alive.remove(target)
            bench.stop(target.name)
            return None

    warmup = 1.0 if args.quick else 2.0
    for target in list(alive):  # warm-up: connection pools, caches, lazy imports; not measured
        for mode in ("json", "stream"):
            if target in alive:
                attempt(target, mode, 8, warmup)
    for round_number in range(1, args.rounds + 1):
        for mode, concurrency in CELLS:
            for target in list(alive):
                row = attempt(target, mode, concurrency, args.duration)
                if row is None:
                    continue
                runs[target.name].setdefault(f"{mode}:{concurrency}", []).append(row)
                print(
                    f"  round {round_number}/{args.rounds} {target.name:<14} {mode:<6} c={concurrency:<3} "
                    f"{row['rps']:>9.1f} req/s  p50 {row['p50_ms']:.3f} ms  errors {row['errors']}",
                    flush=True,
                )
                time.sleep(0.3)
    return runs


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def print_report(summary: dict[str, dict[str, dict[str, Any]]], unavailable: dict[str, str]) -> None:
    header = ("target", "mode", "conc", "req/s", "p50 ms", "p99 ms", "CPU ms/req", "errors")
    widths = (15, 8, 5, 11, 10, 10, 12, 8)
    print(
        "\n"
        + "".join(
            f"{h:<{w}}" if i < 2 else f"{h:>{w}}" for i, (h, w) in enumerate(zip(header, widths, strict=True))
        )
    )
    print("-" * sum(widths))
    for name, cells in summary.items():
        for mode, concurrency in CELLS:
            cell = cells.get(f"{mode}:{concurrency}")
            if not cell:
                continue
            values = (
                _fmt(cell["rps"], 1), _fmt(cell["p50_ms"], 3), _fmt(cell["p99_ms"], 3),
                _fmt(cell["cpu_ms_per_req"], 3), str(cell["errors"]),
            )  # fmt: skip
            print(
                f"{name:<15}{mode:<8}{concurrency:>5}"
                + "".join(f"{v:>{w}}" for v, w in zip(values, widths[3:], strict=True))
            )
    for name, reason in unavailable.items():
        print(f"{name}: not available ({reason})")
    unillm_names = [n for n in summary if n.startswith("unillm")]
    baseline = "litellm" if "litellm" in summary else None
    if unillm_names:
        title = "measured LiteLLM" if baseline else "the issue's LiteLLM reference figures (no LiteLLM row)"
        print(f"\nunillm req/s vs {title}; target >= {TARGET_RATIO:.0f}x at c=50:")
        for name in unillm_names:
            parts = []
            for mode, concurrency in CELLS:
                ours = summary[name].get(f"{mode}:{concurrency}", {}).get("rps")
                if baseline:
                    theirs = summary[baseline].get(f"{mode}:{concurrency}", {}).get("rps")
                else:
                    theirs = LITELLM_REFERENCE_RPS.get((mode, concurrency))
                parts.append(
                    f"{mode} c={concurrency}: " + (f"{ours / theirs:.1f}x" if ours and theirs else "-")
                )
            print(f"  {name:<15}" + "   ".join(parts))
    direct = summary.get("direct")
    if direct and len(summary) > 1:
        print(f"\nadded p50 vs direct at c=1; target for unillm <= {TARGET_ADDED_P50_MS} ms:")
        for name, cells in summary.items():
            if name == "direct":
                continue
            parts = []
            for mode in ("json", "stream"):
                ours, base = (
                    cells.get(f"{mode}:1", {}).get("p50_ms"),
                    direct.get(f"{mode}:1", {}).get("p50_ms"),
                )
                parts.append(
                    f"{mode}: " + ("-" if ours is None or base is None else f"{ours - base:+.3f} ms")
                )
            print(f"  {name:<15}" + "   ".join(parts))


def start_targets(bench: Bench, names: list[str], mock: Target, unavailable: dict[str, str]) -> list[Target]:
    starters: dict[str, Callable[[], Target]] = {
        "direct": lambda: mock,
        "unillm-sqlite": lambda: bench.start_unillm("unillm-sqlite", postgres=False),
        "unillm-pg": lambda: bench.start_unillm("unillm-pg", postgres=True),
        "litellm": bench.start_litellm,
    }
    targets = []
    for name in names:
        print(f"starting {name} ...", flush=True)
        try:
            target = starters[name]()
            smoke_test(target)
        except Unavailable as exc:
            unavailable[name] = str(exc)
            print(f"{name}: not available ({exc})", flush=True)
            if name != "direct":
                bench.stop(name)
            continue
        targets.append(target)
    return targets


def run_benchmark(bench: Bench, args: argparse.Namespace, wrk: str | None) -> dict[str, Any]:
    unavailable: dict[str, str] = {}
    mock = bench.start_mock()
    targets = start_targets(bench, [n for n in TARGETS if n in args.only], mock, unavailable)
    if not targets:
        raise SystemExit("no target could be started")
    print(
        f"\n{args.rounds} round(s) x {args.duration:g} s per cell; load generator: {wrk or 'python aiohttp'}"
    )
    runs = run_matrix(bench, targets, args, wrk, unavailable)
    summary = {
        name: {key: loadgen.summarise(rows) for key, rows in cells.items()} for name, cells in runs.items()
    }
    print_report(summary, unavailable)
    return {"summary": summary, "runs": runs, "unavailable": unavailable}


SOAK_TARGETS = ("unillm-sqlite", "unillm-pg")


def run_soaks(bench: Bench, seconds: float, names: list[str], wrk: str | None) -> dict[str, Any]:
    """Each unillm target of `names` in turn (both by default), alone on the machine."""
    chosen = [name for name in names if name in SOAK_TARGETS] or list(SOAK_TARGETS)
    bench.start_mock()
    return {name: run_soak(bench, name, seconds, wrk) for name in chosen}


def run_soak(bench: Bench, name: str, seconds: float, wrk: str | None) -> dict[str, Any]:
    """One unillm target, non-streaming, c=50 for `seconds`; RSS every 10 s; growth from t=10 s to the end."""
    target = bench.start_unillm(name, postgres=name == "unillm-pg")
    smoke_test(target)
    measure(bench, target, "json", 8, 2, wrk)
    print(f"\nsoak: {name}, json, c=50 for {seconds:g} s; RSS every 10 s", flush=True)
    cpu_before = loadgen.cpu_seconds(target.pid)
    body = request_body(target.model, False)
    bench.load = loadgen.start_load(
        wrk=wrk, url=target.url, body=body, headers=target.headers, concurrency=50, duration_s=seconds
    )
    started = time.monotonic()
    samples: list[tuple[float, int]] = []
    next_sample = started + 10.0
    while bench.load.running():
        time.sleep(0.2)
        if time.monotonic() >= next_sample and bench.load.running():
            next_sample += 10.0
            samples.append((round(time.monotonic() - started, 1), loadgen.rss_bytes(target.pid)))
            print(f"  t={samples[-1][0]:6.0f} s  RSS {samples[-1][1] / 2**20:8.1f} MiB", flush=True)
    result = bench.load.result(timeout=60)
    bench.load = None
    cpu_ms = (loadgen.cpu_seconds(target.pid) - cpu_before) * 1000 / max(1, result.requests)
    print(
        f"\nsoak {name}: {result.rps:,.1f} req/s, p50 {result.p50_ms:.3f} ms, p99 {result.p99_ms:.3f} ms, "
        f"errors {result.errors}, CPU {cpu_ms:.3f} ms/req"
    )
    growth = None
    if len(samples) >= 2:
        first, last, peak = samples[0][1], samples[-1][1], max(s[1] for s in samples)
        growth = (last - first) / first * 100
        verdict = "PASS" if growth < TARGET_RSS_GROWTH else "FAIL"
        print(
            f"RSS {first / 2**20:.1f} MiB at t=10 s -> {last / 2**20:.1f} MiB at the end (peak "
            f"{peak / 2**20:.1f} MiB): growth {growth:+.1f}% (target < {TARGET_RSS_GROWTH:.0f}%) {verdict}"
        )
    else:
        print("RSS: fewer than two samples; run the soak for at least 20 s")
    bench.stop(name)
    return {
        "soak": result.as_dict(),
        "cpu_ms_per_req": cpu_ms,
        "rss_samples": samples,
        "rss_growth_percent": growth,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="unillm gateway benchmark (see bench/README.md)")
    parser.add_argument("--quick", action="store_true", help="3 s x 1 round per cell")
    parser.add_argument(
        "--only", default=",".join(TARGETS), help=f"comma-separated subset of {','.join(TARGETS)}"
    )
    parser.add_argument("--rounds", type=int, help="rounds per cell (default 3; --quick 1)")
    parser.add_argument("--duration", type=float, help="seconds per cell and round (default 15; --quick 3)")
    parser.add_argument(
        "--soak", type=float, metavar="SECONDS",
        help="each unillm target of --only (default: both) at c=50 for SECONDS; RSS growth",
    )
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    args = parser.parse_args(argv)
    args.only = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(args.only) - set(TARGETS)
    if unknown:
        parser.error(f"unknown target(s) {sorted(unknown)}; choose from {', '.join(TARGETS)}")
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.duration = args.duration or (3.0 if args.quick else 15.0)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    wrk = None if args.loadgen == "python" else loadgen.find_wrk(allow_install=True)
    if args.loadgen == "wrk" and wrk is None:
        raise SystemExit("wrk is not installed and could not be installed")
    run_dir = BENCH_DIR / "results" / time.strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    bench = Bench(run_dir)

    def on_sigterm(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        if args.soak:
            results = run_soaks(bench, args.soak, args.only, wrk)
        else:
            results = run_benchmark(bench, args, wrk)
        results["settings"] = {
            "rounds": args.rounds, "duration_s": args.duration, "soak": args.soak, "loadgen": wrk or "python",
            "cpus": os.cpu_count(),
        }  # fmt: skip
        (run_dir / "results.json").write_text(json.dumps(results, indent=2, default=str))
        print(f"\nresults and server logs: {run_dir}")
    except KeyboardInterrupt:
        print("\ninterrupted: stopping everything", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not abort the clean-up
            signal.signal(signum, signal.SIG_IGN)
        bench.cleanup()


if __name__ == "__main__":
    main()
