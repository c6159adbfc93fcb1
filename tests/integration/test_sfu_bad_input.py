"""Whatever one participant (or a forged request) does wrong, the SFU refuses
it or drops it, and the call goes on for everyone else."""

import asyncio
import contextlib
import os

import pylibsrtp
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.rtcconfiguration import RTCBundlePolicy
from aiortc.rtp import RtpPacket

from adapters.media.sfu import (
    InvalidId,
    ParticipantExists,
    RoomExists,
    RoomFull,
    UnknownParticipant,
    UnknownRoom,
    UnusableOffer,
)
from tests.support.sfu_participant import (
    SfuTestParticipant,
    join,
    sfu_on_loopback,
    transport_of,
)

ROOM = "gruppe-donnerstag"


async def offer_with_two_cameras() -> str:
    pc = RTCPeerConnection(
        RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
    )
    pc.addTransceiver("video", direction="sendonly")
    pc.addTransceiver("video", direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = str(pc.localDescription.sdp)
    await pc.close()
    return sdp


async def still_receiving(me: SfuTestParticipant, publisher: str) -> None:
    seen = me.frames_from(publisher, "video")
    await me.wait_until(lambda: me.frames_from(publisher, "video") >= seen + 10, 10)


async def test_refused_requests_leave_the_call_going_for_everyone_else():
    first, second = SfuTestParticipant("a", slots=2), SfuTestParticipant("b", slots=2)
    third, intruder = SfuTestParticipant("c", slots=2), SfuTestParticipant("x", 2)
    try:
        async with sfu_on_loopback(workers=1, capacity=3) as sfu:
            await sfu.create_room(ROOM)
            await join(sfu, ROOM, [first, second])
            await first.wait_until(lambda: first.frames_from("b", "video") >= 5, 15)

            with pytest.raises(UnusableOffer, match="2 video tracks"):
                await sfu.join(ROOM, "zwei-kameras", await offer_with_two_cameras())
            with pytest.raises(UnusableOffer):
                await sfu.join(ROOM, "kaputt", "v=0\r\nnothing useful")
            usable = await intruder.offer()
            with pytest.raises(ParticipantExists):
                await sfu.join(ROOM, "a", usable)
            with pytest.raises(InvalidId):
                await sfu.join(ROOM, "<script>", usable)
            with pytest.raises(UnknownRoom):
                await sfu.join("erfunden", "c", usable)
            with pytest.raises(UnknownParticipant):
                await sfu.leave(ROOM, "niemand")
            with pytest.raises(UnknownRoom):
                await sfu.leave("erfunden", "a")
            with pytest.raises(RoomExists):
                await sfu.create_room(ROOM)
            with pytest.raises(InvalidId):
                await sfu.create_room("../../etc")

            await still_receiving(first, "b")
            await still_receiving(second, "a")
            assert set(await sfu.layout(ROOM)) == {"a", "b"}

            await join(sfu, ROOM, [third])
            with pytest.raises(RoomFull):
                await sfu.join(ROOM, "d", usable)
    finally:
        for participant in (first, second, third, intruder):
            await participant.close()


async def test_garbage_rtp_from_a_participant_is_dropped_and_the_rest_flows_on():
    honest, rogue = SfuTestParticipant("a", slots=1), SfuTestParticipant("b", slots=1)
    try:
        async with sfu_on_loopback(workers=1) as sfu:
            await sfu.create_room(ROOM)
            await join(sfu, ROOM, [honest, rogue])
            await honest.wait_until(lambda: honest.frames_from("b", "video") >= 5, 15)

            # Through the rogue's own, authenticated SRTP session.
            send = transport_of(rogue)._send_rtp
            garbage = [
                RtpPacket(payload_type=97, ssrc=0xDEADBEEF, payload=os.urandom(300)),
                RtpPacket(payload_type=98, ssrc=0xDEADBEEF, payload=b"\x00"),
                RtpPacket(payload_type=33, ssrc=1, payload=os.urandom(10)),
            ]
            for _ in range(30):
                for packet in garbage:
                    await send(packet.serialize())
                for junk in (b"\x80" + os.urandom(40), b"\x80\x61\x00\x01" + bytes(8)):
                    # libsrtp refusing to protect such junk is fine too.
                    with contextlib.suppress(pylibsrtp.Error):
                        await send(junk)
                await asyncio.sleep(0.01)

            await still_receiving(honest, "b")
            await still_receiving(rogue, "a")
            [stats] = await sfu.stats()
            assert stats["refused"] > 0
            assert stats["failed"] == 0
    finally:
        await honest.close()
        await rogue.close()
