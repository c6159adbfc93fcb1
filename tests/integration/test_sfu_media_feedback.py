"""What the SFU does with the media itself: payloads pass untouched even when
they are ciphertext, a newcomer gets a keyframe, lost packets come again from
the SFU, and keyframe requests reach the publisher throttled."""

import asyncio
import os

from aiortc import sdp
from aiortc.rtp import (
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpRtpfbPacket,
    RtpPacket,
    is_rtcp,
)

from adapters.media.sfu.vp8_keyframes import descriptor_length, starts_keyframe
from tests.support.sfu_participant import (
    SfuTestParticipant,
    join,
    sfu_on_loopback,
    transport_of,
)

ROOM = "gruppe-mittwoch"


def payload_types(session_sdp: str, kind: str) -> tuple[int | None, int | None]:
    """The primary and RTX payload type of the first m-line of this kind."""
    media = next(
        m for m in sdp.SessionDescription.parse(session_sdp).media if m.kind == kind
    )
    primary = next(c for c in media.rtp.codecs if c.name != "rtx")
    repair = next((c for c in media.rtp.codecs if c.name == "rtx"), None)
    return primary.payloadType, repair.payloadType if repair else None


class Scrambler:
    """Makes the publisher's payloads look end-to-end encrypted: only the VP8
    payload descriptor and the first byte of the frame stay in the clear."""

    def __init__(self, participant: SfuTestParticipant, video_type: int | None) -> None:
        self.sent: list[bytes] = []
        transport = transport_of(participant)
        send = transport._send_rtp

        async def scramble(data: bytes) -> None:
            if not is_rtcp(data):
                packet = RtpPacket.parse(data)
                if packet.payload_type == video_type and packet.payload:
                    clear = (descriptor_length(packet.payload) or 0) + 1
                    payload = packet.payload[:clear] + os.urandom(
                        max(len(packet.payload) - clear, 0)
                    )
                    data = data[: len(data) - len(packet.payload) - packet.padding_size]
                    data += payload
                    self.sent.append(payload)
            await send(data)

        transport._send_rtp = scramble  # type: ignore[method-assign]


class Observer:
    """Records the RTP a participant receives (and can lose one on purpose),
    and the RTCP it gets."""

    def __init__(self, participant: SfuTestParticipant) -> None:
        self.rtp: list[RtpPacket] = []
        self.rtcp: list[object] = []
        self.drop_sequence: int | None = None
        transport = transport_of(participant)
        handle_rtp, handle_rtcp = (
            transport._handle_rtp_data,
            transport._handle_rtcp_data,
        )

        async def on_rtp(data: bytes, arrival_time_ms: int) -> None:
            packet = RtpPacket.parse(data)
            if packet.sequence_number == self.drop_sequence:
                self.drop_sequence = None
                return
            self.rtp.append(packet)
            await handle_rtp(data, arrival_time_ms)

        async def on_rtcp(data: bytes) -> None:
            self.rtcp.extend(RtcpPacket.parse(data))
            await handle_rtcp(data)

        transport._handle_rtp_data = on_rtp  # type: ignore[method-assign]
        transport._handle_rtcp_data = on_rtcp  # type: ignore[method-assign]

    def of_type(self, payload_type: int | None) -> list[RtpPacket]:
        return [p for p in self.rtp if p.payload_type == payload_type]

    def keyframe_requests(self) -> int:
        return sum(
            isinstance(p, RtcpPsfbPacket) and p.fmt == RTCP_PSFB_PLI for p in self.rtcp
        )

    def nacks(self) -> int:
        return sum(
            isinstance(p, RtcpRtpfbPacket) and p.fmt == RTCP_RTPFB_NACK
            for p in self.rtcp
        )


async def test_encrypted_payloads_reach_the_subscriber_byte_for_byte():
    publisher = SfuTestParticipant("sender", slots=0)
    subscriber = SfuTestParticipant("empfaenger", slots=1, publish=False)
    try:
        async with sfu_on_loopback(workers=1) as sfu:
            await sfu.create_room(ROOM)
            offer = await publisher.offer()
            scrambler = Scrambler(publisher, payload_types(offer, "video")[0])
            joined = await sfu.join(ROOM, "sender", offer)
            await publisher.accept(joined.answer_sdp, joined.layout)
            sub_offer = await subscriber.offer()
            observer = Observer(subscriber)
            joined = await sfu.join(ROOM, "empfaenger", sub_offer)
            await subscriber.accept(joined.answer_sdp, joined.layout)
            video_type, _ = payload_types(joined.answer_sdp, "video")

            async with asyncio.timeout(15):
                while len(observer.of_type(video_type)) < 60:
                    await asyncio.sleep(0.1)

            received = [p.payload for p in observer.of_type(video_type)]
            assert starts_keyframe(received[0])
            start = scrambler.sent.index(received[0])
            assert received == scrambler.sent[start : start + len(received)]
            [stats] = await sfu.stats()
            assert stats["codecs_refused"] == stats["decoder_threads"] == 0
    finally:
        await publisher.close()
        await subscriber.close()


