"""A WebRTC peer on the server that sends every caller's media straight back.

The tech check calls it for a short test call: the browser learns whether a
real call gets through its network (and which way), how long packets take
there and back, how many get lost, and how many frames per second survive the
trip. Video is decoded and encoded again on the way (aiortc knows no other
way); only the newest decoded picture is sent on, so a busy server lowers the
returned frame rate instead of piling up frames.

A test call ends after ``max_seconds`` at the latest, and at most
``max_sessions`` run at once: the server refuses more with ``EchoBusy``.
"""

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRelay

from adapters.media.echo_refusals import EchoBusy, UnusableOffer
from adapters.media.test_peer import loopback_candidates_only

logger = logging.getLogger(__name__)

NEGOTIATION_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class EchoLimits:
    max_sessions: int = 2
    max_seconds: float = 30.0
    #: Offer and accept loopback addresses only: for tests and development on
    #: one machine, where the media must not leave the host.
    loopback_only: bool = False


class EchoPeers:
    """The running test calls, within their limits."""

    def __init__(
        self, ice_servers: list[dict[str, Any]], limits: EchoLimits | None = None
    ) -> None:
        self.limits = limits or EchoLimits()
        self._ice_servers = [_ice_server(server) for server in ice_servers]
        self._sessions: set[EchoSession] = set()
        self._patches = contextlib.ExitStack()
        if self.limits.loopback_only:
            # For the whole process: patching around each gathering would let
            # overlapping calls restore each other's patch in the wrong order.
            self._patches.enter_context(loopback_candidates_only())

    @property
    def active(self) -> int:
        return len(self._sessions)

    async def answer(self, offer_sdp: str) -> str:
        """Starts a test call for this offer and returns the answer's SDP, which
        carries all of the server's ICE candidates."""
        if len(self._sessions) >= self.limits.max_sessions:
            raise EchoBusy()
        session = EchoSession(self._ice_servers, self.limits, self._ended)
        # Counted before the first await, so parallel offers cannot overbook.
        self._sessions.add(session)
        try:
            async with asyncio.timeout(NEGOTIATION_TIMEOUT_SECONDS):
                answer = await session.start(offer_sdp)
        except UnusableOffer:
            await session.close()
            raise
        except Exception as error:
            await session.close()
            raise UnusableOffer(type(error).__name__) from error
        logger.info(
            "Test call started (%s of %s places taken)",
            len(self._sessions),
            self.limits.max_sessions,
        )
        return answer

    async def close(self) -> None:
        await asyncio.gather(*(session.close() for session in list(self._sessions)))
        self._patches.close()

    def _ended(self, session: "EchoSession") -> None:
        if session in self._sessions:
            self._sessions.discard(session)
            logger.info("Test call ended (%s still running)", len(self._sessions))


class EchoSession:
    """One test call: what arrives goes back on the same transceiver."""

    def __init__(
        self,
        ice_servers: list[RTCIceServer],
        limits: EchoLimits,
        on_end: Callable[["EchoSession"], None],
    ) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=ice_servers))
        self._limits = limits
        self._on_end = on_end
        self._relay = MediaRelay()
        self._deadline: asyncio.TimerHandle | None = None
        self._closing: asyncio.Task[None] | None = None
        self._closed = False

        @self.pc.on("connectionstatechange")
        def on_state() -> None:
            logger.debug("Test call connection %s", self.pc.connectionState)
            if self.pc.connectionState in ("failed", "closed"):
                self._close_soon()

    async def start(self, offer_sdp: str) -> str:
        if self._limits.loopback_only:
            offer_sdp = _loopback_candidates_of(offer_sdp)
        offer = RTCSessionDescription(sdp=offer_sdp, type="offer")
        await self.pc.setRemoteDescription(offer)
        if self._limits.loopback_only:
            _refuse_checks_from_elsewhere(self.pc)

        echoed = 0
        for transceiver in self.pc.getTransceivers():
            track = transceiver.receiver.track
            if track is None:
                continue
            # Video: only the newest picture goes back; audio: every frame.
            transceiver.sender.replaceTrack(
                self._relay.subscribe(track, buffered=track.kind == "audio")
            )
            transceiver.direction = "sendrecv"
            echoed += 1
        if not echoed:
            raise UnusableOffer("the offer sends no audio or video")

        await self.pc.setLocalDescription(await self.pc.createAnswer())
        self._deadline = asyncio.get_running_loop().call_later(
            self._limits.max_seconds, self._close_soon
        )
        return str(self.pc.localDescription.sdp)

    def _close_soon(self) -> None:
        if self._closing is None and not self._closed:
            self._closing = asyncio.create_task(self.close())

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._deadline is not None:
            self._deadline.cancel()
        self._on_end(self)
        for sender in self.pc.getSenders():
            if sender.track is not None:
                sender.track.stop()
        await self.pc.close()


def _ice_server(server: dict[str, Any]) -> RTCIceServer:
    return RTCIceServer(
        urls=server["urls"],
        username=server.get("username"),
        credential=server.get("credential"),
    )


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _loopback_candidates_of(sdp: str) -> str:
    """The offer without candidates we must not send to (not on loopback)."""
    kept = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            fields = line.split()
            if len(fields) < 5 or not _is_loopback(fields[4]):
                continue
        kept.append(line)
    return "\r\n".join(kept) + "\r\n"


def _refuse_checks_from_elsewhere(pc: RTCPeerConnection) -> None:
    # A browser also probes from its other interfaces towards our loopback
    # candidate; answering those would send packets off loopback. aiortc has
    # no public hook for this, so the ICE connection's handler is wrapped.
    connections = {
        transceiver.receiver.transport.transport._connection
        for transceiver in pc.getTransceivers()
    }
    for connection in connections:
        connection.request_received = _from_loopback_only(  # type: ignore[method-assign]
            connection.request_received
        )


def _from_loopback_only(
    answer_check: Callable[..., None],
) -> Callable[..., None]:
    def answer_if_loopback(message: Any, addr: tuple[str, int], protocol: Any) -> None:
        if _is_loopback(addr[0]):
            answer_check(message, addr, protocol)

    return answer_if_loopback
