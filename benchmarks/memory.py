"""Resident memory of the server: idle, and per patient waiting in a room.

The real `sprechzimmer serve` runs in a subprocess (RunningServer). RSS is
VmRSS from /proc/<pid>/status, the median of a few readings. After start-up,
the practice schedules N appointments starting in a few minutes; each patient
consents with their own session, and then all N open the room's WebSocket
(/ws/j/<token>, with the page's Origin) and wait there. N different
appointments are needed: the same link in a second tab replaces the first
connection. The client offers permessage-deflate, as browsers do. The bare
Starlette app (benchmarks.bare_app) is measured the same
way, with WebSockets that only wait, for comparison.

    .venv/bin/python -m benchmarks.memory [--patients 100]
"""

import argparse
import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from benchmarks import http_load
from benchmarks.common import (
    BareServer,
    practice_on,
    print_table,
    schedule_join_paths,
    server_pid,
    settled_rss_kib,
    summary,
)
from tests.support.practice import give_consent
from tests.support.server import RunningServer

CONNECTING_AT_ONCE = 10


@dataclass
class Memory:
    idle_kib: int
    before_kib: int
    connected_kib: int
    after_close_kib: int
    connections: int

    @property
    def per_connection_kib(self) -> float:
        return (self.connected_kib - self.before_kib) / self.connections


async def _open(url: str, origin: str, gate: asyncio.Semaphore) -> ClientConnection:
    async with gate:
        websocket = await connect(url, origin=Origin(origin), proxy=None)
        first = orjson.loads(await asyncio.wait_for(websocket.recv(), 10))
        if first.get("type") != "waiting":
            raise RuntimeError(f"expected to wait in the room, got {first}")
        return websocket


@contextlib.asynccontextmanager
async def waiting_patients(
    port: int, paths: list[str]
) -> AsyncIterator[list[ClientConnection]]:
    origin = f"http://127.0.0.1:{port}"
    gate = asyncio.Semaphore(CONNECTING_AT_ONCE)
    sockets = await asyncio.gather(
        *(_open(f"ws://127.0.0.1:{port}{path}", origin, gate) for path in paths)
    )
    try:
        yield list(sockets)
    finally:
        await asyncio.gather(*(websocket.close() for websocket in sockets))


async def _hold(port: int, paths: list[str], pid: int) -> int:
    async with waiting_patients(port, paths):
        return await asyncio.to_thread(settled_rss_kib, pid)


def rss_while_connected(port: int, paths: list[str], pid: int) -> int:
    rss: int = http_load.run(_hold(port, paths, pid))
    return rss


def measure_product(patients: int) -> Memory:
    with tempfile.TemporaryDirectory(prefix="sprechzimmer-bench-") as folder:
        server = RunningServer(Path(folder)).start()
        try:
            pid = server_pid(server)
            idle = settled_rss_kib(pid)
            practice = practice_on(server)
            join_paths = schedule_join_paths(practice, Path(folder), patients)
            practice.http.close()
            for path in join_paths:
                give_consent(server.base_url + path)
            before = settled_rss_kib(pid)
            room_paths = ["/ws" + path for path in join_paths]
            connected = rss_while_connected(server.port, room_paths, pid)
            after_close = settled_rss_kib(pid)
        finally:
            server.stop()
    return Memory(idle, before, connected, after_close, patients)


def measure_bare(connections: int) -> Memory:
    server = BareServer().start()
    try:
        idle = settled_rss_kib(server.pid)
        connected = rss_while_connected(server.port, ["/ws"] * connections, server.pid)
        after_close = settled_rss_kib(server.pid)
    finally:
        server.stop()
    return Memory(idle, idle, connected, after_close, connections)


def _mib(kib: float) -> str:
    return f"{kib / 1024:.1f}"


def report(product: Memory, bare: Memory) -> None:
    print_table(
        f"Server memory (RSS, MiB) with {product.connections} waiting patients",
        ["server", "idle", "before", "connected", "closed", "KiB/conn"],
        [
            [
                "sprechzimmer serve",
                _mib(product.idle_kib),
                _mib(product.before_kib),
                _mib(product.connected_kib),
                _mib(product.after_close_kib),
                f"{product.per_connection_kib:.1f}",
            ],
            [
                "bare Starlette",
                _mib(bare.idle_kib),
                _mib(bare.before_kib),
                _mib(bare.connected_kib),
                _mib(bare.after_close_kib),
                f"{bare.per_connection_kib:.1f}",
            ],
        ],
    )
    print("idle: right after start-up; before: after scheduling and consent,")
    print("before the WebSockets open; closed: after they all closed again")
    summary(
        "idle RSS MiB",
        _mib(product.idle_kib),
        _mib(bare.idle_kib),
        f"{product.idle_kib / bare.idle_kib:.1f}x",
        "-",
    )
    summary(
        "RSS per waiting patient KiB",
        f"{product.per_connection_kib:.1f}",
        f"{bare.per_connection_kib:.1f}",
        f"{product.per_connection_kib / bare.per_connection_kib:.1f}x",
        "-",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Server memory, idle and per room.")
    parser.add_argument("--patients", type=int, default=100)
    arguments = parser.parse_args()
    product = measure_product(arguments.patients)
    bare = measure_bare(arguments.patients)
    report(product, bare)


if __name__ == "__main__":
    main()
