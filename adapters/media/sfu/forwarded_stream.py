"""One slot of a subscriber: the stream in which the SFU forwards one
publisher's track to one participant.

It stands in the transport's RTP router where aiortc's sender would be (see
aiortc_hooks), under the SSRC the SFU's answer announced for the slot. Each
packet of the bound track gets the slot's SSRC, payload type, sequence number
and timestamp, and the header extensions the subscriber negotiated; the
payload is passed on byte for byte. Video starts (and restarts after a new
binding) at a keyframe, which it asks the publisher for.

RTCP from the subscriber is answered here: NACKs from the publisher track's
history, PLI and FIR by a (throttled) keyframe request to the publisher, REMB
noted as the subscriber's estimate for one stream.
"""

import contextlib
import logging
from typing import TYPE_CHECKING

from aiortc import RTCDtlsTransport, clock
from aiortc.codecs import is_rtx
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    AnyRtcpPacket,
    HeaderExtensionsMap,
    RtcpPsfbPacket,
    RtcpRtpfbPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
    RtpPacket,
    unpack_remb_fci,
)
from aiortc.utils import uint16_add

from adapters.media.sfu import aiortc_hooks
from adapters.media.sfu.stream_numbering import StreamNumbering
from adapters.media.sfu.traffic import Traffic

if TYPE_CHECKING:
    from adapters.media.sfu.published_track import PublishedTrack

logger = logging.getLogger(__name__)

CNAME_ITEM = 1


