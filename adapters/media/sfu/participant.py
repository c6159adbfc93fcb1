"""One participant's peer connection with the SFU.

The participant's offer names the tracks it publishes and the slots in which
it receives others (see offer). The SFU answers with an aiortc peer
connection whose receivers and senders are diverted (see aiortc_hooks): a
``PublishedTrack`` per published track, a ``ForwardedStream`` per slot.
"""

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.rtcconfiguration import RTCBundlePolicy

from adapters.media.sfu import aiortc_hooks
from adapters.media.sfu.forwarded_stream import ForwardedStream
from adapters.media.sfu.offer import ReadOffer
from adapters.media.sfu.published_track import PublishedTrack
from adapters.media.sfu.traffic import Traffic

logger = logging.getLogger(__name__)

#: RTCP goes out every second on average, varied as RFC 3550 asks.
REPORT_INTERVAL_SECONDS = 1.0


class Participant:
    def __init__(
        self,
        participant_id: str,
        ice_servers: list[RTCIceServer],
        traffic: Traffic,
        keyframe_interval: float,
        on_failed: Callable[["Participant"], None],
    ) -> None:
        self.participant_id = participant_id
        self.published: dict[str, PublishedTrack] = {}
        self.slots: list[ForwardedStream] = []
        self.pc = RTCPeerConnection(
            RTCConfiguration(
                iceServers=ice_servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE
            )
        )
        self._traffic = traffic
        self._keyframe_interval = keyframe_interval
        self._reports: asyncio.Task[None] | None = None
        self._closed = False

        @self.pc.on("connectionstatechange")
        def on_state() -> None:
            logger.debug("SFU connection %s", self.pc.connectionState)
            if self.pc.connectionState == "failed" and not self._closed:
                on_failed(self)

    async def answer(self, offer: ReadOffer) -> str:
        """Takes the offer and returns the answer's SDP with all candidates."""
        await self.pc.setRemoteDescription(
            RTCSessionDescription(sdp=offer.sdp, type="offer")
        )
        # Divert before the next await: the connection starts receivers and
        # senders from a task of its own once the transport is up.
        media_by_mid = {media.mid: media for media in offer.media}
        for transceiver in self.pc.getTransceivers():
            media = media_by_mid[str(transceiver.mid)]
            if media.publishes:
                track = PublishedTrack(
                    media.kind,
                    rtcp_ssrc=aiortc_hooks.sender_ssrcs(transceiver.sender)[0],
                    traffic=self._traffic,
                    keyframe_interval=self._keyframe_interval,
                )
                aiortc_hooks.divert_receiver(transceiver.receiver, track.start)
                self.published[media.kind] = track
            if media.receives:
                ssrc, rtx_ssrc = aiortc_hooks.sender_ssrcs(transceiver.sender)
                slot = ForwardedStream(
                    media.kind, media.mid, ssrc, rtx_ssrc, self._traffic
                )
                aiortc_hooks.divert_sender(transceiver.sender, slot.start)
                self.slots.append(slot)
            transceiver.direction = _answer_direction(media.publishes, media.receives)

        await self.pc.setLocalDescription(await self.pc.createAnswer())
        self._reports = asyncio.create_task(self._send_reports())
        return str(self.pc.localDescription.sdp)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._reports is not None:
            self._reports.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reports
        for track in self.published.values():
            track.stop()
        for slot in self.slots:
            slot.stop()
        await self.pc.close()

    async def _send_reports(self) -> None:
        while True:
            await asyncio.sleep(REPORT_INTERVAL_SECONDS * (0.5 + random.random()))
            try:
                for track in self.published.values():
                    await track.send_reports()
                for slot in self.slots:
                    await slot.send_reports()
            except Exception:
                logger.exception("Sending RTCP reports failed")


def _answer_direction(publishes: bool, receives: bool) -> str:
    if publishes and receives:
        return "sendrecv"
    if publishes:
        return "recvonly"
    return "sendonly" if receives else "inactive"
