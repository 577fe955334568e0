"""Load generation for the gateway benchmark: `wrk` when installed, else a Python aiohttp generator.

Why two: wrk (C, one thread) costs the 2-core machine far less CPU than any Python client, so the
server under test gets the most of the box; the aiohttp generator is the fallback when wrk is missing
and cannot be installed. Both run in their own process, keep connections alive, POST the same JSON
body with the same headers for a fixed duration, and report one JSON document:

    {"requests": completed responses, "errors": non-2xx + socket errors, "non_2xx": ...,
     "socket_errors": ..., "duration_s": ..., "rps": ..., "p50_ms": ..., "p99_ms": ...}

For streaming requests both measure the whole response (until the last chunk), which is what the
benchmark reports.

The aiohttp generator as a command:
    python bench/loadgen.py --url URL --body-file F [--header 'Name: value']... -c 50 -d 15
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WRK_TIMEOUT = "30s"  # a slow gateway at c=50 must not turn into "timeout" errors

_LUA_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\"requests\":%d,\"duration_us\":%d,\"connect\":%d,\"read\":%d,\"write\":%d," ..
    "\"status\":%d,\"timeout\":%d,\"p50_us\":%d,\"p99_us\":%d}\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _lua_string(text: str) -> str:
    level = 1
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[{text}]{eq}]"


def wrk_script(body: bytes, headers: dict[str, str]) -> str:
    """The Lua script that makes wrk POST `body` with `headers` and print a JSON summary."""
    lines = ['wrk.method = "POST"', f"wrk.body = {_lua_string(body.decode())}"]
    lines += [f"wrk.headers[ {_lua_string(name)} ] = {_lua_string(value)}" for name, value in headers.items()]
    return "\n".join(lines) + "\n" + _LUA_DONE


def find_wrk(*, allow_install: bool) -> str | None:
    """The wrk binary; installs the Debian package when missing and allowed (root only)."""
    found = shutil.which("wrk")
    if found or not allow_install or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    print("wrk not found: trying `apt-get install -y wrk` ...", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    attempts = (["apt-get", "install", "-y", "-q", "wrk"], ["apt-get", "update", "-q"])
    for command in (attempts[0], attempts[1], attempts[0]):  # install; if that fails, update and retry
        try:
            done = subprocess.run(
                command,
                env=env,
                check=False,
                timeout=300,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        if command == attempts[0] and done.returncode == 0:
            break
    return shutil.which("wrk")


@dataclass
class LoadResult:
    requests: int
    errors: int
    non_2xx: int
    socket_errors: int
    duration_s: float
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "non_2xx": self.non_2xx,
            "socket_errors": self.socket_errors,
            "duration_s": round(self.duration_s, 3),
            "rps": round(self.rps, 2),
            "p50_ms": round(self.p50_ms, 4),
            "p99_ms": round(self.p99_ms, 4),
        }


class LoadRun:
    """One load run in its own process; `result()` waits for it. Started by `start_load`."""

    def __init__(self, process: subprocess.Popen[str], kind: str, cleanup: Path) -> None:
        self.process = process
        self.kind = kind
        self._cleanup = cleanup

    def running(self) -> bool:
        return self.process.poll() is None

    def result(self, timeout: float) -> LoadResult:
        try:
            out, err = self.process.communicate(timeout=timeout)
        finally:
            shutil.rmtree(self._cleanup, ignore_errors=True)
        if self.kind == "wrk":
            return _parse_wrk(out, err)
        for line in out.splitlines():
            if line.startswith("{"):
                data = json.loads(line)
                return LoadResult(
                    requests=data["requests"],
                    errors=data["errors"],
                    non_2xx=data["non_2xx"],
                    socket_errors=data["socket_errors"],
                    duration_s=data["duration_s"],
                    p50_ms=data["p50_ms"],
                    p99_ms=data["p99_ms"],
                )
        raise RuntimeError(f"loadgen produced no result (exit {self.process.returncode}): {err[-500:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self._cleanup, ignore_errors=True)


def _parse_wrk(out: str, err: str) -> LoadResult:
    for line in out.splitlines():
        if line.startswith("WRKJSON "):
            data = json.loads(line[len("WRKJSON ") :])
            socket_errors = data["connect"] + data["read"] + data["write"] + data["timeout"]
            return LoadResult(
                requests=data["requests"],
                errors=data["status"] + socket_errors,
                non_2xx=data["status"],
                socket_errors=socket_errors,
                duration_s=data["duration_us"] / 1e6,
                p50_ms=data["p50_us"] / 1000.0,
                p99_ms=data["p99_us"] / 1000.0,
            )
    raise RuntimeError(f"wrk produced no result: {(out + err)[-500:]}")


def start_load(
    *, wrk: str | None, url: str, body: bytes, headers: dict[str, str], concurrency: int, duration_s: float
) -> LoadRun:
    """Start a load run (wrk when `wrk` is a path, else the aiohttp generator) and return at once."""
    workdir = Path(tempfile.mkdtemp(prefix="unillm-bench-load-"))
    all_headers = {"Content-Type": "application/json", **headers}
    if wrk:
        script = workdir / "post.lua"
        script.write_text(wrk_script(body, all_headers))
        cmd = [
            wrk,
            "-t1",
            f"-c{concurrency}",
            f"-d{max(1, round(duration_s))}s",
            "--timeout",
            WRK_TIMEOUT,
            "-s",
            str(script),
            url,
        ]
        kind = "wrk"
    else:
        body_file = workdir / "body.json"
        body_file.write_bytes(body)
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--url",
            url,
            "--body-file",
            str(body_file),
            "-c",
            str(concurrency),
            "-d",
            str(duration_s),
        ]
        for name, value in all_headers.items():
            cmd += ["--header", f"{name}: {value}"]
        kind = "python"
    process = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    return LoadRun(process, kind, workdir)


class MeasurementError(Exception):
    """The measured server process is gone (it crashed or was killed)."""


def _process(pid: int) -> Any:
    import psutil  # type: ignore[import-untyped]

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            raise MeasurementError(f"process {pid} has exited")
    except psutil.NoSuchProcess as exc:
        raise MeasurementError(f"process {pid} is gone") from exc
    return process


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the server process, its reaped children and its live descendants."""
    import psutil

    root = _process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def rss_bytes(pid: int) -> int:
    """Resident memory of the server process and its live descendants."""
    import psutil

    root = _process(pid)
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return int(total)


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Several rounds of one cell: medians of the rates, latencies and CPU; errors are summed."""
    import statistics

    def median(key: str) -> float | None:
        values = [r[key] for r in rows if r.get(key) is not None]
        return statistics.median(values) if values else None

    return {
        "rps": median("rps"),
        "p50_ms": median("p50_ms"),
        "p99_ms": median("p99_ms"),
        "cpu_ms_per_req": median("cpu_ms_per_req"),
        "errors": sum(r["errors"] for r in rows),
        "requests": sum(r["requests"] for r in rows),
        "rounds": len(rows),
    }


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


async def _generate(
    url: str, body: bytes, headers: dict[str, str], concurrency: int, duration_s: float
) -> dict[str, Any]:
    import aiohttp

    latencies: list[float] = []
    counts = {"non_2xx": 0, "socket_errors": 0}
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        deadline = started + duration_s

        async def worker() -> None:
            while time.perf_counter() < deadline:
                begin = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        if not 200 <= response.status < 300:
                            counts["non_2xx"] += 1
                except (TimeoutError, aiohttp.ClientError):
                    counts["socket_errors"] += 1
                    continue
                latencies.append(time.perf_counter() - begin)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": counts["non_2xx"] + counts["socket_errors"],
        "non_2xx": counts["non_2xx"],
        "socket_errors": counts["socket_errors"],
        "duration_s": elapsed,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="aiohttp load generator (fallback when wrk is missing)")
    parser.add_argument("--url", required=True)
    parser.add_argument("--body-file", required=True)
    parser.add_argument("--header", action="append", default=[], help="'Name: value', repeatable")
    parser.add_argument("-c", "--concurrency", type=int, default=1)
    parser.add_argument("-d", "--duration", type=float, default=10.0, help="seconds")
    args = parser.parse_args()
    headers = dict(h.split(": ", 1) for h in args.header)
    body = Path(args.body_file).read_bytes()
    coroutine = _generate(args.url, body, headers, args.concurrency, args.duration)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(coroutine)
    else:
        result = uvloop.run(coroutine)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
