"""How many tech-check test calls the server holds per core while the picture
it sends back still arrives at 15 frames per second or more.

The real `sprechzimmer serve` runs in a subprocess with its echo peer on
loopback and room for many calls. aiortc callers in this process each send a
320×240 camera picture at 30 frames/s (the size the browser's test call sends)
and count the frames that come back. The benchmark adds callers in steps;
after each step it lets the calls settle, then counts the returned frames of
every caller and the server's CPU time. It stops at the first step where the
slowest caller gets fewer than 15 frames/s, or when time is up.

The callers share the machine's cores with the server, so they do as little
as they can: they send a recording encoded once beforehand, and count the
frames that come back without decoding them. The server decodes and encodes
every frame as it does for a browser. The figure per machine core is still a
lower bound; the figure per core the server itself used is printed beside it.

    .venv/bin/python -m benchmarks.tech_check_loopback [--seconds 70]
"""

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from unittest import mock

import av
import httpx
from aiortc import rtcrtpreceiver
from aiortc.mediastreams import VideoStreamTrack

from adapters.media.test_peer import SyntheticCamera, loopback_candidates_only
from benchmarks.common import print_table, server_pid, summary
from tests.integration.test_tech_check_loopback import Caller
from tests.support.server import RunningServer

GOAL_FPS = 15.0
STEP = 4
SETTLE_SECONDS = 1.5
MEASURE_SECONDS = 2.5


RECORDED_FRAMES = 60


async def record_camera() -> list[bytes]:
    """Two seconds of the synthetic camera as VP8, starting with a keyframe
    and with none after it, so that the recording can play in a loop."""
    camera = SyntheticCamera(320, 240)
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height = 320, 240
    encoder.pix_fmt = "yuv420p"
    encoder.bit_rate = 500_000
    encoder.time_base = Fraction(1, 30)
    encoder.gop_size = RECORDED_FRAMES
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    packets: list[bytes] = []
    for number in range(RECORDED_FRAMES):
        frame = await camera.recv()
        frame.pts, frame.time_base = number, Fraction(1, 30)
        packets += [bytes(packet) for packet in encoder.encode(frame)]
    packets += [bytes(packet) for packet in encoder.encode(None)]
    return packets[:RECORDED_FRAMES]


class RecordedCamera(VideoStreamTrack):
    """Plays the recording in a loop at 30 frames/s, without encoding."""

    def __init__(self, packets: list[bytes]) -> None:
        super().__init__()
        self.packets = packets
        self.played = 0

    async def recv(self) -> av.Packet:  # type: ignore[override]
        pts, time_base = await self.next_timestamp()
        packet = av.Packet(self.packets[self.played % len(self.packets)])
        packet.pts, packet.time_base = pts, time_base
        self.played += 1
        return packet


class CountingDecoder:
    """Stands in for the callers' VP8 decoder: one returned frame counts as
    soon as it arrives whole, without the work of decoding it."""

    placeholder = av.VideoFrame(16, 16, "yuv420p")

    def decode(self, encoded_frame: object) -> list[av.VideoFrame]:
        return [self.placeholder]


def cpu_seconds(pid: int) -> float:
    """User and system time of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def call_in(server: RunningServer, caller: Caller, number: int) -> None:
    # Each caller from its own loopback address, as different patients are:
    # one address may start only a few test calls in a row.
    address = f"127.0.5.{number % 250 + 1}"
    async with httpx.AsyncClient(
        base_url=server.base_url,
        transport=httpx.AsyncHTTPTransport(local_address=address),
        headers={"Origin": server.base_url},
        timeout=30,
        trust_env=False,
    ) as http:
        response = await caller.call(http)
    response.raise_for_status()
    await caller.wait_for_frames(1, timeout=20)


async def measure(pid: int, callers: list[Caller]) -> tuple[float, list[float]]:
    """The server's cores in use, and every caller's returned frame rate."""
    cpu_before = cpu_seconds(pid)
    await asyncio.sleep(MEASURE_SECONDS)
    server_cores = (cpu_seconds(pid) - cpu_before) / MEASURE_SECONDS
    return server_cores, [caller.frame_rate(MEASURE_SECONDS) for caller in callers]


async def ramp(server: RunningServer, seconds: float) -> list[list[str]]:
    pid = server_pid(server)
    recording = await record_camera()
    callers: list[Caller] = []
    rows: list[list[str]] = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            fresh = [Caller(RecordedCamera(recording)) for _ in range(STEP)]
            await asyncio.gather(
                *(
                    call_in(server, caller, len(callers) + index)
                    for index, caller in enumerate(fresh)
                )
            )
            callers += fresh
            await asyncio.sleep(SETTLE_SECONDS)

            server_cores, rates = await measure(pid, callers)
            if min(rates) < GOAL_FPS:
                # Another process may have taken the cores for a moment.
                server_cores, rates = await measure(pid, callers)
            rows.append(
                [
                    str(len(callers)),
                    f"{min(rates):.1f}",
                    f"{statistics.median(rates):.1f}",
                    f"{server_cores:.2f}",
                ]
            )
            print("  " + "  ".join(rows[-1]), flush=True)
            if min(rates) < GOAL_FPS:
                break
    finally:
        await asyncio.gather(*(caller.hang_up() for caller in callers))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=70)
    arguments = parser.parse_args()
    cores = os.cpu_count() or 1

    with tempfile.TemporaryDirectory() as data:
        server = RunningServer(
            Path(data),
            SPRECHZIMMER_TECH_CHECK_LOOPBACK_ONLY="1",
            SPRECHZIMMER_TECH_CHECK_CALLS="200",
            SPRECHZIMMER_TECH_CHECK_CALL_SECONDS="600",
        ).start()
        try:
            print("  calls  slowest fps  median fps  server cores", flush=True)
            counting = mock.patch.object(
                rtcrtpreceiver, "get_decoder", lambda codec: CountingDecoder()
            )
            with loopback_candidates_only(), counting:
                rows = asyncio.run(ramp(server, arguments.seconds))
        finally:
            server.stop()

    held = [row for row in rows if float(row[1]) >= GOAL_FPS]
    best = held[-1] if held else ["0", "0", "0", "0"]
    sessions = int(best[0])
    server_cores = float(best[3])
    print_table(
        f"Test calls with every caller at >= {GOAL_FPS:.0f} frames/s back "
        f"({cores} cores, callers on the same machine)",
        ["calls", "slowest fps", "median fps", "server cores"],
        rows,
    )
    per_core = sessions / cores
    per_server_core = sessions / server_cores if server_cores else 0.0
    limit_note = "" if len(held) < len(rows) else " (time ran out first)"
    print(
        f"\n{sessions} calls held{limit_note}: {per_core:.1f} calls per machine "
        f"core; {per_server_core:.1f} per core the server used."
    )
    summary(
        "test calls per core",
        f"{per_core:.1f}",
        f"{per_server_core:.1f}/srv",
        "-",
        f">= {GOAL_FPS:.0f} fps back",
    )


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
