"""One track a participant publishes, as the SFU receives it.

It stands in the transport's RTP router where aiortc's receiver would be
(see aiortc_hooks): packets arrive parsed and SRTP-decrypted, are checked
against what the offer announced, stored for retransmission and handed to
every forwarded stream bound to this track. Nothing here looks into the
payload except the VP8 keyframe check; nothing is decoded.

Towards the publisher it speaks RTCP like a receiver would: receiver reports,
NACKs for gaps, keyframe requests (throttled) and REMB carrying the room's
bitrate target for this track.
"""

import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiortc import RTCDtlsTransport
from aiortc.codecs import is_rtx
from aiortc.rtcrtpparameters import RTCRtpReceiveParameters
from aiortc.rtcrtpreceiver import NackGenerator, StreamStatistics
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    AnyRtcpPacket,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSrPacket,
    RtpPacket,
    pack_remb_fci,
    unwrap_rtx,
)

from adapters.media.sfu import aiortc_hooks
from adapters.media.sfu.keyframe_requests import KeyframeRequestThrottle
from adapters.media.sfu.packet_history import PacketHistory
from adapters.media.sfu.traffic import Traffic
from adapters.media.sfu.vp8_keyframes import starts_keyframe

if TYPE_CHECKING:
    from adapters.media.sfu.forwarded_stream import ForwardedStream

logger = logging.getLogger(__name__)


