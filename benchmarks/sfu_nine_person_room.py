"""A 9-person room: the SFU worker's CPU share and packet loss over a minute.

One SFU worker process runs one room with 9 participants. Each publishes
audio (50 packets/s of 100 random bytes, Opus-sized) and video at the
per-publisher bitrate the SFU's bandwidth budget sets for 9 people (packets
of 1100 random bytes at the matching rate, a keyframe of a few packets every
few seconds), and subscribes to the other 8. As in sfu_forwarding, this
process sends prepared packets through the participants' real SRTP sessions
and counts what arrives without decoding, so it stays light; the worker's
CPU time comes from /proc, its packet counters from the pool's stats.

Loss is reported per direction: publishers to SFU (sent against what the
worker took), SFU to subscribers (what the worker forwarded against what
arrived), and end to end, per kind and for the worst subscriber. The
baseline for the CPU share is the bare forwarding work (SRTP unprotect and
parse per packet, rewrite and protect per subscriber, in a plain loop; see
sfu_forwarding) at this room's forwarded packet rate.

    .venv/bin/python -m benchmarks.sfu_nine_person_room [--seconds 60]

Media stays on loopback: the peers gather loopback candidates only, with no
STUN or TURN server. Run it inside scripts/loopback-only to be sure.
"""

import argparse
import asyncio
import contextlib
import os
import time
from collections import Counter
from dataclasses import dataclass, field

from aiortc import sdp
from aiortc.rtp import RtpPacket

from adapters.media.sfu.bandwidth import BandwidthBudget
from adapters.media.sfu.settings import ROOM_CAPACITY
from benchmarks.common import print_table, summary
from benchmarks.sfu_forwarding import (
    PAYLOAD_BYTES,
    cpu_seconds,
    raw_forwarding_rate,
    vp8_payload,
)
from tests.support.sfu_participant import (
    SfuTestParticipant,
    sfu_on_loopback,
    transport_of,
)

PEOPLE = ROOM_CAPACITY
ROOM = "nine-person-room"
TICK = 0.02  # seconds; one audio packet per publisher per tick
AUDIO_BYTES = 100
AUDIO_CLOCK_STEP = 960  # 20 ms at Opus' 48 kHz
KEYFRAME_EVERY = 5.0  # seconds, per publisher, staggered
KEYFRAME_PACKETS = 6  # a keyframe is larger than the frames between
MAX_LOSS = 0.01
RAW_SECONDS = 3.0


@dataclass
class Member:
    """One participant: what it sends and, as a subscriber, what arrives."""

    participant: SfuTestParticipant
    audio_ssrc: int = 0
    audio_pt: int = 0
    video_ssrc: int = 0
    video_pt: int = 0
    sent: Counter[str] = field(default_factory=Counter)
    received: Counter[str] = field(default_factory=Counter)
    kinds: dict[int, str] = field(default_factory=dict)  # payload type -> kind
    audio_sequence: int = 0
    video_sequence: int = 0
    video_due: float = 0.0

    @property
    def name(self) -> str:
        return self.participant.participant_id

    async def offer(self) -> str:
        pc = self.participant.pc
        pc.addTransceiver("audio", direction="sendonly")
        pc.addTransceiver("video", direction="sendonly")
        offer = await self.participant.offer()
        media = sdp.SessionDescription.parse(offer).media
        audio, video = media[0], media[1]
        self.audio_ssrc = audio.ssrc[0].ssrc
        self.audio_pt = audio.rtp.codecs[0].payloadType or 0
        self.video_ssrc = video.ssrc[0].ssrc
        self.video_pt = video.rtp.codecs[0].payloadType or 0
        for slot in media[2:]:
            for codec in slot.rtp.codecs:
                if codec.payloadType is not None:
                    self.kinds[codec.payloadType] = slot.kind
        return offer

    def count_arrivals(self) -> None:
        """Replaces depacketizing with counting by kind (SRTP still undone)."""
        kinds, received = self.kinds, self.received

        async def count(data: bytes, arrival_time_ms: int) -> None:
            received[kinds.get(data[1] & 0x7F, "other")] += 1

        transport_of(self.participant)._handle_rtp_data = count  # type: ignore[method-assign]

    async def send_audio(self) -> None:
        sequence = self.audio_sequence
        packet = RtpPacket(
            self.audio_pt,
            1 if sequence == 0 else 0,
            sequence % 65536,
            (sequence * AUDIO_CLOCK_STEP) % 2**32,
            self.audio_ssrc,
            os.urandom(AUDIO_BYTES),
        )
        await transport_of(self.participant)._send_rtp(packet.serialize())
        self.audio_sequence += 1
        self.sent["audio"] += 1

    async def send_video(self, count: int, keyframe: bool, now: float) -> None:
        timestamp = int(now * 90000) % 2**32
        for index in range(count):
            packet = RtpPacket(
                self.video_pt,
                1 if index == count - 1 else 0,
                self.video_sequence % 65536,
                timestamp,
                self.video_ssrc,
                vp8_payload(keyframe and index == 0),
            )
            await transport_of(self.participant)._send_rtp(packet.serialize())
            self.video_sequence += 1
            self.sent["video"] += 1


