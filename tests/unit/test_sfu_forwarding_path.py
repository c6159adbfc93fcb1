"""One publisher's packets through the SFU to subscribers, with transports
that record what they would send: rewriting, byte-exact payloads, garbage,
retransmissions and keyframe requests."""

import os

from aiortc.rtcrtpparameters import (
    RTCRtpCodecParameters,
    RTCRtpDecodingParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpReceiveParameters,
    RTCRtpRtxParameters,
    RTCRtpSendParameters,
)
from aiortc.rtp import (
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    HeaderExtensionsMap,
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpRtpfbPacket,
    RtpPacket,
    is_rtcp,
)

from adapters.media.sfu.forwarded_stream import ForwardedStream
from adapters.media.sfu.published_track import PublishedTrack
from adapters.media.sfu.traffic import Traffic

PUBLISHER_SSRC, PUBLISHER_RTX_SSRC = 1111, 1112
SLOT_SSRC, SLOT_RTX_SSRC = 2221, 2222
EXTENSIONS = [
    RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
    RTCRtpHeaderExtensionParameters(
        id=2, uri="http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
    ),
]


class RecordingTransport:
    """Stands in for aiortc's RTCDtlsTransport where the SFU uses it."""

    def __init__(self, broken: bool = False) -> None:
        self.broken = broken
        self.sent: list[bytes] = []

    def _register_rtp_receiver(self, receiver, parameters):
        pass

    def _register_rtp_sender(self, sender, parameters):
        pass

    def _unregister_rtp_receiver(self, receiver):
        pass

    def _unregister_rtp_sender(self, sender):
        pass

    async def _send_rtp(self, data: bytes) -> None:
        if self.broken:
            raise ConnectionError("gone")
        self.sent.append(data)

    def rtp(self) -> list[RtpPacket]:
        extensions = HeaderExtensionsMap()
        extensions.configure(RTCRtpSendParameters(headerExtensions=EXTENSIONS))
        return [RtpPacket.parse(d, extensions) for d in self.sent if not is_rtcp(d)]

    def rtcp(self) -> list:
        return [p for d in self.sent if is_rtcp(d) for p in RtcpPacket.parse(d)]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def vp8(pt: int) -> RTCRtpCodecParameters:
    return RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=pt)


def rtx(pt: int, apt: int) -> RTCRtpCodecParameters:
    return RTCRtpCodecParameters(
        mimeType="video/rtx", clockRate=90000, payloadType=pt, parameters={"apt": apt}
    )


async def published_video(clock: Clock, traffic: Traffic):
    track = PublishedTrack("video", 9999, traffic, keyframe_interval=0.5, clock=clock)
    transport = RecordingTransport()
    await track.start(
        transport,  # type: ignore[arg-type]
        RTCRtpReceiveParameters(
            codecs=[vp8(96), rtx(97, 96)],
            headerExtensions=EXTENSIONS,
            encodings=[
                RTCRtpDecodingParameters(
                    ssrc=PUBLISHER_SSRC,
                    payloadType=96,
                    rtx=RTCRtpRtxParameters(ssrc=PUBLISHER_RTX_SSRC),
                )
            ],
        ),
    )
    return track, transport


async def slot_for(track, traffic: Traffic, transport=None, ssrc=SLOT_SSRC):
    slot = ForwardedStream("video", "4", ssrc, SLOT_RTX_SSRC, traffic)
    transport = transport or RecordingTransport()
    parameters = RTCRtpSendParameters(
        codecs=[vp8(100), rtx(101, 100)], headerExtensions=EXTENSIONS, muxId="4"
    )
    slot.bind(track)  # as when a participant joins: bound, then connected
    await slot.start(transport, parameters)
    return slot, transport


def media(sequence: int, keyframe: bool = False, **fields) -> RtpPacket:
    header = b"\x90\x80\x05" + (b"\x10" if keyframe else b"\x11")
    packet = RtpPacket(
        payload_type=fields.get("payload_type", 96),
        sequence_number=sequence,
        timestamp=sequence * 3000,
        ssrc=fields.get("ssrc", PUBLISHER_SSRC),
        payload=fields.get("payload", header + os.urandom(200)),
    )
    return packet


async def publish(track: PublishedTrack, *packets: RtpPacket) -> None:
    for packet in packets:
        await track._handle_rtp_packet(packet, arrival_time_ms=0)


def plis(transport: RecordingTransport) -> list:
    return [
        p
        for p in transport.rtcp()
        if isinstance(p, RtcpPsfbPacket) and p.fmt == RTCP_PSFB_PLI
    ]


