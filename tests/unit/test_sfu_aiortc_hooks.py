"""The SFU's hooks into aiortc's private parts still fit the installed aiortc.

If one of these fails after an upgrade, read adapters/media/sfu/aiortc_hooks.py
and the new aiortc source side by side before changing the pin.
"""

import inspect

import aiortc
import aiortc.rtcrtpreceiver
import aiortc.rtcrtpsender
import pytest
from aiortc import RTCDtlsTransport, RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.rtcdtlstransport import RtpRouter
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from adapters.media.sfu import aiortc_hooks
from adapters.media.sfu.aiortc_hooks import CodecForbidden, CodecGuard


def parameters_of(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


def test_the_hooks_are_pinned_to_the_aiortc_version_they_were_written_for():
    assert aiortc.__version__ == aiortc_hooks.PINNED_AIORTC_VERSION == "1.16.0"


def test_the_peer_connection_starts_receivers_and_senders_through_their_methods():
    connect = inspect.getsource(RTCPeerConnection._RTCPeerConnection__connect)  # type: ignore[attr-defined]
    assert "await transceiver.receiver.receive(" in connect
    assert "await transceiver.sender.send(" in connect


def test_receivers_and_senders_have_the_methods_the_sfu_replaces():
    assert parameters_of(RTCRtpReceiver.receive) == ["self", "parameters"]
    assert parameters_of(RTCRtpSender.send) == ["self", "parameters"]
    # Receiving starts the decoder thread; that is what the SFU keeps from running.
    assert "decoder_worker" in inspect.getsource(RTCRtpReceiver.receive)
    assert "_run_rtp" in inspect.getsource(RTCRtpSender.send)


def test_the_transport_registers_and_serves_rtp_handlers():
    assert parameters_of(RTCDtlsTransport._register_rtp_receiver) == [
        "self",
        "receiver",
        "parameters",
    ]
    assert parameters_of(RTCDtlsTransport._register_rtp_sender) == [
        "self",
        "sender",
        "parameters",
    ]
    assert parameters_of(RTCDtlsTransport._unregister_rtp_receiver) == [
        "self",
        "receiver",
    ]
    assert parameters_of(RTCDtlsTransport._unregister_rtp_sender) == ["self", "sender"]
    assert parameters_of(RTCDtlsTransport._send_rtp) == ["self", "data"]
    handle_rtp = inspect.getsource(RTCDtlsTransport._handle_rtp_data)
    assert "receiver._handle_rtp_packet(packet, arrival_time_ms=" in handle_rtp
    handle_rtcp = inspect.getsource(RTCDtlsTransport._handle_rtcp_data)
    assert "recipient._handle_rtcp_packet(packet)" in handle_rtcp


def test_the_rtp_router_sends_feedback_to_the_sender_registered_for_the_ssrc():
    assert "self.senders.get(packet.media_ssrc)" in inspect.getsource(
        RtpRouter.route_rtcp
    )
    assert "register_sender(sender, ssrc=sender._ssrc)" in inspect.getsource(
        RTCDtlsTransport._register_rtp_sender
    )


def test_senders_announce_the_ssrcs_the_sfu_sends_with():
    source = inspect.getsource(RTCRtpSender.__init__)
    assert "self._ssrc = random32()" in source
    assert "self._rtx_ssrc = random32()" in source


def test_the_helpers_the_sfu_borrows_still_exist():
    for name in ("NackGenerator", "StreamStatistics", "get_decoder"):
        assert hasattr(aiortc.rtcrtpreceiver, name), name
    assert hasattr(aiortc.rtcrtpsender, "get_encoder")


def test_the_codec_guard_refuses_decoders_and_encoders_and_counts_them():
    guard = CodecGuard()
    codec = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000)
    guard.install()
    try:
        with pytest.raises(CodecForbidden):
            aiortc.rtcrtpreceiver.get_decoder(codec)
        with pytest.raises(CodecForbidden):
            aiortc.rtcrtpsender.get_encoder(codec)
    finally:
        guard.uninstall()
    assert guard.refused == 2
    assert aiortc.rtcrtpreceiver.get_decoder(codec) is not None