class PublishedTrack:
    def __init__(
        self,
        kind: str,
        rtcp_ssrc: int,
        traffic: Traffic,
        keyframe_interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kind = kind
        self.traffic = traffic
        self.history = PacketHistory()
        self.subscribers: set[ForwardedStream] = set()
        self.keyframe_requests = KeyframeRequestThrottle(keyframe_interval)
        self.target_bitrate_bps: int | None = None
        #: The publisher's last sender report: (NTP time, RTP timestamp).
        self.last_sender_report: tuple[int, int] | None = None
        self.clock_rate = 90000 if kind == "video" else 48000
        self._rtcp_ssrc = rtcp_ssrc
        self._clock = clock
        self._transport: RTCDtlsTransport | None = None
        self._ssrc: int | None = None
        self._payload_type: int | None = None
        self._rtx: dict[tuple[int, int], int] = {}  # (SSRC, PT) -> original PT
        self._rtx_ssrc: int | None = None
        self._statistics: StreamStatistics | None = None
        self._nacks = NackGenerator() if kind == "video" else None

    # Set up by the peer connection, through aiortc_hooks.divert_receiver

    async def start(
        self, transport: RTCDtlsTransport, parameters: RTCRtpReceiveParameters
    ) -> None:
        primary = [codec for codec in parameters.codecs if not is_rtx(codec)]
        if not primary or primary[0].payloadType is None:
            return
        payload_type = primary[0].payloadType
        self._payload_type = payload_type
        self.clock_rate = primary[0].clockRate
        self._statistics = StreamStatistics(self.clock_rate)
        for encoding in parameters.encodings:
            if encoding.payloadType == payload_type:
                self._ssrc = encoding.ssrc
                if encoding.rtx is not None:
                    self._rtx_ssrc = encoding.rtx.ssrc
        for codec in parameters.codecs:
            apt = codec.parameters.get("apt")
            if is_rtx(codec) and apt == payload_type and codec.payloadType is not None:
                self._rtx[(self._rtx_ssrc or 0, codec.payloadType)] = payload_type
        self._transport = transport
        aiortc_hooks.register_inlet(transport, self, parameters)
        logger.debug("Receiving published %s", self.kind)

    def stop(self) -> None:
        if self._transport is not None:
            aiortc_hooks.unregister_inlet(self._transport, self)
            self._transport = None
        for stream in list(self.subscribers):
            stream.bind(None)

    # Called by the transport's RTP router

    def _handle_disconnect(self) -> None:
        logger.debug("Publisher's transport of %s disconnected", self.kind)

    async def _handle_rtp_packet(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        # An exception here would end the publisher's whole transport.
        try:
            await self._receive(packet)
        except Exception:
            self.traffic.failed += 1
            logger.exception("Dropped a %s packet that failed to forward", self.kind)

    async def _handle_rtcp_packet(self, packet: AnyRtcpPacket) -> None:
        if isinstance(packet, RtcpSrPacket) and packet.ssrc == self._ssrc:
            info = packet.sender_info
            self.last_sender_report = (info.ntp_timestamp, info.rtp_timestamp)

    # Forwarding

    async def _receive(self, packet: RtpPacket) -> None:
        original = self._original_of(packet)
        if original is None:
            self.traffic.refused += 1
            return
        if self._ssrc is None:
            self._ssrc = original.ssrc  # the offer announced no SSRC: take the first
        if self._statistics is not None and original is packet:
            self._statistics.add(packet)
        if not self.history.add(original):
            return  # a retransmission of what we have
        self.traffic.received += 1

        if self._nacks is not None and self._nacks.add(original):
            await self._send_nack(sorted(self._nacks.missing))
        keyframe = self.kind == "video" and starts_keyframe(original.payload)
        now = self._clock()
        if not keyframe and any(s.waiting_for_keyframe for s in self.subscribers):
            await self.request_keyframe()
        for stream in list(self.subscribers):
            await stream.forward(original, keyframe, now)

    def _original_of(self, packet: RtpPacket) -> RtpPacket | None:
        """The packet as the publisher first sent it, or None for a packet that
        is not this track's media (wrong SSRC, payload type, broken RTX)."""
        if packet.payload_type == self._payload_type and (
            self._ssrc is None or packet.ssrc == self._ssrc
        ):
            return packet
        original_type = self._rtx.get((packet.ssrc, packet.payload_type))
        if original_type is None or self._ssrc is None or len(packet.payload) < 2:
            return None
        return unwrap_rtx(packet, payload_type=original_type, ssrc=self._ssrc)

    # RTCP towards the publisher

    async def request_keyframe(self) -> None:
        if self.kind != "video" or self._ssrc is None:
            return
        if self.keyframe_requests.allow(self._clock()):
            await self._send_rtcp(
                RtcpPsfbPacket(
                    fmt=RTCP_PSFB_PLI, ssrc=self._rtcp_ssrc, media_ssrc=self._ssrc
                )
            )

    async def send_reports(self) -> None:
        """Receiver report, and REMB with the bitrate target for video."""
        if self._ssrc is None or self._statistics is None:
            return
        stream = self._statistics
        if stream.max_seq is not None:
            report = RtcpReceiverInfo(
                ssrc=self._ssrc,
                fraction_lost=stream.fraction_lost,
                packets_lost=stream.packets_lost,
                highest_sequence=stream.max_seq,
                jitter=stream.jitter,
                lsr=0,
                dlsr=0,
            )
            await self._send_rtcp(RtcpRrPacket(ssrc=self._rtcp_ssrc, reports=[report]))
        if self.kind == "video" and self.target_bitrate_bps is not None:
            await self._send_rtcp(
                RtcpPsfbPacket(
                    fmt=RTCP_PSFB_APP,
                    ssrc=self._rtcp_ssrc,
                    media_ssrc=0,
                    fci=pack_remb_fci(self.target_bitrate_bps, [self._ssrc]),
                )
            )

    async def _send_nack(self, lost: list[int]) -> None:
        if self._ssrc is not None:
            nack = RtcpRtpfbPacket(
                fmt=RTCP_RTPFB_NACK, ssrc=self._rtcp_ssrc, media_ssrc=self._ssrc
            )
            nack.lost = lost
            await self._send_rtcp(nack)

    async def _send_rtcp(self, packet: AnyRtcpPacket) -> None:
        if self._transport is None:
            return
        with contextlib.suppress(ConnectionError):
            await aiortc_hooks.send_rtp(self._transport, bytes(packet))
