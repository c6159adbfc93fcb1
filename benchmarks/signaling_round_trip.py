"""How long a call set-up message takes there and back when the practitioner
and the patient are on two web processes that share PostgreSQL.

Two room hubs in this process, each with its own PostgresRoomBus on a fresh
database (the connections and NOTIFY traffic are those of two processes), hold
a practitioner's and a patient's socket stand-in. The practitioner's side
sends a message; when it reaches the patient's side, that side answers at
once, and the round trip ends when the answer is back: A → B → A, through
PostgreSQL both ways. The baseline is the same round trip on one hub with the
in-process bus, as on the embedded default.

Two message sizes: an ICE candidate (about 200 bytes, inline in the NOTIFY
payload) and an offer of 30 KB that does not compress below the 8000-byte
NOTIFY limit, so it waits in the payload table.

Then the real thing: two `sprechzimmer serve` processes on one fresh
PostgreSQL database (benchmarks.signaling_sockets). The practitioner's client
(the websockets library, no browser) holds its signaling socket on the first
server, the patient's on the second; once the patient is admitted, the
practitioner's client sends an ICE candidate, the patient's client answers
with one as soon as it gets it, and the round trip ends when the answer is
back at the practitioner's client. The baseline is the same round trip, in
the same run, with both clients on the first server; the two rooms take
turns, one round trip at a time. The server allows a socket 50 messages a
second, so a turn starts at most every 25 ms; the pause is not measured.

    .venv/bin/python -m benchmarks.signaling_round_trip [--round-trips 500]
        [--server-round-trips 300]
"""

import argparse
import asyncio
import random
import statistics
import string
import time
import uuid
from collections.abc import Callable
from typing import Any, cast

import orjson
from starlette.websockets import WebSocket, WebSocketState

from adapters.web.postgres_room_bus import PostgresRoomBus
from adapters.web.rooms import Participant, RoomHub
from benchmarks.common import print_table, summary
from benchmarks.signaling_sockets import (
    ONE_PROCESS,
    TWO_PROCESSES,
    measure_between_servers,
)
from domain.video_session import Role
from tests.support.production import fresh_database

WARMUP = 50
CANDIDATE = {
    "type": "candidate",
    "candidate": {
        "candidate": "candidate:842163049 1 udp 1677729535 203.0.113.7 61234 typ "
        "srflx raddr 192.168.1.20 rport 61234 generation 0 ufrag 4ZcD",
        "sdpMid": "0",
        "sdpMLineIndex": 0,
        "usernameFragment": "4ZcD",
    },
}


def large_offer(size: int = 30_000) -> dict[str, str]:
    lines = ["v=0", "o=- 4611 2 IN IP4 127.0.0.1", "s=-", "t=0 0"]
    while sum(len(line) + 2 for line in lines) < size:
        foundation = "".join(random.choices(string.ascii_letters, k=40))
        lines.append(
            f"a=candidate:{foundation} 1 udp 2122260223 10.0.0.7 5000 typ host"
        )
    return {"type": "offer", "sdp": "\r\n".join(lines) + "\r\n"}


class AnsweringSocket:
    """A browser stand-in: calls `on_message` with each message it gets."""

    def __init__(self) -> None:
        self.application_state = WebSocketState.CONNECTED
        self.on_message: Callable[[dict[str, Any]], None] = lambda message: None

    async def send_text(self, text: str) -> None:
        self.on_message(orjson.loads(text))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.application_state = WebSocketState.DISCONNECTED


