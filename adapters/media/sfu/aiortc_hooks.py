"""Every place where the SFU reaches into aiortc's private parts, in one module.

aiortc decodes what it receives and encodes what it sends; it has no public
way to pass RTP packets through untouched. The SFU therefore takes over four
points of aiortc 1.16.0, and nothing else:

- ``RTCRtpReceiver.receive``: the peer connection calls it once the DTLS
  transport is up. The SFU's version registers a ``PublishedTrack`` with the
  transport instead of the receiver, so the receiver's decoder thread is
  never started and its jitter buffer never filled.
- ``RTCRtpSender.send``: likewise for sending. The SFU's version registers a
  ``ForwardedStream`` for the sender's SSRC, so the sender's encoding task
  never starts; RTCP about that SSRC (NACK, PLI, FIR, REMB, receiver reports)
  comes to the forwarded stream.
- ``RTCDtlsTransport._register_rtp_receiver`` / ``_register_rtp_sender`` (and
  their ``_unregister_`` twins): the transport's RTP router hands parsed
  packets to whatever object has ``_handle_rtp_packet`` /
  ``_handle_rtcp_packet``; the SFU registers its own objects there.
- ``RTCDtlsTransport._send_rtp``: SRTP-protects and sends one serialized RTP
  or RTCP packet.

The version is pinned below, and tests/unit/test_sfu_aiortc_hooks.py checks
that each of these names still exists with the signature relied on, so an
upgrade fails loudly instead of quietly decoding or dropping media.
"""

import types
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import aiortc
import aiortc.rtcrtpreceiver
import aiortc.rtcrtpsender
from aiortc import RTCDtlsTransport, RTCRtpReceiver, RTCRtpSender
from aiortc.rtcrtpparameters import RTCRtpReceiveParameters, RTCRtpSendParameters
from aiortc.rtp import AnyRtcpPacket, RtpPacket

PINNED_AIORTC_VERSION = "1.16.0"

if aiortc.__version__ != PINNED_AIORTC_VERSION:
    raise ImportError(
        f"The SFU hooks into aiortc {PINNED_AIORTC_VERSION}, but aiortc "
        f"{aiortc.__version__} is installed. Check every hook listed in "
        f"{__name__} against the new aiortc source, then update the pin."
    )


class RtpInlet(Protocol):
    """What the transport's RTP router calls for a receiving stream."""

    def _handle_disconnect(self) -> None: ...
    async def _handle_rtcp_packet(self, packet: AnyRtcpPacket) -> None: ...
    async def _handle_rtp_packet(
        self, packet: RtpPacket, arrival_time_ms: int
    ) -> None: ...


class RtpOutlet(Protocol):
    """What the transport's RTP router calls for a sending stream."""

    _ssrc: int

    async def _handle_rtcp_packet(self, packet: AnyRtcpPacket) -> None: ...


def divert_receiver(
    receiver: RTCRtpReceiver,
    start: Callable[[RTCDtlsTransport, RTCRtpReceiveParameters], Awaitable[None]],
) -> None:
    """Calls ``start`` where aiortc would start decoding the receiver's media."""

    async def receive(
        self: RTCRtpReceiver, parameters: RTCRtpReceiveParameters
    ) -> None:
        await start(self.transport, parameters)

    receiver.receive = types.MethodType(receive, receiver)  # type: ignore[method-assign]


def divert_sender(
    sender: RTCRtpSender,
    start: Callable[[RTCDtlsTransport, RTCRtpSendParameters], Awaitable[None]],
) -> None:
    """Calls ``start`` where aiortc would start encoding the sender's track."""

    async def send(self: RTCRtpSender, parameters: RTCRtpSendParameters) -> None:
        await start(self.transport, parameters)

    sender.send = types.MethodType(send, sender)  # type: ignore[method-assign]


def register_inlet(
    transport: RTCDtlsTransport, inlet: RtpInlet, parameters: RTCRtpReceiveParameters
) -> None:
    transport._register_rtp_receiver(inlet, parameters)


def unregister_inlet(transport: RTCDtlsTransport, inlet: RtpInlet) -> None:
    transport._unregister_rtp_receiver(inlet)


def register_outlet(
    transport: RTCDtlsTransport, outlet: RtpOutlet, parameters: RTCRtpSendParameters
) -> None:
    transport._register_rtp_sender(outlet, parameters)


def unregister_outlet(transport: RTCDtlsTransport, outlet: RtpOutlet) -> None:
    transport._unregister_rtp_sender(outlet)


async def send_rtp(transport: RTCDtlsTransport, data: bytes) -> None:
    """SRTP-protects and sends one RTP or RTCP packet; ConnectionError once the
    transport is no longer connected."""
    await transport._send_rtp(data)


def sender_ssrcs(sender: RTCRtpSender) -> tuple[int, int]:
    """The SSRC and retransmission SSRC that aiortc announced in the SDP."""
    return sender._ssrc, sender._rtx_ssrc


class CodecForbidden(RuntimeError):
    """Something in the SFU process asked aiortc for a decoder or encoder."""


class CodecGuard:
    """Replaces aiortc's decoder and encoder factories in this process by ones
    that refuse and count, so a hook that stops working cannot silently turn
    the SFU into a transcoder."""

    def __init__(self) -> None:
        self.refused = 0
        self._originals: dict[tuple[types.ModuleType, str], Any] = {}

    def install(self) -> None:
        for module, name in (
            (aiortc.rtcrtpreceiver, "get_decoder"),
            (aiortc.rtcrtpsender, "get_encoder"),
        ):
            self._originals[(module, name)] = getattr(module, name)
            setattr(module, name, self._refuse)

    def uninstall(self) -> None:
        for (module, name), original in self._originals.items():
            setattr(module, name, original)
        self._originals.clear()

    def _refuse(self, codec: object) -> None:
        self.refused += 1
        raise CodecForbidden(f"the SFU must not decode or encode (asked for {codec})")