@dataclass
class RoomRun:
    members: list[Member]
    targets: dict[str, int]
    cpu: float  # the worker's CPU seconds while the participants sent
    wall: float  # seconds the participants sent
    own_cpu: float  # this process's CPU seconds meanwhile
    late: float  # the sender's worst lateness, seconds
    late_ticks: list[tuple[float, float]]  # (second, lateness) over 100 ms
    udp: dict[str, int]  # /proc/net/snmp Udp counters, difference
    sfu: dict[str, int]  # the worker's stats, difference


async def wait_connected(members: list[Member], timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while any(transport_of(m.participant).state != "connected" for m in members):
            await asyncio.sleep(0.1)


async def run_room(seconds: float, video_bps: int) -> "RoomRun":
    members = [
        Member(SfuTestParticipant(f"p{n + 1}", slots=PEOPLE - 1, publish=False))
        for n in range(PEOPLE)
    ]
    video_rate = video_bps / (8 * PAYLOAD_BYTES)  # packets/s
    async with sfu_on_loopback(workers=1) as sfu:
        await sfu.create_room(ROOM)
        for member in members:
            offer = await member.offer()
            member.count_arrivals()
            joined = await sfu.join(ROOM, member.name, offer)
            await member.participant.accept(joined.answer_sdp, joined.layout)
        await wait_connected(members)
        targets = await sfu.bitrate_targets(ROOM)
        pid = sfu.worker_pid(ROOM)
        assert pid is not None
        # A first keyframe from everyone binds every subscriber's slots.
        start = time.monotonic()
        for member in members:
            await member.send_video(KEYFRAME_PACKETS, True, 0.0)
        await asyncio.sleep(1.0)
        for member in members:
            member.sent.clear()
            member.received.clear()

        (stats_before,) = await sfu.stats()
        udp_before = udp_counters()
        cpu_before, own_before = cpu_seconds(pid), time.process_time()
        started = time.monotonic()
        next_at, tick = started, 0
        keyframe_ticks = round(KEYFRAME_EVERY / TICK)
        stagger = keyframe_ticks // PEOPLE
        late = 0.0
        late_ticks: list[tuple[float, float]] = []
        while next_at < started + seconds:
            now = next_at - start
            for index, member in enumerate(members):
                await member.send_audio()
                member.video_due += video_rate * TICK
                count = int(member.video_due)
                keyframe = (tick + index * stagger) % keyframe_ticks == 0
                if keyframe:
                    count = max(count, KEYFRAME_PACKETS)
                if count:
                    member.video_due -= count
                    await member.send_video(count, keyframe, now)
            tick += 1
            next_at += TICK
            behind = time.monotonic() - next_at
            late = max(late, behind)
            if behind > 0.1:
                late_ticks.append((round(next_at - started, 2), round(behind, 3)))
            await asyncio.sleep(max(0.0, -behind))
        sending_wall = time.monotonic() - started
        cpu = cpu_seconds(pid) - cpu_before
        own_cpu = time.process_time() - own_before
        await asyncio.sleep(1.0)  # what is under way arrives
        udp_after = udp_counters()
        (stats_after,) = await sfu.stats()
        await sfu.close_room(ROOM)
    for member in members:
        await member.participant.close()
    return RoomRun(
        members=members,
        targets=targets,
        cpu=cpu,
        wall=sending_wall,
        own_cpu=own_cpu,
        late=late,
        late_ticks=late_ticks,
        udp={k: udp_after[k] - udp_before.get(k, 0) for k in udp_after},
        sfu={k: stats_after[k] - stats_before[k] for k in stats_after},
    )


def udp_counters() -> dict[str, int]:
    """This network namespace's UDP counters (drops for full socket buffers)."""
    with open("/proc/net/snmp") as snmp:
        lines = [line.split() for line in snmp if line.startswith("Udp:")]
    return {k: int(v) for k, v in zip(lines[0][1:], lines[1][1:], strict=True)}


def loss(sent: int, received: int) -> float:
    return max(0.0, 1 - received / sent) if sent else 0.0


async def main(seconds: float) -> None:
    budget = BandwidthBudget()
    video_bps = budget.video_target_bps(PEOPLE)
    raw = raw_forwarding_rate(RAW_SECONDS, subscribers=PEOPLE - 1)
    result = await run_room(seconds, video_bps)
    members, cpu, wall = result.members, result.cpu, result.wall
    cores = os.cpu_count() or 1
    udp = result.udp

    def expected(member: Member, kind: str) -> int:
        return sum(o.sent[kind] for o in members if o is not member)

    def subscriber_loss(member: Member) -> float:
        return loss(
            expected(member, "audio") + expected(member, "video"),
            member.received["audio"] + member.received["video"],
        )

    sent = {k: sum(m.sent[k] for m in members) for k in ("audio", "video")}
    received = {k: sum(m.received[k] for m in members) for k in ("audio", "video")}
    sent_total = sum(sent.values())
    expected_total = sent_total * (PEOPLE - 1)
    received_total = sum(received.values())
    sfu_received = result.sfu["received"]
    sfu_forwarded = result.sfu["forwarded"]
    overall = loss(expected_total, received_total)

    print_table(
        f"{PEOPLE}-person room for {wall:.0f} s: per participant",
        ["participant", "sent audio", "sent video", "got audio", "got video", "loss"],
        [
            (
                m.name,
                str(m.sent["audio"]),
                str(m.sent["video"]),
                f"{m.received['audio']}/{expected(m, 'audio')}",
                f"{m.received['video']}/{expected(m, 'video')}",
                f"{subscriber_loss(m):.2%}",
            )
            for m in members
        ],
    )
    worst = max(members, key=subscriber_loss)
    worst_loss = subscriber_loss(worst)
    print_table(
        "Packets per direction",
        ["direction", "sent", "received", "loss"],
        [
            (
                "publishers -> SFU",
                str(sent_total),
                str(sfu_received),
                f"{loss(sent_total, sfu_received):.2%}",
            ),
            (
                "SFU -> subscribers",
                str(sfu_forwarded),
                str(received_total),
                f"{loss(sfu_forwarded, received_total):.2%}",
            ),
            (
                "end to end, audio",
                str(sent["audio"] * (PEOPLE - 1)),
                str(received["audio"]),
                f"{loss(sent['audio'] * (PEOPLE - 1), received['audio']):.2%}",
            ),
            (
                "end to end, video",
                str(sent["video"] * (PEOPLE - 1)),
                str(received["video"]),
                f"{loss(sent['video'] * (PEOPLE - 1), received['video']):.2%}",
            ),
            (
                "end to end, all",
                str(expected_total),
                str(received_total),
                f"{overall:.2%}",
            ),
        ],
    )
    share = cpu / wall
    forwarded_per_second = sfu_forwarded / wall
    bare_share = forwarded_per_second / raw if raw else 0.0
    own_share = result.own_cpu / wall
    print_table(
        "SFU worker",
        ["figure", "value"],
        [
            ("video target per publisher", f"{video_bps / 1000:.0f} kbit/s"),
            (
                "targets the room reports",
                ", ".join(sorted({f"{t / 1000:.0f}" for t in result.targets.values()}))
                + " kbit/s",
            ),
            ("sent per publisher", f"{sent_total / PEOPLE / wall:.1f} packets/s"),
            ("forwarded", f"{forwarded_per_second:,.0f} packets/s"),
            ("CPU seconds / wall seconds", f"{cpu:.2f} / {wall:.1f} = {share:.1%}"),
            (f"share of the machine ({cores} cores)", f"{share / cores:.2%}"),
            ("bare forwarding work, same rate", f"{bare_share:.1%} of a core"),
            ("load generator (this process) CPU", f"{own_share:.1%} of a core"),
            ("sender's worst lateness", f"{result.late * 1000:.0f} ms"),
            ("keyframe requests", str(result.sfu["keyframe_requests"])),
            ("retransmitted", str(result.sfu["retransmitted"])),
            ("refused, failed", f"{result.sfu['refused']}, {result.sfu['failed']}"),
            ("worst subscriber", f"{worst.name}: {worst_loss:.2%} loss"),
            (
                "UDP receive-buffer drops (namespace)",
                str(udp.get("RcvbufErrors", "?")),
            ),
            ("UDP send-buffer drops (namespace)", str(udp.get("SndbufErrors", "?"))),
        ],
    )
    late_ticks = result.late_ticks
    if late_ticks:
        print(
            f"\nThe sender fell more than 100 ms behind at {len(late_ticks)} ticks "
            f"(second, lateness): {late_ticks[:10]}"
        )
    print(
        f"\nThe worker forwards {forwarded_per_second:,.0f} packets/s at "
        f"{share:.1%} of a core; the bare work would take {bare_share:.1%}. "
        f"Loss {overall:.2%} overall, {worst_loss:.2%} at worst "
        f"({'met' if worst_loss < MAX_LOSS else 'NOT met'}: < 1%)."
    )
    summary(
        f"{PEOPLE}-person room SFU CPU %",
        f"{share:.1%} ({share / cores:.2%} of {cores} cores)",
        f"{bare_share:.1%} bare",
        f"{share / bare_share:.1f}" if bare_share else "-",
        "-",
    )
    summary(
        f"{PEOPLE}-person room loss %",
        f"{overall:.2%}",
        "-",
        f"worst {worst_loss:.2%}",
        "< 1%",
    )
    summary(
        f"{PEOPLE}-person room forwarded packets/s",
        f"{forwarded_per_second:,.0f}",
        "-",
        "-",
        "-",
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(parser.parse_args().seconds))