async def test_a_newcomer_gets_a_keyframe_asked_for_on_its_behalf():
    publisher = SfuTestParticipant("sender", slots=1)
    newcomer = SfuTestParticipant("neu", slots=1, publish=False)
    try:
        async with sfu_on_loopback(workers=1) as sfu:
            await sfu.create_room(ROOM)
            await publisher.offer()
            upstream = Observer(publisher)
            joined = await sfu.join(ROOM, "sender", publisher.pc.localDescription.sdp)
            await publisher.accept(joined.answer_sdp, joined.layout)
            await asyncio.sleep(1.5)  # alone: nobody asks for anything
            assert upstream.keyframe_requests() == 0

            await join(sfu, ROOM, [newcomer])
            await newcomer.wait_until(
                lambda: newcomer.frames_from("sender", "video") >= 5, 10
            )
            assert upstream.keyframe_requests() >= 1
    finally:
        await publisher.close()
        await newcomer.close()


async def test_a_lost_packet_is_sent_again_from_the_sfus_history():
    publisher = SfuTestParticipant("sender", slots=1)
    subscriber = SfuTestParticipant("empfaenger", slots=1, publish=False)
    try:
        async with sfu_on_loopback(workers=1) as sfu:
            await sfu.create_room(ROOM)
            await publisher.offer()
            upstream = Observer(publisher)
            joined = await sfu.join(ROOM, "sender", publisher.pc.localDescription.sdp)
            await publisher.accept(joined.answer_sdp, joined.layout)
            await subscriber.offer()
            downstream = Observer(subscriber)
            joined = await sfu.join(
                ROOM, "empfaenger", subscriber.pc.localDescription.sdp
            )
            await subscriber.accept(joined.answer_sdp, joined.layout)
            video_type, rtx_type = payload_types(joined.answer_sdp, "video")
            assert rtx_type is not None

            async with asyncio.timeout(10):
                while len(downstream.of_type(video_type)) < 20:
                    await asyncio.sleep(0.05)
            lost = (downstream.of_type(video_type)[-1].sequence_number + 5) % 65536
            downstream.drop_sequence = lost

            def repaired() -> bool:
                return any(
                    int.from_bytes(p.payload[:2], "big") == lost
                    for p in downstream.of_type(rtx_type)
                )

            async with asyncio.timeout(10):
                while not repaired():
                    await asyncio.sleep(0.05)
            [stats] = await sfu.stats()
            assert stats["retransmitted"] >= 1
            assert upstream.nacks() == 0  # the SFU had it: the publisher never knew
    finally:
        await publisher.close()
        await subscriber.close()


async def test_a_subscriber_asking_for_keyframes_all_the_time_is_throttled():
    publisher = SfuTestParticipant("sender", slots=1)
    subscriber = SfuTestParticipant("empfaenger", slots=1, publish=False)
    try:
        async with sfu_on_loopback(workers=1, keyframe_interval=0.5) as sfu:
            await sfu.create_room(ROOM)
            await publisher.offer()
            upstream = Observer(publisher)
            joined = await sfu.join(ROOM, "sender", publisher.pc.localDescription.sdp)
            await publisher.accept(joined.answer_sdp, joined.layout)
            await join(sfu, ROOM, [subscriber])
            await subscriber.wait_until(
                lambda: subscriber.frames_from("sender", "video") >= 3, 10
            )
            media = next(
                m
                for m in sdp.SessionDescription.parse(
                    subscriber.pc.remoteDescription.sdp
                ).media
                if m.kind == "video"
            )
            slot_ssrc = media.ssrc[0].ssrc
            before = upstream.keyframe_requests()

            for _ in range(40):  # two seconds, twenty requests a second
                pli = RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=slot_ssrc)
                await transport_of(subscriber)._send_rtp(bytes(pli))
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)

            passed = upstream.keyframe_requests() - before
            assert 2 <= passed <= 6
            [stats] = await sfu.stats()
            assert stats["keyframe_requests"] >= 40
    finally:
        await publisher.close()
        await subscriber.close()
