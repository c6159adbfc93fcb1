"""A small asyncio load generator: keep-alive HTTP/1.1 GETs at fixed concurrency.

Raw asyncio streams instead of an HTTP client library keep the generator's own
cost low, so on a small machine the server, not the client, sets the pace. Each
connection sends its next request as soon as the previous answer is complete.
"""

import asyncio
import time
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import uvloop  # uvicorn[standard] brings it, and uvicorn runs on it


@dataclass
class LoadResult:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    body_bytes: int = 0

    def add(self, other: "LoadResult") -> None:
        self.seconds += other.seconds
        self.latencies += other.latencies
        self.statuses.update(other.statuses)
        self.body_bytes += other.body_bytes

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        index = min(len(ordered) - 1, int(fraction * len(ordered)))
        return ordered[index] * 1000

    @property
    def mean_body_bytes(self) -> float:
        return self.body_bytes / self.requests if self.requests else 0.0


@dataclass
class _Phase:
    measuring: bool = False
    stopping: bool = False
    started: float = 0.0
    ended: float = 0.0


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Runs a coroutine on uvloop, as uvicorn runs the servers."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


async def load(
    port: int, path: str, *, concurrency: int, warmup: float, seconds: float
) -> LoadResult:
    """Warms up for `warmup` seconds, then counts answers for `seconds`."""
    phase = _Phase()
    result = LoadResult()
    workers = [
        asyncio.create_task(_worker(port, path, phase, result))
        for _ in range(concurrency)
    ]
    await asyncio.sleep(warmup)
    phase.measuring = True
    phase.started = time.perf_counter()
    await asyncio.sleep(seconds)
    phase.stopping = True
    phase.ended = time.perf_counter()
    await asyncio.gather(*workers)
    result.seconds = phase.ended - phase.started
    return result


async def _worker(port: int, path: str, phase: _Phase, result: LoadResult) -> None:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "User-Agent: sprechzimmer-benchmark\r\nAccept: text/html\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while not phase.stopping:
            sent = time.perf_counter()
            writer.write(request)
            status, body_length, keep_alive = await _read_response(reader)
            done = time.perf_counter()
            if phase.measuring and not phase.stopping:
                result.latencies.append(done - sent)
                result.statuses[status] += 1
                result.body_bytes += body_length
            if not keep_alive:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers = {}
    for line in header_lines:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if "content-length" not in headers:
        raise RuntimeError(f"answer without Content-Length: {status_line}")
    length = int(headers["content-length"])
    await reader.readexactly(length)
    keep_alive = headers.get("connection", "").lower() != "close"
    return status, length, keep_alive