class RoundTrips:
    def __init__(self, practitioner_hub: RoomHub, patient_hub: RoomHub) -> None:
        self.practitioner_hub = practitioner_hub
        self.patient_hub = patient_hub
        self.appointment_id = uuid.uuid4()
        self.practitioner_socket = AnsweringSocket()
        self.patient_socket = AnsweringSocket()
        self.practitioner = Participant(
            cast(WebSocket, self.practitioner_socket),
            Role.PRACTITIONER,
            self.appointment_id,
        )
        self.patient = Participant(
            cast(WebSocket, self.patient_socket), Role.PATIENT, self.appointment_id
        )
        self.back: asyncio.Future[None] | None = None
        self.patient_socket.on_message = self._answer
        self.practitioner_socket.on_message = self._arrived_back
        self.message: dict[str, Any] = CANDIDATE

    async def open(self) -> None:
        await self.practitioner_hub.enter(self.practitioner, call_allowed=True)
        await self.patient_hub.enter(self.patient, call_allowed=True)
        deadline = time.monotonic() + 10
        while not await self._one(timeout=1):
            if time.monotonic() > deadline:
                raise RuntimeError("the two hubs never met")

    def _answer(self, message: dict[str, Any]) -> None:
        if message["type"] == self.message["type"]:
            asyncio.get_running_loop().create_task(
                self.patient_hub.relay(self.patient, message)
            )

    def _arrived_back(self, message: dict[str, Any]) -> None:
        back = self.back
        if message["type"] == self.message["type"] and back and not back.done():
            back.set_result(None)

    async def _one(self, timeout: float = 10) -> bool:
        self.back = asyncio.get_running_loop().create_future()
        if not await self.practitioner_hub.relay(self.practitioner, self.message):
            await asyncio.sleep(0.05)
            return False
        await asyncio.wait_for(self.back, timeout)
        return True

    async def measure(self, message: dict[str, Any], count: int) -> list[float]:
        self.message = message
        for _ in range(WARMUP):
            await self._one()
        seconds = []
        for _ in range(count):
            started = time.perf_counter()
            await self._one()
            seconds.append(time.perf_counter() - started)
        return seconds


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def measure(count: int) -> dict[str, dict[str, list[float]]]:
    messages: dict[str, dict[str, Any]] = {
        "candidate": CANDIDATE,
        "offer 30 KB": large_offer(),
    }
    results: dict[str, dict[str, list[float]]] = {}

    single = RoomHub()
    local = RoundTrips(single, single)
    await local.open()
    results["one process, LocalRoomBus"] = {
        name: await local.measure(message, count) for name, message in messages.items()
    }

    with fresh_database() as database_url:
        hubs = []
        for _ in range(2):
            bus = PostgresRoomBus(database_url)
            hubs.append(RoomHub(bus))
            await bus.start()
            await bus.wait_until_listening(10)
        try:
            across = RoundTrips(hubs[0], hubs[1])
            await across.open()
            results["two processes, PostgresRoomBus"] = {
                name: await across.measure(message, count)
                for name, message in messages.items()
            }
        finally:
            for hub in hubs:
                await hub.close()
                await hub.bus.close()
    return results


def report(results: dict[str, dict[str, list[float]]], count: int) -> None:
    rows = []
    for side, by_message in results.items():
        for name, seconds in by_message.items():
            rows.append(
                [
                    side,
                    name,
                    str(len(seconds)),
                    f"{percentile(seconds, 0.5) * 1000:.3f}",
                    f"{percentile(seconds, 0.99) * 1000:.3f}",
                ]
            )
    print_table(
        f"Signaling round trips A → B → A ({count} each, after {WARMUP} warm-up)",
        ["side", "message", "trips", "p50 ms", "p99 ms"],
        rows,
    )
    local, across = results.values()
    for name in local:
        ratio = statistics.median(across[name]) / statistics.median(local[name])
        print(f"{name}: p50 two processes / one process: {ratio:.1f}x")
        for share, label in ((0.5, "p50"), (0.99, "p99")):
            product = percentile(across[name], share) * 1000
            baseline = percentile(local[name], share) * 1000
            summary(
                f"signaling {name} {label} ms",
                f"{product:.2f}",
                f"{baseline:.3f}",
                f"{product / baseline:.0f}x",
                "figure only (two processes vs one)",
            )


def report_servers(seconds: dict[str, list[float]]) -> None:
    print_table(
        "Signaling round trips between two clients through `sprechzimmer serve`"
        f" ({len(seconds[TWO_PROCESSES])} each, after {WARMUP} warm-up,"
        " candidates)",
        ["practitioner's and patient's sockets on", "trips", "p50 ms", "p99 ms"],
        [
            [
                side,
                str(len(trips)),
                f"{percentile(trips, 0.5) * 1000:.3f}",
                f"{percentile(trips, 0.99) * 1000:.3f}",
            ]
            for side, trips in seconds.items()
        ],
    )
    for share, label in ((0.5, "p50"), (0.99, "p99")):
        product = percentile(seconds[TWO_PROCESSES], share) * 1000
        baseline = percentile(seconds[ONE_PROCESS], share) * 1000
        summary(
            f"signaling RTT {label} ms (two processes)",
            f"{product:.2f}",
            f"{baseline:.2f}",
            f"{product / baseline:.1f}x",
            "figure only (two serve processes vs one)",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description="Signaling round trips.")
    parser.add_argument("--round-trips", type=int, default=500)
    parser.add_argument("--server-round-trips", type=int, default=300)
    arguments = parser.parse_args()
    report(asyncio.run(measure(arguments.round_trips)), arguments.round_trips)
    report_servers(
        measure_between_servers(CANDIDATE, arguments.server_round_trips, WARMUP)
    )


if __name__ == "__main__":
    main()
