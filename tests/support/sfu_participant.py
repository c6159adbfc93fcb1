"""A group-call participant for the SFU, standing in for a browser.

It publishes a synthetic camera and a tone (sendonly), offers receiving slots
(recvonly) for the others, and, like a browser, decodes what arrives: frames
and audio loudness are counted per slot, and the SFU's layout tells which
slot shows whom.
"""

import asyncio
import contextlib
import math
from array import array
from collections import Counter
from collections.abc import AsyncIterator
from fractions import Fraction
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCDtlsTransport,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcconfiguration import RTCBundlePolicy
from av import AudioFrame

from adapters.media.sfu import Layout, SfuPool, SfuSettings
from adapters.media.test_peer import SyntheticCamera, loopback_candidates_only

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms
#: Decoded audio louder than this (mean absolute sample) counts as the tone.
AUDIBLE = 500


class ToneMicrophone(MediaStreamTrack):
    """A 440 Hz tone, in 20 ms frames."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._sent = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        else:
            await asyncio.sleep(self._start + self._sent / SAMPLE_RATE - loop.time())
        samples = array(
            "h",
            (
                int(8000 * math.sin(2 * math.pi * 440 * (self._sent + i) / SAMPLE_RATE))
                for i in range(FRAME_SAMPLES)
            ),
        )
        frame = AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(samples.tobytes())
        frame.pts = self._sent
        frame.sample_rate = SAMPLE_RATE
        frame.time_base = Fraction(1, SAMPLE_RATE)
        self._sent += FRAME_SAMPLES
        return frame


class SfuTestParticipant:
    def __init__(
        self,
        participant_id: str,
        slots: int,
        *,
        publish: bool = True,
        video_size: tuple[int, int] = (160, 120),
    ) -> None:
        self.participant_id = participant_id
        self.slots = slots
        self.publish = publish
        self.video_size = video_size
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        #: Decoded frames and audible audio frames, by receiving mid.
        self.frames: Counter[str] = Counter()
        self.audible: Counter[str] = Counter()
        self.shows: dict[str, str | None] = {}  # mid -> publisher ID
        self._changed = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            mid = next(
                t.mid for t in self.pc.getTransceivers() if t.receiver.track is track
            )
            self._tasks.append(asyncio.create_task(self._count(str(mid), track)))

    async def offer(self) -> str:
        if self.publish:
            self.pc.addTransceiver(ToneMicrophone(), direction="sendonly")
            self.pc.addTransceiver(SyntheticCamera(*self.video_size), "sendonly")
        for kind in ("audio", "video"):
            for _ in range(self.slots):
                self.pc.addTransceiver(kind, direction="recvonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def accept(self, answer_sdp: str, layout: Layout) -> None:
        self.follow(layout)
        await self.pc.setRemoteDescription(
            RTCSessionDescription(sdp=answer_sdp, type="answer")
        )

    def follow(self, layout: Layout) -> None:
        for slot in layout.get(self.participant_id, []):
            self.shows[slot.mid] = slot.publisher_id

    def frames_from(self, publisher_id: str, kind: str) -> int:
        return sum(
            self.frames[mid]
            for mid, shown in self.shows.items()
            if shown == publisher_id and self._kind_of(mid) == kind
        )

    def audible_from(self, publisher_id: str) -> int:
        return sum(
            self.audible[mid]
            for mid, shown in self.shows.items()
            if shown == publisher_id and self._kind_of(mid) == "audio"
        )

    async def wait_until(self, done: object, timeout: float) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(done)  # type: ignore[arg-type]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for sender in self.pc.getSenders():
            if sender.track is not None:
                sender.track.stop()
        await self.pc.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _kind_of(self, mid: str) -> str | None:
        for transceiver in self.pc.getTransceivers():
            if transceiver.mid == mid:
                return transceiver.kind
        return None

    async def _count(self, mid: str, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                self.frames[mid] += 1
                if isinstance(frame, AudioFrame):
                    samples = array("h", bytes(frame.planes[0]))
                    loudness = sum(map(abs, samples)) / max(len(samples), 1)
                    if loudness > AUDIBLE:
                        self.audible[mid] += 1
                async with self._changed:
                    self._changed.notify_all()


@contextlib.asynccontextmanager
async def sfu_on_loopback(**settings: Any) -> AsyncIterator[SfuPool]:
    """An SFU pool whose workers, like this process, use loopback only."""
    with loopback_candidates_only():
        async with SfuPool(SfuSettings(loopback_only=True, **settings)) as sfu:
            yield sfu


async def join(
    sfu: SfuPool, room_id: str, participants: list[SfuTestParticipant]
) -> Layout:
    """Joins them one after the other; returns the room's layout after all."""
    for participant in participants:
        joined = await sfu.join(
            room_id, participant.participant_id, await participant.offer()
        )
        await participant.accept(joined.answer_sdp, joined.layout)
    layout = await sfu.layout(room_id)
    for participant in participants:
        participant.follow(layout)
    return layout


def transport_of(participant: SfuTestParticipant) -> RTCDtlsTransport:
    """The participant's one (bundled) DTLS transport, once it has offered."""
    return participant.pc.getTransceivers()[0].sender.transport
