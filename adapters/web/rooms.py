"""Live connections of this web process: video rooms and practitioners' feeds.

A room pairs the practitioner's and the patient's signaling sockets of one
appointment. It forwards call set-up messages only between those two and only
once the patient has been admitted. The server never sees media: the browsers
connect to each other directly, encrypted with DTLS-SRTP.
"""

import asyncio
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson
from starlette.websockets import WebSocket, WebSocketState

from domain.video_session import Role

logger = logging.getLogger(__name__)

CLOSE_REPLACED = 4001
CLOSE_ENDED = 4002
CLOSE_BAD_MESSAGE = 4400
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_MANY = 4429


@dataclass(eq=False)
class Participant:
    websocket: WebSocket
    role: Role
    appointment_id: UUID
    connection_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    async def send(self, message: dict[str, Any]) -> None:
        if self.websocket.application_state is WebSocketState.CONNECTED:
            try:
                await self.websocket.send_text(orjson.dumps(message).decode())
            except (RuntimeError, OSError):
                logger.debug("Could not send to a closing socket")

    async def close(self, code: int, reason: str) -> None:
        if self.websocket.application_state is WebSocketState.CONNECTED:
            try:
                await self.websocket.close(code=code, reason=reason)
            except (RuntimeError, OSError):
                logger.debug("Socket was already closing")


@dataclass
class Room:
    appointment_id: UUID
    call_allowed: bool = False
    members: dict[Role, Participant] = field(default_factory=dict)

    def other(self, participant: Participant) -> Participant | None:
        for role, member in self.members.items():
            if role is not participant.role:
                return member
        return None


class RoomHub:
    def __init__(self) -> None:
        self._rooms: dict[UUID, Room] = {}
        self._lock = asyncio.Lock()

    def room(self, appointment_id: UUID) -> Room | None:
        return self._rooms.get(appointment_id)

    async def enter(self, participant: Participant, call_allowed: bool) -> None:
        async with self._lock:
            room = self._rooms.setdefault(
                participant.appointment_id, Room(participant.appointment_id)
            )
            # An admission may have landed while this socket was being set up.
            room.call_allowed = room.call_allowed or call_allowed
            previous = room.members.get(participant.role)
            room.members[participant.role] = participant
        if previous is not None:
            await previous.close(
                CLOSE_REPLACED,
                "Die Sprechstunde wurde in einem anderen Fenster geöffnet.",
            )
        await self._announce_presence(room)

    async def leave(self, participant: Participant) -> bool:
        """Returns whether this participant was still the room's member."""
        async with self._lock:
            room = self._rooms.get(participant.appointment_id)
            if room is None or room.members.get(participant.role) is not participant:
                return False
            del room.members[participant.role]
            if not room.members:
                del self._rooms[participant.appointment_id]
        other = room.other(participant)
        if other is not None:
            await other.send({"type": "peer-left", "role": participant.role.value})
        return True

    async def allow_call(self, appointment_id: UUID) -> None:
        room = self._rooms.get(appointment_id)
        if room is None:
            return
        room.call_allowed = True
        await self._announce_presence(room)

    async def end(self, appointment_id: UUID) -> None:
        room = self._rooms.pop(appointment_id, None)
        if room is None:
            return
        for member in list(room.members.values()):
            await member.send({"type": "ended"})
            await member.close(CLOSE_ENDED, "Die Sprechstunde ist beendet.")

    async def relay(self, sender: Participant, message: dict[str, Any]) -> bool:
        room = self._rooms.get(sender.appointment_id)
        if room is None or not room.call_allowed:
            return False
        if room.members.get(sender.role) is not sender:
            return False
        receiver = room.other(sender)
        if receiver is None:
            return False
        await receiver.send(message)
        return True

    async def _announce_presence(self, room: Room) -> None:
        practitioner = room.members.get(Role.PRACTITIONER)
        patient = room.members.get(Role.PATIENT)
        if patient is not None:
            await patient.send(
                {"type": "admitted"} if room.call_allowed else {"type": "waiting"}
            )
        if practitioner is not None:
            await practitioner.send(
                {
                    "type": "presence",
                    "patientPresent": patient is not None,
                    "callAllowed": room.call_allowed,
                }
            )
            if room.call_allowed and patient is not None:
                await practitioner.send({"type": "start-call"})


class PracticeFeed:
    """Pushes 'someone is waiting' updates to each practitioner's open pages."""

    def __init__(self) -> None:
        self._sockets: dict[UUID, set[WebSocket]] = defaultdict(set)

    def subscribe(self, practitioner_id: UUID, websocket: WebSocket) -> None:
        self._sockets[practitioner_id].add(websocket)

    def unsubscribe(self, practitioner_id: UUID, websocket: WebSocket) -> None:
        self._sockets[practitioner_id].discard(websocket)
        if not self._sockets[practitioner_id]:
            del self._sockets[practitioner_id]

    async def publish(self, practitioner_id: UUID, message: dict[str, Any]) -> None:
        payload = orjson.dumps(message).decode()
        for websocket in list(self._sockets.get(practitioner_id, ())):
            try:
                await websocket.send_text(payload)
            except (RuntimeError, OSError):
                self.unsubscribe(practitioner_id, websocket)