async def test_payloads_pass_byte_for_byte_under_the_subscribers_own_header():
    clock, traffic = Clock(), Traffic()
    track, _ = await published_video(clock, traffic)
    _slot, subscriber = await slot_for(track, traffic)
    sent = [media(500, keyframe=True)] + [media(n) for n in range(501, 520)]

    await publish(track, *sent)

    received = subscriber.rtp()
    assert [p.payload for p in received] == [p.payload for p in sent]
    assert {(p.ssrc, p.payload_type) for p in received} == {(SLOT_SSRC, 100)}
    assert {p.extensions.mid for p in received} == {"4"}
    sequences = [p.sequence_number for p in received]
    assert sequences == [(sequences[0] + i) % 65536 for i in range(len(sent))]
    assert traffic.forwarded == len(sent)


async def test_video_starts_at_a_keyframe_and_asks_the_publisher_for_one():
    clock, traffic = Clock(), Traffic()
    track, publisher = await published_video(clock, traffic)
    _slot, subscriber = await slot_for(track, traffic)
    assert len(plis(publisher)) == 1  # asked as the slot started

    clock.now += 1
    await publish(track, media(1), media(2))
    assert subscriber.rtp() == []
    assert [p.media_ssrc for p in plis(publisher)] == [PUBLISHER_SSRC] * 2

    await publish(track, media(3, keyframe=True), media(4))
    assert len(subscriber.rtp()) == 2
    assert subscriber.rtp()[0].payload[3] == 0x10


async def test_packets_that_are_not_the_announced_stream_are_refused():
    clock, traffic = Clock(), Traffic()
    track, _ = await published_video(clock, traffic)
    _slot, subscriber = await slot_for(track, traffic)

    await publish(
        track,
        media(10, keyframe=True),
        media(11, ssrc=4242),  # someone else's SSRC
        media(12, payload_type=111),  # a payload type not negotiated
        media(13, ssrc=PUBLISHER_RTX_SSRC, payload_type=97, payload=b"\x00"),
        media(14),
    )

    assert [
        p.sequence_number - subscriber.rtp()[0].sequence_number
        for p in (subscriber.rtp())
    ] == [0, 4]
    assert traffic.refused == 3


async def test_a_retransmission_request_is_answered_from_the_sfus_history():
    clock, traffic = Clock(), Traffic()
    track, publisher = await published_video(clock, traffic)
    slot, subscriber = await slot_for(track, traffic)
    await publish(
        track, media(700, keyframe=True), *[media(n) for n in range(701, 705)]
    )
    lost = subscriber.rtp()[2]
    subscriber.sent.clear()

    nack = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=7, media_ssrc=SLOT_SSRC)
    nack.lost = [lost.sequence_number, (lost.sequence_number + 50) % 65536]
    await slot._handle_rtcp_packet(nack)

    [repair] = subscriber.rtp()
    assert (repair.ssrc, repair.payload_type) == (SLOT_RTX_SSRC, 101)
    assert repair.payload == lost.sequence_number.to_bytes(2, "big") + lost.payload
    assert repair.timestamp == lost.timestamp
    assert traffic.retransmitted == 1
    assert not [p for p in publisher.rtcp() if isinstance(p, RtcpRtpfbPacket)]


async def test_keyframe_requests_of_many_subscribers_reach_the_publisher_throttled():
    clock, traffic = Clock(), Traffic()
    track, publisher = await published_video(clock, traffic)
    slots = [(await slot_for(track, traffic, ssrc=SLOT_SSRC + i))[0] for i in range(4)]
    await publish(track, media(1, keyframe=True))
    publisher.sent.clear()

    for _ in range(16):  # two seconds of every subscriber asking
        clock.now += 0.125
        for slot in slots:
            await slot._handle_rtcp_packet(
                RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=7, media_ssrc=slot._ssrc)
            )

    assert traffic.keyframe_requests == 64
    assert len(plis(publisher)) == 4  # one each half second


async def test_a_subscriber_gone_away_does_not_stop_forwarding_to_the_others():
    clock, traffic = Clock(), Traffic()
    track, _ = await published_video(clock, traffic)
    await slot_for(track, traffic, RecordingTransport(broken=True), ssrc=1)
    _, working = await slot_for(track, traffic, ssrc=2)

    await publish(track, media(1, keyframe=True), media(2))

    assert len(working.rtp()) == 2
    assert traffic.failed == 0
