"""What forwarding costs the SFU: packets per second per core, and CPU for one
video stream against aiortc's own MediaRelay.

1. Throughput. One SFU worker process runs a room with one publisher and
   SUBSCRIBERS subscribers. The publisher in this process sends prepared VP8
   packets (random payloads, nothing encoded) through its real SRTP session
   at rising rates; the subscribers count what arrives without decoding. For
   each rate the benchmark reads the worker's CPU time from /proc: forwarded
   packets per CPU-second is the figure per core, taken at the highest rate
   with under 1% loss. The baseline is the same run's raw cost of the
   forwarding work without any network or event loop: SRTP unprotect and
   parse once per packet, then rewrite, serialize and SRTP protect once per
   subscriber, in a plain loop.

2. One video stream. A 640x480 textured camera at 30 frames/s goes to one receiver,
   once through the SFU and once through a process running aiortc's
   MediaRelay the way a server without an SFU would: a decoding receiver and
   a re-encoding sender. CPU time of the SFU worker against that process's.

    .venv/bin/python -m benchmarks.sfu_forwarding [--seconds 5]

Media stays on loopback: the peers gather loopback candidates only, with no
STUN or TURN server. Run it inside scripts/loopback-only to be sure.
"""

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import time
from multiprocessing.connection import Connection

from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    sdp,
)
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import VideoStreamTrack
from aiortc.rtcdtlstransport import SRTP_AES128_CM_SHA1_80
from aiortc.rtp import HeaderExtensionsMap, RtpPacket, is_rtcp
from av import VideoFrame
from pylibsrtp import Policy, Session

from adapters.media.sfu.bandwidth import BandwidthBudget
from adapters.media.sfu.stream_numbering import StreamNumbering
from adapters.media.test_peer import loopback_candidates_only
from benchmarks.common import goal_verdict, print_table, summary
from tests.support.sfu_participant import (
    SfuTestParticipant,
    join,
    sfu_on_loopback,
    transport_of,
)

SUBSCRIBERS = 4
PAYLOAD_BYTES = 1100
RATES = (500, 1000, 2000, 4000, 6000, 9000, 12000)  # packets/s from the publisher
MAX_LOSS = 0.01
GOAL_RATIO = 20.0
ROOM = "benchmark"


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def vp8_payload(keyframe: bool) -> bytes:
    return (
        b"\x90\x80\x05" + (b"\x10" if keyframe else b"\x11") + os.urandom(PAYLOAD_BYTES)
    )


# 1. Throughput


def raw_forwarding_rate(seconds: float, subscribers: int = SUBSCRIBERS) -> float:
    """Forwarded packets per second of the bare work, on one core, for one
    publisher's packets going to `subscribers` subscribers."""
    key = os.urandom(30)
    policy = SRTP_AES128_CM_SHA1_80.libsrtp_profile
    sender = Session(
        Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=policy)
    )
    receiver = Session(
        Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND, srtp_profile=policy)
    )
    outs = [
        Session(
            Policy(
                key=os.urandom(30),
                ssrc_type=Policy.SSRC_ANY_OUTBOUND,
                srtp_profile=policy,
            )
        )
        for _ in range(subscribers)
    ]
    extensions = HeaderExtensionsMap()
    numberings = [StreamNumbering(90000) for _ in range(subscribers)]
    for numbering in numberings:
        numbering.start(0, 0, 0.0)
    payload = vp8_payload(False)
    forwarded, sequence = 0, 0
    deadline = time.process_time() + seconds
    started = time.process_time()
    while time.process_time() < deadline:
        for _ in range(100):
            incoming = sender.protect(
                RtpPacket(96, 0, sequence, sequence * 30, 1234, payload).serialize()
            )
            packet = RtpPacket.parse(receiver.unprotect(incoming), extensions)
            for numbering, out in zip(numberings, outs, strict=True):
                seq, ts = numbering.rewrite(
                    packet.sequence_number, packet.timestamp, 0.0
                )
                rewritten = RtpPacket(100, packet.marker, seq, ts, 5678, packet.payload)
                rewritten.extensions.mid = "4"
                out.protect(rewritten.serialize(extensions))
                forwarded += 1
            sequence = (sequence + 1) % 65536
    return forwarded / (time.process_time() - started)


class Counting:
    """A subscriber that counts arriving video packets and decodes nothing."""

    def __init__(self, participant: SfuTestParticipant) -> None:
        self.packets = 0
        self.participant = participant

        async def count(data: bytes, arrival_time_ms: int) -> None:
            self.packets += 1

        transport_of(participant)._handle_rtp_data = count  # type: ignore[method-assign]


