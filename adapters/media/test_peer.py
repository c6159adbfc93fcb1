"""A headless WebRTC peer that takes part in a call the way a browser does.

It speaks Sprechzimmer's signaling protocol over a real WebSocket, sends a
synthetic camera picture (and, if asked, silence as audio) over a real
aiortc RTCPeerConnection and counts the frames it decodes from the other
side. Tests use it in place of a browser; a tech check can use it as the far
end of a test call.

The peer follows the protocol of static/call.js: whoever receives
``start-call`` (the practitioner) makes the offer, the other side answers.
aiortc puts all its ICE candidates into the SDP, so the peer sends no
``candidate`` messages; candidates it receives from a browser are added.
"""

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import Any
from unittest import mock

import aioice.ice
import orjson
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack
from aiortc.sdp import candidate_from_sdp
from av import VideoFrame
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

logger = logging.getLogger(__name__)

SESSION_COOKIE = "sprechzimmer_session"


class SyntheticCamera(VideoStreamTrack):
    """A grey picture with a bright bar moving across it, at 30 frames/s."""

    def __init__(self, width: int = 320, height: int = 240) -> None:
        super().__init__()
        self.width = width
        self.height = height
        self._count = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=self.width, height=self.height, format="yuv420p")
        luma, *chroma = frame.planes
        row = bytearray([96]) * luma.line_size
        bar = (self._count * 4) % max(self.width - 16, 1)
        row[bar : bar + 16] = bytes([235]) * 16
        luma.update(bytes(row) * self.height)
        for plane in chroma:
            plane.update(bytes([128]) * plane.buffer_size)
        frame.pts = pts
        frame.time_base = time_base
        self._count += 1
        return frame


@contextlib.contextmanager
def loopback_candidates_only() -> Iterator[None]:
    """Makes aiortc gather its ICE host candidates on loopback only.

    aioice leaves out 127.0.0.1 and ::1 when it lists the host's addresses.
    Tests on one machine want exactly those: the media stays on this host and
    the call also works where loopback is the only network interface.
    """

    def loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        wanted = (("127.0.0.1", use_ipv4), ("::1", use_ipv6))
        return [address for address, use in wanted if use]

    with mock.patch.object(aioice.ice, "get_host_addresses", loopback):
        yield


class SignalingClosed(ConnectionError):
    """The signaling socket ended before what a caller waited for happened."""


