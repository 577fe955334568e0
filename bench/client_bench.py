"""Micro-benchmark: CPU cost per upstream request of aiohttp vs the lean h1 client (UpstreamHttp).

Starts `bench/mock_upstream.py` on a free port as a subprocess (so the mock's CPU is not counted), then
on uvloop, at a fixed concurrency, runs N requests through each client and reports requests per
second and CPU microseconds per request of this process (time.process_time), for a small JSON
completion (post + read + release) and a streamed one (post + iter_any + release).

Run: `.venv/bin/python bench/client_bench.py [--requests 20000] [--concurrency 50]`
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import uvloop

from unillm.gateway.upstream.h1 import Timeouts, UpstreamHttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import free_port

HERE = Path(__file__).resolve().parent
HEADERS = {"Content-Type": "application/json", "Accept": "application/json", "Accept-Encoding": "identity",
           "User-Agent": "unillm-gateway", "Authorization": "Bearer sk-bench-0123456789abcdef"}
SMALL = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello."}]}'
STREAM = b'{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Say hello."}]}'


def start_mock(port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, str(HERE / "mock_upstream.py"), "--port", str(port)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # printed once listening
    if "listening" not in line:
        proc.kill()
        raise SystemExit(f"mock upstream did not start: {line!r}")
    return proc


async def run(one: Callable[[], Awaitable[int]], requests: int, concurrency: int) -> tuple[float, float]:
    """Run `requests` calls of `one` from `concurrency` workers; returns (req/s, CPU µs per request)."""
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            if await one() <= 0:
                raise RuntimeError("empty body")

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return requests / wall, cpu / requests * 1e6


async def bench(url: str, requests: int, concurrency: int) -> list[tuple[str, str, float, float]]:
    rows = []
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), auto_decompress=False)
    aio_timeout = aiohttp.ClientTimeout(total=600, sock_connect=5)
    client = UpstreamHttp()
    timeouts = Timeouts(connect=5, total=600)

    async def aiohttp_read(body: bytes) -> int:
        response = await session.post(url, data=body, headers=HEADERS, timeout=aio_timeout)
        data = await response.read()
        response.release()
        return len(data)

    async def aiohttp_stream(body: bytes) -> int:
        response = await session.post(url, data=body, headers=HEADERS, timeout=aio_timeout)
        size = 0
        async for piece in response.content.iter_any():
            size += len(piece)
        response.release()
        return size

    async def h1_read(body: bytes) -> int:
        response = await client.post(url, body=body, headers=HEADERS, timeouts=timeouts)
        data = await response.read()
        response.release()
        return len(data)

    async def h1_stream(body: bytes) -> int:
        response = await client.post(url, body=body, headers=HEADERS, timeouts=timeouts)
        size = 0
        async for piece in response.iter_any():
            size += len(piece)
        response.release()
        return size

    cases = [("json", SMALL, aiohttp_read, h1_read), ("stream", STREAM, aiohttp_stream, h1_stream)]
    try:
        for kind, body, aio, h1 in cases:
            for name, fn in (("aiohttp", aio), ("h1", h1)):
                def one(fn: Callable[[bytes], Awaitable[int]] = fn, body: bytes = body) -> Awaitable[int]:
                    return fn(body)
                await run(one, min(2000, requests), concurrency)  # warm up: connections, caches
                rps, cpu_us = await run(one, requests, concurrency)
                rows.append((kind, name, rps, cpu_us))
    finally:
        await session.close()
        await client.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    port = free_port()
    mock = start_mock(port)
    try:
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        rows = uvloop.run(bench(url, args.requests, args.concurrency))
    finally:
        mock.terminate()
        mock.wait(10)
    print(f"{args.requests} requests per row, concurrency {args.concurrency}, uvloop, "
          "CPU of this (client) process only")
    print(f"{'case':8} {'client':8} {'req/s':>9} {'CPU µs/req':>11}")
    cpu: dict[tuple[str, str], float] = {}
    for kind, name, rps, cpu_us in rows:
        cpu[kind, name] = cpu_us
        print(f"{kind:8} {name:8} {rps:9.0f} {cpu_us:11.1f}")
    for kind in dict.fromkeys(kind for kind, *_ in rows):
        print(f"{kind}: aiohttp/h1 CPU ratio {cpu[kind, 'aiohttp'] / cpu[kind, 'h1']:.2f}x")


if __name__ == "__main__":
    main()