async def throughput(seconds: float) -> list[tuple[int, float, float, float]]:
    """Per rate: (rate, loss, worker cores, forwarded packets per CPU-second)."""
    rows = []
    publisher = SfuTestParticipant("publisher", slots=0)
    publisher.publish = False
    subscribers = [
        SfuTestParticipant(f"s{n}", slots=1, publish=False) for n in range(SUBSCRIBERS)
    ]
    async with sfu_on_loopback(workers=1) as sfu:
        await sfu.create_room(ROOM)
        publisher.pc.addTransceiver("video", direction="sendonly")
        offer = await publisher.offer()
        joined = await sfu.join(ROOM, "publisher", offer)
        await publisher.accept(joined.answer_sdp, joined.layout)
        counters = []
        for subscriber in subscribers:
            sub_offer = await subscriber.offer()
            counters.append(Counting(subscriber))
            joined = await sfu.join(ROOM, subscriber.participant_id, sub_offer)
            await subscriber.accept(joined.answer_sdp, joined.layout)
        media = next(m for m in sdp.SessionDescription.parse(offer).media)
        ssrc = media.ssrc[0].ssrc
        payload_type = media.rtp.codecs[0].payloadType
        transport = transport_of(publisher)
        while any(
            t.sender.transport.state != "connected"
            for p in [publisher, *subscribers]
            for t in p.pc.getTransceivers()[:1]
        ):
            await asyncio.sleep(0.1)
        await asyncio.sleep(1)
        pid = sfu.worker_pid(ROOM)
        assert pid is not None
        sequence = 0

        async def send(count: int, keyframe: bool = False) -> None:
            nonlocal sequence
            for index in range(count):
                packet = RtpPacket(
                    payload_type or 96,
                    0,
                    sequence,
                    sequence * 30,
                    ssrc,
                    vp8_payload(keyframe and index == 0),
                )
                await transport._send_rtp(packet.serialize())
                sequence = (sequence + 1) % 65536

        await send(1, keyframe=True)
        await asyncio.sleep(0.5)
        for rate in RATES:
            before = [c.packets for c in counters]
            cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
            sent = 0
            tick = 0.01
            next_at = time.monotonic()
            while time.monotonic() < wall_before + seconds:
                await send(int(rate * tick))
                sent += int(rate * tick)
                next_at += tick
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            await asyncio.sleep(0.5)  # what is under way arrives
            wall = time.monotonic() - wall_before - 0.5
            cpu = cpu_seconds(pid) - cpu_before
            received = sum(c.packets - b for c, b in zip(counters, before, strict=True))
            loss = max(0.0, 1 - received / (sent * SUBSCRIBERS))
            rows.append((rate, loss, cpu / wall, received / cpu if cpu else 0.0))
            if loss > 0.2:
                break
    for participant in [publisher, *subscribers]:
        await participant.close()
    return rows


# 2. One video stream: SFU against MediaRelay


def run_relay(connection: Connection) -> None:
    """A server that relays one camera the only way aiortc knows: decode, encode."""

    async def serve() -> None:
        relay = MediaRelay()
        with loopback_candidates_only():
            incoming = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            outgoing = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            tracks: asyncio.Queue = asyncio.Queue()
            incoming.on("track", tracks.put_nowait)
            await incoming.setRemoteDescription(
                RTCSessionDescription(connection.recv(), "offer")
            )
            await incoming.setLocalDescription(await incoming.createAnswer())
            connection.send(incoming.localDescription.sdp)
            await outgoing.setRemoteDescription(
                RTCSessionDescription(connection.recv(), "offer")
            )
            outgoing.addTrack(relay.subscribe(await tracks.get()))
            await outgoing.setLocalDescription(await outgoing.createAnswer())
            connection.send(outgoing.localDescription.sdp)
            await asyncio.get_running_loop().run_in_executor(None, connection.recv)
            await incoming.close()
            await outgoing.close()

    asyncio.run(serve())