class HeadlessPeer:
    """One side of a video call, without a browser.

    ``url`` is the signaling socket (``ws://…/ws/j/<token>`` for the patient,
    ``ws://…/ws/termine/<id>`` for the practitioner), ``origin`` the server's
    http origin, ``cookies`` the practitioner's session cookie. ``ice_servers``
    defaults to none at all: aiortc would otherwise ask a public STUN server.
    """

    def __init__(
        self,
        url: str,
        *,
        origin: str,
        cookies: Mapping[str, str] | None = None,
        ice_servers: list[RTCIceServer] | None = None,
        video_size: tuple[int, int] = (320, 240),
        audio: bool = False,
    ) -> None:
        self.url = url
        self.origin = origin
        self.cookies = dict(cookies or {})
        self.ice_servers = list(ice_servers or [])
        self.video_size = video_size
        self.audio = audio
        #: Every message the server sent, in order.
        self.messages: list[dict[str, Any]] = []
        #: Frames decoded from the other side, by kind ("video", "audio").
        self.frames: Counter[str] = Counter()
        #: Width and height of the last video frame received.
        self.last_video_size: tuple[int, int] | None = None
        self.close_code: int | None = None
        self.close_reason = ""
        self._socket: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pc: RTCPeerConnection | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Condition()
        self._failure: BaseException | None = None
        self._signaling_over = False

    async def __aenter__(self) -> "HeadlessPeer":
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def connection_state(self) -> str:
        return self._pc.connectionState if self._pc else "new"

    async def connect(self) -> None:
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self._socket = await connect(
            self.url,
            origin=Origin(self.origin),
            additional_headers=headers,
            proxy=None,
        )
        logger.info("Signaling socket open")
        self._reader = asyncio.create_task(self._read(self._socket))

    async def send(self, message: dict[str, Any]) -> None:
        if self._socket is None:
            raise SignalingClosed("not connected")
        await self._socket.send(orjson.dumps(message).decode())

    async def wait_for_message(
        self, kind: str, timeout: float = 10, **fields: object
    ) -> dict[str, Any]:
        """The first message of type ``kind`` (and these field values)."""

        def matches(message: dict[str, Any]) -> bool:
            return message.get("type") == kind and all(
                message.get(name) == value for name, value in fields.items()
            )

        await self._wait_until(
            lambda: any(map(matches, self.messages)), timeout, f"a {kind!r} message"
        )
        return next(filter(matches, self.messages))

    async def wait_for_frames(
        self, count: int, kind: str = "video", timeout: float = 30
    ) -> None:
        """Waits until ``count`` frames of ``kind`` have arrived in total."""
        await self._wait_until(
            lambda: self.frames[kind] >= count, timeout, f"{count} {kind} frames"
        )

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self._close_call()
        if self._socket is not None:
            await self._socket.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # Signaling

    async def _read(self, socket: ClientConnection) -> None:
        try:
            async for raw in socket:
                message = orjson.loads(raw)
                logger.debug("Received %s", message.get("type"))
                self.messages.append(message)
                await self._handle(message)
                await self._notify()
        except ConnectionClosed:
            pass
        except Exception as error:
            logger.exception("Peer failed while handling a signaling message")
            self._failure = error
        finally:
            if socket.close_code is not None:
                self.close_code = socket.close_code
                self.close_reason = socket.close_reason or ""
            logger.info("Signaling socket closed with code %s", self.close_code)
            self._signaling_over = True
            await self._notify()

    async def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "start-call":
            await self._offer()
        elif kind == "offer":
            await self._answer(message["sdp"])
        elif kind == "answer" and self._pc is not None:
            answer = RTCSessionDescription(sdp=message["sdp"], type="answer")
            await self._pc.setRemoteDescription(answer)
        elif kind == "candidate" and self._pc is not None:
            await self._add_candidate(self._pc, message.get("candidate"))
        elif kind in ("peer-left", "ended"):
            await self._close_call()

    async def _offer(self) -> None:
        pc = await self._new_call()
        for track in self._local_tracks():
            pc.addTransceiver(track, direction="sendrecv")
        await pc.setLocalDescription(await pc.createOffer())
        await self.send({"type": "offer", "sdp": pc.localDescription.sdp})

    async def _answer(self, sdp: str) -> None:
        pc = await self._new_call()
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        for track in self._local_tracks():
            pc.addTrack(track)
        await pc.setLocalDescription(await pc.createAnswer())
        await self.send({"type": "answer", "sdp": pc.localDescription.sdp})

    async def _add_candidate(
        self, pc: RTCPeerConnection, data: dict[str, Any] | None
    ) -> None:
        data = data or {}
        line = data.get("candidate") or ""
        if not line:
            return  # The end of the other side's candidates.
        candidate = candidate_from_sdp(line.removeprefix("candidate:"))
        candidate.sdpMid = data.get("sdpMid")
        candidate.sdpMLineIndex = data.get("sdpMLineIndex")
        await pc.addIceCandidate(candidate)

    # Media

    def _local_tracks(self) -> list[MediaStreamTrack]:
        tracks: list[MediaStreamTrack] = []
        if self.audio:
            tracks.append(AudioStreamTrack())
        tracks.append(SyntheticCamera(*self.video_size))
        return tracks

    async def _new_call(self) -> RTCPeerConnection:
        await self._close_call()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=self.ice_servers))
        self._pc = pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            logger.info("Receiving %s", track.kind)
            self._start(self._count_frames(track))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            logger.info("Call connection %s", pc.connectionState)

        return pc

    async def _close_call(self) -> None:
        pc, self._pc = self._pc, None
        if pc is not None:
            for sender in pc.getSenders():
                if sender.track is not None:
                    sender.track.stop()
            await pc.close()

    async def _count_frames(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self.frames[track.kind] += 1
            if isinstance(frame, VideoFrame):
                self.last_video_size = (frame.width, frame.height)
            await self._notify()

    # Waiting

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _wait_until(
        self, done: Callable[[], bool], timeout: float, what: str
    ) -> None:
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: done() or self._signaling_over)
        except TimeoutError:
            raise TimeoutError(f"waited {timeout} s in vain for {what}") from None
        if not done():
            raise SignalingClosed(
                f"signaling ended (code {self.close_code}) before {what}"
            ) from self._failure
