"""The SFU as the web layer drives it: rooms spread over worker processes.

    async with SfuPool(SfuSettings(workers=2)) as sfu:
        await sfu.create_room("appointment-123")
        joined = await sfu.join("appointment-123", "patient-1", offer_sdp)
        # send joined.answer_sdp to the browser; joined.layout tells every
        # participant which of its receiving mids shows whom
        targets = await sfu.bitrate_targets("appointment-123")
        # send each publisher its maxBitrate
        await sfu.leave("appointment-123", "patient-1")
        await sfu.close_room("appointment-123")

Each room lives in one worker process, chosen as the one with the fewest
rooms; several rooms use several cores, and a busy room slows only the rooms
of its own worker.

Known limits, for whoever builds on this:
- The browser offers its slots up front (recvonly m-lines, at most capacity-1
  per kind); when others come and go the SFU points a slot at another
  publisher, and the web layer tells the browser from ``layout`` which mid
  shows whom. There is no renegotiation.
- All of a participant's slots share one MediaStream ID in the answer, so a
  browser cannot pair one publisher's audio and video for lip sync by stream;
  sender reports carry the publisher's own clock for that.
- No simulcast and no transport-wide congestion control: quality adapts
  through each publisher's bitrate target (see bandwidth) and REMB.
- VP8 picture IDs are passed on unchanged, also when a slot changes publisher.
"""

import asyncio
import logging
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from adapters.media.sfu.errors import UnknownRoom
from adapters.media.sfu.room import SlotAssignment, check_id
from adapters.media.sfu.settings import SfuSettings
from adapters.media.sfu.worker_link import WorkerLink

logger = logging.getLogger(__name__)

Layout = dict[str, list[SlotAssignment]]


@dataclass(frozen=True)
class Joined:
    #: The answer to the participant's offer, with all of the SFU's candidates.
    answer_sdp: str
    #: For every participant in the room: what each of its slots shows now.
    layout: Layout


class SfuPool:
    def __init__(self, settings: SfuSettings | None = None) -> None:
        self.settings = settings or SfuSettings()
        self._workers: list[WorkerLink] = []
        self._room_workers: dict[str, WorkerLink] = {}

    async def __aenter__(self) -> "SfuPool":
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        for index in range(max(self.settings.workers, 1)):
            worker = WorkerLink(index, self.settings)
            worker.start()
            self._workers.append(worker)

    async def close(self) -> None:
        await asyncio.gather(*(worker.stop() for worker in self._workers))
        self._workers.clear()
        self._room_workers.clear()

    # Rooms

    async def create_room(self, room_id: str) -> None:
        check_id("room", room_id)
        worker = min(self._workers, key=lambda w: len(w.rooms))
        await worker.request("create_room", room_id)
        worker.rooms.add(room_id)
        self._room_workers[room_id] = worker

    async def close_room(self, room_id: str) -> None:
        worker = self._worker_of(room_id)
        del self._room_workers[room_id]
        worker.rooms.discard(room_id)
        await worker.request("close_room", room_id)

    def worker_pid(self, room_id: str) -> int | None:
        """The process that runs the room (for operators and tests)."""
        return self._worker_of(room_id).process.pid

    # Participants

    async def join(self, room_id: str, participant_id: str, offer_sdp: str) -> Joined:
        """Answers a participant's offer (non-trickle: the answer carries all
        candidates). Refuses with an SfuError subclass: UnknownRoom, RoomFull,
        ParticipantExists, InvalidId, UnusableOffer."""
        answer, layout = await self._worker_of(room_id).request(
            "join", room_id, participant_id, offer_sdp
        )
        return Joined(answer_sdp=answer, layout=layout)

    async def leave(self, room_id: str, participant_id: str) -> Layout:
        """Ends the participant's connection; returns the room's new layout."""
        layout: Layout = await self._worker_of(room_id).request(
            "leave", room_id, participant_id
        )
        return layout

    async def layout(self, room_id: str) -> Layout:
        layout: Layout = await self._worker_of(room_id).request("layout", room_id)
        return layout

    async def bitrate_targets(self, room_id: str) -> dict[str, int]:
        """Per participant who publishes video: the ``maxBitrate`` (bit/s) its
        browser should set on its video sender. The SFU also sends it to the
        publisher as REMB, which browsers and aiortc honour by themselves."""
        targets: dict[str, int] = await self._worker_of(room_id).request(
            "bitrate_targets", room_id
        )
        return targets

    async def stats(self) -> list[dict[str, Any]]:
        """Per worker: rooms, participants and packet counters."""
        return list(await asyncio.gather(*(w.request("stats") for w in self._workers)))

    def _worker_of(self, room_id: str) -> WorkerLink:
        worker = self._room_workers.get(room_id) if isinstance(room_id, str) else None
        if worker is None:
            raise UnknownRoom(f"there is no SFU room {room_id!r}")
        return worker
