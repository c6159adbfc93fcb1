"""The video rooms of this web process's signaling sockets.

A room pairs the practitioner's and the patient's signaling sockets of one
appointment. It forwards call set-up messages only between those two and only
once the patient has been admitted. The server never sees media: the browsers
connect to each other directly, encrypted with DTLS-SRTP.

The two may be connected to different web processes. A hub holds only the
sockets of its own process and learns about the other members of a room from
the envelopes the other hubs send over the room bus (see
adapters.web.room_envelopes); what a browser sees is the same either way.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from adapters.web.room_bus import LocalRoomBus, RoomBus
from adapters.web.room_envelopes import (
    ALLOW,
    END,
    ENTER,
    HERE,
    LEAVE,
    SIGNAL,
    Envelope,
)
from domain.video_session import Role

logger = logging.getLogger(__name__)

CLOSE_REPLACED = 4001
CLOSE_ENDED = 4002
CLOSE_BAD_MESSAGE = 4400
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_MANY = 4429

REPLACED_REASON = "Die Sprechstunde wurde in einem anderen Fenster geöffnet."
ENDED_REASON = "Die Sprechstunde ist beendet."
# After the bus lost envelopes, how long the other processes have to confirm
# the members this hub knows of before those count as gone.
RESYNC_GRACE_SECONDS = 3.0


@dataclass(eq=False)
class Participant:
    websocket: WebSocket
    role: Role
    appointment_id: UUID
    connection_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    entered_at: float = field(default_factory=time.time)

    async def send(self, message: dict[str, Any]) -> None:
        if self.websocket.application_state is WebSocketState.CONNECTED:
            try:
                await self.websocket.send_text(orjson.dumps(message).decode())
            except (RuntimeError, OSError, WebSocketDisconnect):
                logger.debug("Could not send to a closing socket")

    async def close(self, code: int, reason: str) -> None:
        if self.websocket.application_state is WebSocketState.CONNECTED:
            try:
                await self.websocket.close(code=code, reason=reason)
            except (RuntimeError, OSError, WebSocketDisconnect):
                logger.debug("Socket was already closing")


@dataclass
class RemoteMember:
    """A member connected to another web process."""

    process_id: str
    connection_id: str
    entered_at: float
    confirmed: bool = True


@dataclass
class Room:
    """A room as this process sees it: its own sockets, and the members it
    knows of elsewhere. A role is either here or elsewhere, never both."""

    appointment_id: UUID
    call_allowed: bool = False
    members: dict[Role, Participant] = field(default_factory=dict)
    remote: dict[Role, RemoteMember] = field(default_factory=dict)

    def other(self, participant: Participant) -> Participant | None:
        for role, member in self.members.items():
            if role is not participant.role:
                return member
        return None

    def present(self, role: Role) -> bool:
        return role in self.members or role in self.remote


class RoomHub:
    def __init__(
        self,
        bus: RoomBus | None = None,
        resync_grace_seconds: float = RESYNC_GRACE_SECONDS,
    ) -> None:
        self.process_id = uuid.uuid4().hex
        self.bus: RoomBus = bus if bus is not None else LocalRoomBus()
        self.bus.attach(self)
        self._rooms: dict[UUID, Room] = {}
        self._resync_grace_seconds = resync_grace_seconds
        self._sweep: asyncio.Task[None] | None = None

    def room(self, appointment_id: UUID) -> Room | None:
        return self._rooms.get(appointment_id)

    async def close(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweep

    # What this process's sockets and pages do

    async def enter(self, participant: Participant, call_allowed: bool) -> None:
        room = self._rooms.setdefault(
            participant.appointment_id, Room(participant.appointment_id)
        )
        # An admission may have landed while this socket was being set up.
        room.call_allowed = room.call_allowed or call_allowed
        previous = room.members.get(participant.role)
        room.members[participant.role] = participant
        room.remote.pop(participant.role, None)
        if previous is not None:
            await previous.close(CLOSE_REPLACED, REPLACED_REASON)
        await self._announce_presence(room)
        await self._publish(self._entering(room, participant))

    def _entering(self, room: Room, participant: Participant) -> Envelope:
        return Envelope(
            ENTER,
            room.appointment_id,
            self.process_id,
            role=participant.role,
            connection_id=participant.connection_id,
            entered_at=participant.entered_at,
            call_allowed=room.call_allowed,
        )

    async def leave(self, participant: Participant) -> bool:
        """Returns whether this participant was still the room's member."""
        room = self._rooms.get(participant.appointment_id)
        if room is None or room.members.get(participant.role) is not participant:
            return False
        del room.members[participant.role]
        if not room.members:
            del self._rooms[participant.appointment_id]
        other = room.other(participant)
        if other is not None:
            await other.send({"type": "peer-left", "role": participant.role.value})
        await self._publish(
            Envelope(
                LEAVE,
                room.appointment_id,
                self.process_id,
                role=participant.role,
                connection_id=participant.connection_id,
            )
        )
        return True

    async def allow_call(self, appointment_id: UUID) -> None:
        room = self._rooms.get(appointment_id)
        if room is not None:
            room.call_allowed = True
            await self._announce_presence(room)
        await self._publish(
            Envelope(ALLOW, appointment_id, self.process_id, call_allowed=True)
        )

    async def end(self, appointment_id: UUID) -> None:
        room = self._rooms.pop(appointment_id, None)
        if room is not None:
            await self._close_ended(room)
        await self._publish(Envelope(END, appointment_id, self.process_id))

    async def relay(self, sender: Participant, message: dict[str, Any]) -> bool:
        room = self._rooms.get(sender.appointment_id)
        if room is None or not room.call_allowed:
            return False
        if room.members.get(sender.role) is not sender:
            return False
        receiver = room.other(sender)
        if receiver is not None:
            await receiver.send(message)
            return True
        elsewhere = room.remote.get(_other_role(sender.role))
        if elsewhere is None:
            return False
        await self._publish(
            Envelope(
                SIGNAL,
                room.appointment_id,
                self.process_id,
                target=elsewhere.process_id,
                role=sender.role,
                connection_id=sender.connection_id,
                message=message,
            )
        )
        return True

    # What the other processes tell this one

    async def receive(self, envelope: Envelope) -> None:
        if envelope.origin == self.process_id:
            return
        if envelope.target not in (None, self.process_id):
            return
        room = self._rooms.get(envelope.appointment_id)
        if room is None:
            # Only rooms with a socket here matter; a newcomer asks again.
            return
        if envelope.kind in (ENTER, HERE):
            await self._learn(room, envelope)
        elif envelope.kind == LEAVE:
            await self._forget(room, envelope)
        elif envelope.kind == ALLOW:
            room.call_allowed = True
            await self._announce_presence(room)
        elif envelope.kind == END:
            del self._rooms[room.appointment_id]
            await self._close_ended(room)
        elif envelope.kind == SIGNAL:
            await self._deliver_signal(room, envelope)

    async def resync(self) -> None:
        """Envelopes may have been lost: announce this process's members
        again, and forget the members elsewhere that nobody confirms."""
        for room in self._rooms.values():
            for member in room.remote.values():
                member.confirmed = False
        for room in list(self._rooms.values()):
            for participant in list(room.members.values()):
                await self._publish(self._entering(room, participant))
        if self._sweep is not None:
            self._sweep.cancel()
        self._sweep = asyncio.create_task(self._forget_unconfirmed())

    async def _learn(self, room: Room, envelope: Envelope) -> None:
        role, connection_id = envelope.role, envelope.connection_id
        if role is None or connection_id is None:
            return
        incoming = RemoteMember(envelope.origin, connection_id, envelope.entered_at)
        local = room.members.get(role)
        replaced = None
        is_new = False
        # The newer connection of a role wins, wherever it is; when ours is
        # newer, the origin learns so from our reply and gives way.
        if local is None or _ordering(incoming) > _ordering(local):
            known = room.remote.get(role)
            is_new = known is None or known.connection_id != connection_id
            room.remote[role] = incoming
            replaced = room.members.pop(role, None)
        newly_allowed = envelope.call_allowed and not room.call_allowed
        room.call_allowed = room.call_allowed or envelope.call_allowed
        if not room.members:
            del self._rooms[room.appointment_id]

        if envelope.kind == ENTER:
            await self._reply_here(room, envelope.origin)
        if replaced is not None:
            logger.debug("A %s moved to another process", role.value)
            await replaced.close(CLOSE_REPLACED, REPLACED_REASON)
        # A known member announced again (after the bus reconnected) changes
        # nothing a browser sees; a new one is greeted as on one process.
        if room.members and (
            (envelope.kind == ENTER and is_new)
            or (is_new and role is Role.PATIENT)
            or newly_allowed
        ):
            await self._announce_presence(room)

    async def _reply_here(self, room: Room, newcomer_process: str) -> None:
        for participant in list(room.members.values()):
            await self._publish(
                Envelope(
                    HERE,
                    room.appointment_id,
                    self.process_id,
                    target=newcomer_process,
                    role=participant.role,
                    connection_id=participant.connection_id,
                    entered_at=participant.entered_at,
                    call_allowed=room.call_allowed,
                )
            )

    async def _forget(self, room: Room, envelope: Envelope) -> None:
        if envelope.role is None:
            return
        known = room.remote.get(envelope.role)
        if known is None or known.connection_id != envelope.connection_id:
            return
        del room.remote[envelope.role]
        await self._tell_peer_left(room, envelope.role)

    async def _deliver_signal(self, room: Room, envelope: Envelope) -> None:
        if not room.call_allowed or envelope.role is None or envelope.message is None:
            return
        sender = room.remote.get(envelope.role)
        if sender is None or sender.connection_id != envelope.connection_id:
            return
        receiver = room.members.get(_other_role(envelope.role))
        if receiver is not None:
            await receiver.send(envelope.message)

    async def _forget_unconfirmed(self) -> None:
        await asyncio.sleep(self._resync_grace_seconds)
        for room in list(self._rooms.values()):
            for role, member in list(room.remote.items()):
                if not member.confirmed:
                    logger.info(
                        "No process confirmed the %s of room %s; counted as gone",
                        role.value,
                        room.appointment_id,
                    )
                    del room.remote[role]
                    await self._tell_peer_left(room, role)

    # Both

    async def _publish(self, envelope: Envelope) -> None:
        await self.bus.publish(envelope)

    async def _tell_peer_left(self, room: Room, role: Role) -> None:
        for member in list(room.members.values()):
            if member.role is not role:
                await member.send({"type": "peer-left", "role": role.value})

    async def _close_ended(self, room: Room) -> None:
        for member in list(room.members.values()):
            await member.send({"type": "ended"})
            await member.close(CLOSE_ENDED, ENDED_REASON)

    async def _announce_presence(self, room: Room) -> None:
        practitioner = room.members.get(Role.PRACTITIONER)
        patient = room.members.get(Role.PATIENT)
        patient_present = room.present(Role.PATIENT)
        if patient is not None:
            await patient.send(
                {"type": "admitted"} if room.call_allowed else {"type": "waiting"}
            )
        if practitioner is not None:
            await practitioner.send(
                {
                    "type": "presence",
                    "patientPresent": patient_present,
                    "callAllowed": room.call_allowed,
                }
            )
            if room.call_allowed and patient_present:
                await practitioner.send({"type": "start-call"})


def _other_role(role: Role) -> Role:
    return Role.PATIENT if role is Role.PRACTITIONER else Role.PRACTITIONER


def _ordering(member: Participant | RemoteMember) -> tuple[float, str]:
    return (member.entered_at, member.connection_id)
