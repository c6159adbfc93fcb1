"""A group call in the SFU: who is in it, and which slot shows whom.

Every participant's slots of a kind are filled with the other participants'
tracks of that kind, in the order they joined; a slot keeps its publisher as
long as both stay, and is pointed at a newcomer when its publisher leaves.
The room also sets each publisher's video bitrate target from its size and
the subscribers' estimates (see bandwidth).
"""

import asyncio
import logging
import re
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from aiortc import RTCIceServer

from adapters.media.sfu.errors import (
    InvalidId,
    ParticipantExists,
    RoomFull,
    SfuError,
    UnknownParticipant,
    UnusableOffer,
)
from adapters.media.sfu.offer import read_offer
from adapters.media.sfu.participant import Participant
from adapters.media.sfu.settings import SfuSettings
from adapters.media.sfu.traffic import Traffic

logger = logging.getLogger(__name__)

VALID_ID = re.compile(r"[A-Za-z0-9_.:-]{1,80}")


def check_id(kind: str, value: object) -> str:
    if not isinstance(value, str) or not VALID_ID.fullmatch(value):
        raise InvalidId(f"not a valid {kind} ID")
    return value


@dataclass(frozen=True)
class SlotAssignment:
    """Which participant's track a receiving m-line (``mid``) shows."""

    mid: str
    kind: str
    publisher_id: str | None


class Room:
    def __init__(self, room_id: str, settings: SfuSettings, traffic: Traffic) -> None:
        self.room_id = room_id
        self.settings = settings
        self.participants: dict[str, Participant] = {}
        self._traffic = traffic
        self._tasks: set[asyncio.Task[None]] = set()
        self._ice_servers = [
            RTCIceServer(
                urls=server["urls"],
                username=server.get("username"),
                credential=server.get("credential"),
            )
            for server in settings.ice_servers
        ]

    async def join(self, participant_id: str, offer_sdp: str) -> str:
        """Answers the participant's offer; returns the answer's SDP."""
        check_id("participant", participant_id)
        if participant_id in self.participants:
            raise ParticipantExists(f"{participant_id!r} is in this room already")
        if len(self.participants) >= self.settings.capacity:
            raise RoomFull(f"the room holds {self.settings.capacity} and is full")
        if not isinstance(offer_sdp, str):
            raise UnusableOffer("the offer is not text")
        offer = read_offer(
            offer_sdp,
            max_slots=self.settings.capacity - 1,
            loopback_only=self.settings.loopback_only,
        )

        participant = Participant(
            participant_id,
            self._ice_servers,
            self._traffic,
            self.settings.keyframe_interval,
            on_failed=self._connection_failed,
        )
        # Counted before the first await, so parallel joins cannot overbook.
        self.participants[participant_id] = participant
        try:
            async with asyncio.timeout(self.settings.negotiation_timeout):
                answer = await participant.answer(offer)
        except Exception as error:
            del self.participants[participant_id]
            await participant.close()
            if isinstance(error, SfuError):
                raise
            raise UnusableOffer(f"the offer failed: {type(error).__name__}") from error
        self._rearrange()
        logger.info(
            "Participant joined SFU room (%s in the room)", len(self.participants)
        )
        return answer

    async def leave(self, participant_id: str) -> None:
        participant = self.participants.pop(participant_id, None)
        if participant is None:
            raise UnknownParticipant(f"there is no participant {participant_id!r}")
        await participant.close()
        self._rearrange()
        logger.info(
            "Participant left SFU room (%s in the room)", len(self.participants)
        )

    async def close(self) -> None:
        participants = list(self.participants.values())
        self.participants.clear()
        await asyncio.gather(*(p.close() for p in participants))

    def layout(self) -> dict[str, list[SlotAssignment]]:
        """Per participant: what each of its slots shows."""
        return {
            participant_id: [
                SlotAssignment(
                    slot.mid,
                    slot.kind,
                    self._publisher_of(slot.source) if slot.source else None,
                )
                for slot in participant.slots
            ]
            for participant_id, participant in self.participants.items()
        }

    def bitrate_targets(self) -> dict[str, int]:
        """Per publisher of video: the maximum bitrate its browser should send
        (``maxBitrate`` of its video RTCRtpSender), in bit/s."""
        self._update_targets()
        return {
            participant_id: track.target_bitrate_bps
            for participant_id, participant in self.participants.items()
            if (track := participant.published.get("video")) is not None
            and track.target_bitrate_bps is not None
        }

    def _rearrange(self) -> None:
        for subscriber in self.participants.values():
            for kind in ("audio", "video"):
                self._fill_slots(subscriber, kind)
        self._update_targets()

    def _fill_slots(self, subscriber: Participant, kind: str) -> None:
        sources = [
            track
            for participant in self.participants.values()
            if participant is not subscriber
            and (track := participant.published.get(kind)) is not None
        ]
        slots = [slot for slot in subscriber.slots if slot.kind == kind]
        for slot in slots:
            if slot.source is not None and slot.source not in sources:
                slot.bind(None)
        shown = {slot.source for slot in slots}
        free = iter([slot for slot in slots if slot.source is None])
        for source in sources:
            if source not in shown:
                free_slot = next(free, None)
                if free_slot is None:
                    break  # more publishers than slots: the latest are not shown
                free_slot.bind(source)
                self._start(source.request_keyframe())

    def _update_targets(self) -> None:
        budget = self.settings.budget
        target = budget.video_target_bps(len(self.participants))
        for participant in self.participants.values():
            track = participant.published.get("video")
            if track is not None:
                estimates = [
                    slot.estimate_bps
                    for slot in track.subscribers
                    if slot.estimate_bps is not None
                ]
                track.target_bitrate_bps = budget.with_estimates(target, estimates)

    def _publisher_of(self, track: object) -> str | None:
        for participant_id, participant in self.participants.items():
            if track in participant.published.values():
                return participant_id
        return None

    def _connection_failed(self, participant: Participant) -> None:
        if self.participants.get(participant.participant_id) is participant:
            logger.info("A participant's SFU connection failed; removing it")
            self._start(self.leave(participant.participant_id))

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