class TexturedCamera(VideoStreamTrack):
    """A 640x480 picture of fine random texture panning sideways, 30 frames/s:
    work for an encoder, unlike a flat test picture."""

    WIDTH, HEIGHT, STEP = 640, 480, 2

    def __init__(self) -> None:
        super().__init__()
        self._texture = os.urandom((self.WIDTH + 256) * self.HEIGHT)
        self._count = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=self.WIDTH, height=self.HEIGHT, format="yuv420p")
        shift = (self._count * self.STEP) % 256
        stride = self.WIDTH + 256
        luma = b"".join(
            self._texture[row * stride + shift : row * stride + shift + self.WIDTH]
            for row in range(self.HEIGHT)
        )
        frame.planes[0].update(luma)
        for plane in frame.planes[1:]:
            plane.update(bytes([128]) * plane.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        self._count += 1
        return frame


def camera_peer() -> RTCPeerConnection:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver(TexturedCamera(), direction="sendonly")
    return pc


def counting_peer() -> tuple[RTCPeerConnection, list[int]]:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    received = [0]

    async def count(data: bytes, arrival_time_ms: int) -> None:
        if not is_rtcp(data):
            received[0] += 1

    pc.getTransceivers()[0].receiver.transport._handle_rtp_data = count  # type: ignore[method-assign]
    return pc, received


async def relay_cpu(seconds: float) -> tuple[float, int]:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=run_relay, args=(theirs,), daemon=True)
    process.start()
    camera, (viewer, received) = camera_peer(), counting_peer()
    try:
        for pc in (camera, viewer):
            await pc.setLocalDescription(await pc.createOffer())
            ours.send(pc.localDescription.sdp)
            answer = await asyncio.get_running_loop().run_in_executor(None, ours.recv)
            await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        await asyncio.sleep(3)  # connected and encoding
        assert process.pid is not None
        cpu_before, packets_before = cpu_seconds(process.pid), received[0]
        await asyncio.sleep(seconds)
        return cpu_seconds(process.pid) - cpu_before, received[0] - packets_before
    finally:
        ours.send("stop")
        await camera.close()
        await viewer.close()
        process.join(10)
        if process.is_alive():
            process.kill()


async def sfu_cpu(seconds: float) -> tuple[float, int]:
    publisher = SfuTestParticipant("camera", slots=0, publish=False)
    publisher.pc.addTransceiver(TexturedCamera(), direction="sendonly")
    viewer = SfuTestParticipant("viewer", slots=1, publish=False)
    # The bitrate aiortc's encoder starts at, so both servers send as much.
    budget = BandwidthBudget(max_video_bps=500_000)
    async with sfu_on_loopback(workers=1, budget=budget) as sfu:
        await sfu.create_room(ROOM)
        await join(sfu, ROOM, [publisher])
        offer = await viewer.offer()
        counter = Counting(viewer)
        joined = await sfu.join(ROOM, "viewer", offer)
        await viewer.accept(joined.answer_sdp, joined.layout)
        await asyncio.sleep(3)
        pid = sfu.worker_pid(ROOM)
        assert pid is not None
        cpu_before, packets_before = cpu_seconds(pid), counter.packets
        await asyncio.sleep(seconds)
        cpu, packets = cpu_seconds(pid) - cpu_before, counter.packets - packets_before
    await publisher.close()
    await viewer.close()
    return cpu, packets


async def main(seconds: float) -> None:
    raw = raw_forwarding_rate(seconds)
    with loopback_candidates_only():
        rows = await throughput(seconds)
        sfu_seconds, sfu_packets = await sfu_cpu(seconds * 2)
        relay_seconds, relay_packets = await relay_cpu(seconds * 2)

    print_table(
        f"Forwarding 1 publisher to {SUBSCRIBERS} subscribers in one SFU worker",
        ["sent/s", "loss", "worker cores", "forwarded per CPU-s"],
        [(str(r), f"{loss:.2%}", f"{c:.2f}", f"{p:,.0f}") for r, loss, c, p in rows],
    )
    held = [row for row in rows if row[1] < MAX_LOSS]
    per_core = held[-1][3] if held else 0.0
    print(
        f"\nAt under 1% loss: {per_core:,.0f} forwarded packets per worker "
        f"CPU-second; the bare work (unprotect, parse, rewrite, protect) does "
        f"{raw:,.0f} per CPU-second: {per_core / raw:.0%} of it."
    )
    summary(
        "SFU forwarded packets/s per core",
        f"{per_core:,.0f}",
        f"{raw:,.0f} raw",
        f"{per_core / raw:.2f}",
        "< 1% loss",
    )

    ratio = relay_seconds / sfu_seconds if sfu_seconds else float("inf")
    print_table(
        f"One 640x480 camera to one viewer for {seconds * 2:.0f} s",
        ["server", "CPU seconds", "packets received"],
        [
            ("SFU worker (forwards)", f"{sfu_seconds:.2f}", str(sfu_packets)),
            (
                "MediaRelay (decodes, encodes)",
                f"{relay_seconds:.2f}",
                str(relay_packets),
            ),
        ],
    )
    verdict = goal_verdict(ratio, GOAL_RATIO)
    print(f"\nMediaRelay takes {ratio:.1f} times the SFU's CPU; {verdict}")
    summary(
        "SFU CPU vs MediaRelay",
        f"{sfu_seconds:.2f} s",
        f"{relay_seconds:.2f} s",
        f"{ratio:.1f}",
        f">= {GOAL_RATIO:.0f}",
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(parser.parse_args().seconds))