class ForwardedStream:
    def __init__(self, kind: str, mid: str, ssrc: int, rtx_ssrc: int, traffic: Traffic):
        self.kind = kind
        self.mid = mid
        self._ssrc = ssrc  # the name the transport's RTP router looks up
        self._rtx_ssrc = rtx_ssrc
        self.traffic = traffic
        self.source: PublishedTrack | None = None
        self.waiting_for_keyframe = False
        #: The subscriber's REMB estimate for this one stream, in bit/s.
        self.estimate_bps: int | None = None
        self._numbering = StreamNumbering(90000 if kind == "video" else 48000)
        self._transport: RTCDtlsTransport | None = None
        self._extensions = HeaderExtensionsMap()
        self._payload_type: int | None = None
        self._rtx_payload_type: int | None = None
        self._rtx_sequence = 0
        self._cname = ""
        self._packets_sent = 0
        self._octets_sent = 0

    # Set up by the peer connection, through aiortc_hooks.divert_sender

    async def start(
        self, transport: RTCDtlsTransport, parameters: RTCRtpSendParameters
    ) -> None:
        primary = parameters.codecs[0]
        self._payload_type = primary.payloadType
        self._numbering.clock_rate = primary.clockRate
        for codec in parameters.codecs:
            if is_rtx(codec) and codec.parameters.get("apt") == primary.payloadType:
                self._rtx_payload_type = codec.payloadType
        self._extensions.configure(parameters)
        self._cname = parameters.rtcp.cname or ""
        self._transport = transport
        aiortc_hooks.register_outlet(transport, self, parameters)
        if self.source is not None:
            await self.source.request_keyframe()

    def stop(self) -> None:
        self.bind(None)
        if self._transport is not None:
            aiortc_hooks.unregister_outlet(self._transport, self)
            self._transport = None

    # Which publisher the slot shows

    def bind(self, source: "PublishedTrack | None") -> None:
        if source is self.source:
            return
        if self.source is not None:
            self.source.subscribers.discard(self)
        self.source = source
        self.estimate_bps = None
        self._numbering.rebind()
        self.waiting_for_keyframe = source is not None and self.kind == "video"
        if source is not None:
            source.subscribers.add(self)

    # Media

    async def forward(self, packet: RtpPacket, keyframe: bool, now: float) -> None:
        if self._transport is None or self._payload_type is None:
            return
        if self.waiting_for_keyframe:
            if not keyframe:
                return
            self.waiting_for_keyframe = False
        if not self._numbering.bound:
            self._numbering.start(packet.sequence_number, packet.timestamp, now)
        try:
            sequence, timestamp = self._numbering.rewrite(
                packet.sequence_number, packet.timestamp, now
            )
        except ValueError:
            return  # late packet from before this stream's start
        await self._send(self._rewritten(packet, sequence, timestamp))
        self._packets_sent += 1
        self._octets_sent += len(packet.payload)
        self.traffic.forwarded += 1

    def _rewritten(self, packet: RtpPacket, sequence: int, timestamp: int) -> bytes:
        out = RtpPacket(
            payload_type=self._payload_type or 0,
            marker=packet.marker,
            sequence_number=sequence,
            timestamp=timestamp,
            ssrc=self._ssrc,
            payload=packet.payload,
        )
        out.extensions.mid = self.mid
        out.extensions.abs_send_time = (clock.current_ntp_time() >> 14) & 0xFFFFFF
        out.extensions.audio_level = packet.extensions.audio_level
        return out.serialize(self._extensions)

    async def _retransmit(self, sequence: int) -> None:
        if self.source is None:
            return
        original = self._numbering.publisher_sequence(sequence)
        packet = None if original is None else self.source.history.get(original)
        if packet is None:
            return
        timestamp = self._numbering.subscriber_timestamp(packet.timestamp)
        if self._rtx_payload_type is None:
            data = self._rewritten(packet, sequence, timestamp)
        else:
            rtx = RtpPacket(
                payload_type=self._rtx_payload_type,
                marker=packet.marker,
                sequence_number=self._rtx_sequence,
                timestamp=timestamp,
                ssrc=self._rtx_ssrc,
                payload=sequence.to_bytes(2, "big") + packet.payload,
            )
            rtx.extensions.mid = self.mid
            self._rtx_sequence = uint16_add(self._rtx_sequence, 1)
            data = rtx.serialize(self._extensions)
        await self._send(data)
        self.traffic.retransmitted += 1

    async def _send(self, data: bytes) -> None:
        if self._transport is None:
            return
        # ConnectionError: the subscriber is gone, and the room removes it.
        with contextlib.suppress(ConnectionError):
            await aiortc_hooks.send_rtp(self._transport, data)

    # RTCP, called by the transport's RTP router

    async def _handle_rtcp_packet(self, packet: AnyRtcpPacket) -> None:
        try:
            await self._handle_feedback(packet)
        except Exception:
            self.traffic.failed += 1
            logger.exception("Ignored RTCP feedback that failed to handle")

    async def _handle_feedback(self, packet: AnyRtcpPacket) -> None:
        if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            for sequence in packet.lost:
                await self._retransmit(sequence)
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt in (
            RTCP_PSFB_PLI,
            RTCP_PSFB_FIR,
        ):
            self.traffic.keyframe_requests += 1
            if self.source is not None:
                await self.source.request_keyframe()
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            try:
                bitrate, ssrcs = unpack_remb_fci(packet.fci)
            except ValueError:
                return
            if self._ssrc in ssrcs:
                self.estimate_bps = bitrate // len(ssrcs)

    async def send_reports(self) -> None:
        """Sender report in the publisher's time, so the subscriber can line
        up this stream with the same publisher's other one."""
        if self.source is None or self.source.last_sender_report is None:
            return
        if not self._numbering.bound:
            return
        ntp, rtp_timestamp = self.source.last_sender_report
        report = RtcpSrPacket(
            ssrc=self._ssrc,
            sender_info=RtcpSenderInfo(
                ntp_timestamp=ntp,
                rtp_timestamp=self._numbering.subscriber_timestamp(rtp_timestamp),
                packet_count=self._packets_sent & 0xFFFFFFFF,
                octet_count=self._octets_sent & 0xFFFFFFFF,
            ),
        )
        description = RtcpSdesPacket(
            chunks=[
                RtcpSourceInfo(
                    ssrc=self._ssrc, items=[(CNAME_ITEM, self._cname.encode())]
                )
            ]
        )
        await self._send(bytes(report) + bytes(description))
