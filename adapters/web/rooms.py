"""The video rooms of this web process's signaling sockets.

A room holds the signaling sockets of one appointment: the practitioner's and
the patients' (one patient, or up to eight in a group), each keyed by its
participant key ("practitioner", "p1", "p2", ...). It forwards call set-up
messages only between members who are in the call: admitted patients and the
practitioner. The server never sees media: the browsers connect to each other
directly, encrypted with DTLS-SRTP; in a group every pair of members has a
connection of its own (a full mesh), and a message names its receiver (`to`)
and, on delivery, its sender (`from`).

A 1:1 room speaks as it always has: messages carry no names, the practitioner
hears `presence` and `start-call`. A group room tells the practitioner who is
there (`roster`) and every member in the call whom to connect to (`peers`):
of each pair, the member ranked first (the practitioner, then p1, p2, ...)
makes the offer.

From the threshold on (five members by default) a group call's media goes
through an SFU instead (adapters.web.sfu_rooms): `peers` then
says mode "sfu", each browser sends one `sfu-offer` and gets an `sfu-answer`
and, whenever someone comes or goes, a new `layout` of its receiving slots.
The browsers encrypt their frames end to end and exchange the keys among
themselves (`e2ee-public-key`, `e2ee-key`), which the server relays like any
addressed message without being able to open them. Below the threshold the
call falls back to the mesh, without anyone rejoining.

The two may be connected to different web processes. A hub holds only the
sockets of its own process and learns about the other members of a room from
the envelopes the other hubs send over the room bus (see
adapters.web.room_envelopes); what a browser sees is the same either way.
A call in SFU mode runs on one process's SFU: of the processes holding its
members, the one with the smallest process id. The others pass their
members' offers to it (`sfu-offer` envelopes) and the SFU's answers and
layouts back (`sfu-message`); when that process loses its last member, the
next one takes over, and `peers` tells the browsers to offer anew.
"""

import asyncio
import contextlib
import hashlib
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
    REMOVE,
    SFU_MESSAGE,
    SFU_OFFER,
    SIGNAL,
    Envelope,
)
from adapters.web.sfu_rooms import MediaServer, SfuRefused, SlotLayout
from domain.patient_seat import FIRST_PATIENT
from domain.video_session import PRACTITIONER, Role, participant_key

logger = logging.getLogger(__name__)

CLOSE_REPLACED = 4001
CLOSE_ENDED = 4002
CLOSE_BAD_MESSAGE = 4400
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_MANY = 4429
CLOSE_REMOVED = 4410

REPLACED_REASON = "Die Sprechstunde wurde in einem anderen Fenster geöffnet."
ENDED_REASON = "Die Sprechstunde ist beendet."
REMOVED_REASON = (
    "Ihre Behandlerin oder Ihr Behandler hat Sie aus der Sprechstunde entfernt."
)
ROOM_FULL_REASON = "Die Sprechstunde ist voll: höchstens 9 Personen nehmen teil."
MAX_MEMBERS = 9
P2P = "p2p"
SFU = "sfu"
# After the bus lost envelopes, how long the other processes have to confirm
# the members this hub knows of before those count as gone.
RESYNC_GRACE_SECONDS = 3.0


SFU_THRESHOLD = 5


def media_mode(members: int, threshold: int = SFU_THRESHOLD) -> str:
    """How media flows in a call of this many members: a mesh of direct
    connections, or from the threshold on through the SFU, since every
    browser of a mesh sends its video once per other member."""
    return SFU if members >= threshold else P2P


@dataclass(eq=False)
class Participant:
    websocket: WebSocket
    role: Role
    appointment_id: UUID
    connection_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    entered_at: float = field(default_factory=time.time)
    patient_id: str = FIRST_PATIENT
    group: bool = False

    @property
    def key(self) -> str:
        return PRACTITIONER if self.role is Role.PRACTITIONER else self.patient_id

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
    knows of elsewhere. A member is either here or elsewhere, never both."""

    appointment_id: UUID
    group: bool = False
    admitted: set[str] = field(default_factory=set)
    members: dict[str, Participant] = field(default_factory=dict)
    remote: dict[str, RemoteMember] = field(default_factory=dict)
    mode: str = P2P
    #: The process whose SFU runs the call in SFU mode.
    sfu_host: str | None = None
    #: On the SFU's process: members with a connection to the SFU (or an
    #: offer on its way there), by the signaling connection that made it.
    sfu_members: dict[str, str] = field(default_factory=dict)
    #: Counts the SFU's layouts, so a browser can drop one that arrives late.
    layout_seq: int = 0

    @property
    def call_allowed(self) -> bool:
        return bool(self.admitted)

    def present(self, key: str) -> bool:
        return key in self.members or key in self.remote

    def member_keys(self) -> set[str]:
        return set(self.members) | set(self.remote)

    def in_call(self, key: str) -> bool:
        if key == PRACTITIONER:
            return self.call_allowed
        return key in self.admitted

    def connection_of(self, key: str) -> str | None:
        member = self.members.get(key) or self.remote.get(key)
        return member.connection_id if member else None

    def default_receiver(self, sender: str) -> str | None:
        """Whom a message without `to` is for: in a 1:1 room, the other one."""
        if self.group:
            return PRACTITIONER if sender != PRACTITIONER else None
        return FIRST_PATIENT if sender == PRACTITIONER else PRACTITIONER


class RoomHub:
    def __init__(
        self,
        bus: RoomBus | None = None,
        resync_grace_seconds: float = RESYNC_GRACE_SECONDS,
        sfu: MediaServer | None = None,
        sfu_threshold: int = SFU_THRESHOLD,
    ) -> None:
        self.process_id = uuid.uuid4().hex
        self.bus: RoomBus = bus if bus is not None else LocalRoomBus()
        self.bus.attach(self)
        self._rooms: dict[UUID, Room] = {}
        self._resync_grace_seconds = resync_grace_seconds
        self._sweep: asyncio.Task[None] | None = None
        self.sfu = sfu
        self.sfu_threshold = sfu_threshold

    def room(self, appointment_id: UUID) -> Room | None:
        return self._rooms.get(appointment_id)

    async def close(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweep

    # What this process's sockets and pages do

    async def enter(
        self,
        participant: Participant,
        call_allowed: bool,
        admitted: tuple[str, ...] | None = None,
    ) -> bool:
        """Seats the participant in the room; returns False (and closes the
        socket) when the room is full. `admitted` names the admitted patients
        of a group; for a 1:1 room, `call_allowed` says whether its patient
        was admitted."""
        room = self._rooms.setdefault(
            participant.appointment_id,
            Room(participant.appointment_id, group=participant.group),
        )
        key = participant.key
        if key not in room.member_keys() and len(room.member_keys()) >= MAX_MEMBERS:
            logger.warning("Room %s is full; a member was refused", room.appointment_id)
            if not room.members:
                del self._rooms[participant.appointment_id]
            await participant.close(CLOSE_TOO_MANY, ROOM_FULL_REASON)
            return False
        # An admission may have landed while this socket was being set up.
        if admitted is not None:
            room.admitted.update(admitted)
        elif call_allowed:
            room.admitted.add(FIRST_PATIENT)
        previous = room.members.get(key)
        room.members[key] = participant
        room.remote.pop(key, None)
        if previous is not None:
            await previous.close(CLOSE_REPLACED, REPLACED_REASON)
        await self._announce_presence(room)
        await self._publish(self._presence_envelope(ENTER, room, participant))
        return True

    async def leave(self, participant: Participant) -> bool:
        """Returns whether this participant was still the room's member."""
        room = self._rooms.get(participant.appointment_id)
        key = participant.key
        if room is None or room.members.get(key) is not participant:
            return False
        del room.members[key]
        if not room.members:
            del self._rooms[participant.appointment_id]
        await self._tell_peer_left(room, key)
        await self._publish(
            Envelope(
                LEAVE,
                room.appointment_id,
                self.process_id,
                role=participant.role,
                connection_id=participant.connection_id,
                participant=key,
                group=room.group,
            )
        )
        return True

    async def allow_call(
        self, appointment_id: UUID, patient_ids: tuple[str, ...] = (FIRST_PATIENT,)
    ) -> None:
        room = self._rooms.get(appointment_id)
        if room is not None:
            room.admitted.update(patient_ids)
            await self._announce_presence(room)
        await self._publish(
            Envelope(
                ALLOW,
                appointment_id,
                self.process_id,
                call_allowed=True,
                admitted=tuple(patient_ids),
            )
        )

    async def end(self, appointment_id: UUID) -> None:
        room = self._rooms.pop(appointment_id, None)
        if room is not None:
            await self._close_ended(room)
        await self._publish(Envelope(END, appointment_id, self.process_id))

    async def remove(self, appointment_id: UUID, patient_id: str) -> None:
        """Sends one patient out of the room for good, wherever connected."""
        room = self._rooms.get(appointment_id)
        if room is not None:
            await self._remove_here(room, patient_id)
        await self._publish(
            Envelope(REMOVE, appointment_id, self.process_id, participant=patient_id)
        )

    async def relay(self, sender: Participant, message: dict[str, Any]) -> bool:
        room = self._rooms.get(sender.appointment_id)
        key = sender.key
        if room is None or room.members.get(key) is not sender:
            return False
        if message["type"] == "sfu-offer":
            return await self._offer_to_sfu(room, sender, message["sdp"])
        outgoing = dict(message)
        receiver_key = outgoing.pop("to", None)
        if room.group and receiver_key is None and outgoing["type"] == "media-state":
            # A member's own camera and microphone state is for everyone.
            delivered = False
            for other in room.member_keys() - {key}:
                delivered = await self._send_to(room, key, other, outgoing) or delivered
            return delivered
        receiver_key = receiver_key or room.default_receiver(key)
        if receiver_key is None:
            return False
        return await self._send_to(room, key, receiver_key, outgoing)

    async def _send_to(
        self, room: Room, sender: str, receiver: str, message: dict[str, Any]
    ) -> bool:
        if receiver == sender or not _may_send(room, sender, receiver, message):
            return False
        if room.group:
            message = {**message, "from": sender}
        local = room.members.get(receiver)
        if local is not None:
            await local.send(message)
            return True
        elsewhere = room.remote.get(receiver)
        if elsewhere is None:
            return False
        await self._publish(
            Envelope(
                SIGNAL,
                room.appointment_id,
                self.process_id,
                target=elsewhere.process_id,
                role=Role.PRACTITIONER if sender == PRACTITIONER else Role.PATIENT,
                connection_id=room.connection_of(sender),
                message=message,
                participant=sender,
                to=receiver,
                group=room.group,
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
            room.admitted.update(envelope.admitted or (FIRST_PATIENT,))
            await self._announce_presence(room)
        elif envelope.kind == END:
            del self._rooms[room.appointment_id]
            await self._close_ended(room)
        elif envelope.kind == REMOVE:
            if envelope.participant is not None:
                await self._remove_here(room, envelope.participant)
        elif envelope.kind == SIGNAL:
            await self._deliver_signal(room, envelope)
        elif envelope.kind == SFU_OFFER:
            await self._take_remote_offer(room, envelope)
        elif envelope.kind == SFU_MESSAGE:
            await self._deliver_sfu_message(room, envelope)

    async def resync(self) -> None:
        """Envelopes may have been lost: announce this process's members
        again, and forget the members elsewhere that nobody confirms."""
        for room in self._rooms.values():
            for member in room.remote.values():
                member.confirmed = False
        for room in list(self._rooms.values()):
            for participant in list(room.members.values()):
                await self._publish(self._presence_envelope(ENTER, room, participant))
        if self._sweep is not None:
            self._sweep.cancel()
        self._sweep = asyncio.create_task(self._forget_unconfirmed())

    async def _learn(self, room: Room, envelope: Envelope) -> None:
        key, connection_id = _key_of(envelope), envelope.connection_id
        if key is None or connection_id is None:
            return
        incoming = RemoteMember(envelope.origin, connection_id, envelope.entered_at)
        local = room.members.get(key)
        replaced = None
        is_new = False
        if key not in room.member_keys() and len(room.member_keys()) >= MAX_MEMBERS:
            return
        # The newer connection of a member wins, wherever it is; when ours is
        # newer, the origin learns so from our reply and gives way.
        if local is None or _ordering(incoming) > _ordering(local):
            known = room.remote.get(key)
            is_new = known is None or known.connection_id != connection_id
            room.remote[key] = incoming
            replaced = room.members.pop(key, None)
        admitted = set(envelope.admitted)
        if envelope.call_allowed and not envelope.admitted and not room.group:
            admitted.add(FIRST_PATIENT)
        newly_allowed = bool(admitted - room.admitted)
        room.admitted |= admitted
        room.group = room.group or envelope.group
        if not room.members:
            del self._rooms[room.appointment_id]
            await self._close_sfu(room)

        if envelope.kind == ENTER:
            await self._reply_here(room, envelope.origin)
        if replaced is not None:
            logger.debug("A member moved to another process")
            await replaced.close(CLOSE_REPLACED, REPLACED_REASON)
        # A known member announced again (after the bus reconnected) changes
        # nothing a browser sees; a new one is greeted as on one process.
        if room.members and (
            (envelope.kind == ENTER and is_new)
            or (is_new and (key != PRACTITIONER or room.group))
            or newly_allowed
        ):
            await self._announce_presence(room)

    async def _reply_here(self, room: Room, newcomer_process: str) -> None:
        for participant in list(room.members.values()):
            envelope = self._presence_envelope(HERE, room, participant)
            await self._publish(
                Envelope(**{**vars(envelope), "target": newcomer_process})
            )

    def _presence_envelope(
        self, kind: str, room: Room, participant: Participant
    ) -> Envelope:
        return Envelope(
            kind,
            room.appointment_id,
            self.process_id,
            role=participant.role,
            connection_id=participant.connection_id,
            entered_at=participant.entered_at,
            call_allowed=room.call_allowed,
            participant=participant.key,
            admitted=tuple(sorted(room.admitted)),
            group=room.group,
        )

    async def _forget(self, room: Room, envelope: Envelope) -> None:
        key = _key_of(envelope)
        if key is None:
            return
        known = room.remote.get(key)
        if known is None or known.connection_id != envelope.connection_id:
            return
        del room.remote[key]
        await self._tell_peer_left(room, key)

    async def _deliver_signal(self, room: Room, envelope: Envelope) -> None:
        sender = _key_of(envelope)
        if sender is None or envelope.message is None:
            return
        known = room.remote.get(sender)
        if known is None or known.connection_id != envelope.connection_id:
            return
        receiver = envelope.to or room.default_receiver(sender)
        if receiver is None or not _may_send(room, sender, receiver, envelope.message):
            return
        member = room.members.get(receiver)
        if member is not None:
            await member.send(envelope.message)

    async def _remove_here(self, room: Room, patient_id: str) -> None:
        room.admitted.discard(patient_id)
        member = room.members.pop(patient_id, None)
        if member is not None:
            await member.send({"type": "removed"})
            await member.close(CLOSE_REMOVED, REMOVED_REASON)
            if not room.members:
                self._rooms.pop(room.appointment_id, None)
        room.remote.pop(patient_id, None)
        await self._tell_peer_left(room, patient_id)
        await self._announce_presence(room)

    async def _forget_unconfirmed(self) -> None:
        await asyncio.sleep(self._resync_grace_seconds)
        for room in list(self._rooms.values()):
            for key, member in list(room.remote.items()):
                if not member.confirmed:
                    logger.info(
                        "No process confirmed the %s of room %s; counted as gone",
                        Role.PRACTITIONER.value
                        if key == PRACTITIONER
                        else Role.PATIENT.value,
                        room.appointment_id,
                    )
                    del room.remote[key]
                    await self._tell_peer_left(room, key)

    # Both

    async def _publish(self, envelope: Envelope) -> None:
        await self.bus.publish(envelope)

    async def _tell_peer_left(self, room: Room, key: str) -> None:
        role = Role.PRACTITIONER if key == PRACTITIONER else Role.PATIENT
        message: dict[str, Any] = {"type": "peer-left", "role": role.value}
        if room.group:
            message["from"] = key
        for other, member in list(room.members.items()):
            # In a 1:1 room only the other role hears of it, as always.
            if other != key and (room.group or member.role is not role):
                await member.send(message)
        if room.group:
            await self._announce_presence(room)

    async def _close_ended(self, room: Room) -> None:
        for member in list(room.members.values()):
            await member.send({"type": "ended"})
            await member.close(CLOSE_ENDED, ENDED_REASON)
        await self._close_sfu(room)

    async def _announce_presence(self, room: Room) -> None:
        practitioner = room.members.get(PRACTITIONER)
        patients_present = [key for key in room.member_keys() if key != PRACTITIONER]
        for key, member in room.members.items():
            if key != PRACTITIONER:
                await member.send(
                    {"type": "admitted"}
                    if key in room.admitted
                    else {"type": "waiting"}
                )
        if practitioner is not None:
            await practitioner.send(
                {
                    "type": "presence",
                    "patientPresent": bool(patients_present),
                    "callAllowed": room.call_allowed,
                }
            )
            if room.group:
                await practitioner.send(
                    {
                        "type": "roster",
                        "present": sorted(patients_present),
                        "admitted": sorted(room.admitted),
                    }
                )
            elif room.call_allowed and patients_present:
                await practitioner.send({"type": "start-call"})
        if room.group:
            await self._announce_peers(room)

    async def _announce_peers(self, room: Room) -> None:
        in_call = sorted(
            (key for key in room.member_keys() if room.in_call(key)), key=_rank
        )
        mode = self._mode_of(in_call)
        host = self._sfu_host(room, in_call) if mode == SFU else None
        if room.sfu_host == self.process_id and host != self.process_id:
            # Back to a mesh, or another process runs the call from now on.
            await self._close_sfu(room)
        room.mode, room.sfu_host = mode, host
        if host == self.process_id:
            await self._let_go_of_the_gone(room)
        for key, member in list(room.members.items()):
            if key not in in_call:
                continue
            await member.send(
                {
                    "type": "peers",
                    "self": key,
                    "mode": mode,
                    # Changes when another process's SFU takes over the call.
                    "sfu": _tag(host) if host else None,
                    "peers": [
                        {"id": other, "tag": _tag(room.connection_of(other))}
                        for other in in_call
                        if other != key
                    ],
                }
            )

    # The SFU

    def _mode_of(self, in_call: list[str]) -> str:
        if self.sfu is None:
            return P2P
        return media_mode(len(in_call), self.sfu_threshold)

    def _sfu_host(self, room: Room, in_call: list[str]) -> str:
        """The same process on every process that sees the same members."""
        return min(
            self.process_id if key in room.members else room.remote[key].process_id
            for key in in_call
        )

    async def _offer_to_sfu(self, room: Room, sender: Participant, sdp: str) -> bool:
        key = sender.key
        if room.mode != SFU or room.sfu_host is None or not room.in_call(key):
            return False
        if room.sfu_host == self.process_id:
            return await self._join_sfu(room, key, sender.connection_id, sdp)
        await self._publish(
            Envelope(
                SFU_OFFER,
                room.appointment_id,
                self.process_id,
                target=room.sfu_host,
                connection_id=sender.connection_id,
                message={"sdp": sdp},
                participant=key,
                group=True,
            )
        )
        return True

    async def _take_remote_offer(self, room: Room, envelope: Envelope) -> None:
        key, connection_id = envelope.participant, envelope.connection_id
        sdp = (envelope.message or {}).get("sdp")
        known = room.remote.get(key) if key else None
        if key is None or known is None or known.connection_id != connection_id:
            return
        if isinstance(sdp, str) and connection_id is not None:
            await self._join_sfu(room, key, connection_id, sdp)

    async def _join_sfu(
        self, room: Room, key: str, connection_id: str, sdp: str
    ) -> bool:
        """Answers a member's offer to this process's SFU (a new one replaces
        the old); the others learn the new layout."""
        if (
            self.sfu is None
            or room.sfu_host != self.process_id
            or not room.in_call(key)
        ):
            return False
        room_id = str(room.appointment_id)
        if key in room.sfu_members:
            await self.sfu.leave(room_id, key)
        room.sfu_members[key] = connection_id
        try:
            answer, layout = await self.sfu.join(room_id, key, sdp)
        except SfuRefused as error:
            logger.info("The SFU refused an offer in room %s: %s", room_id, error)
            if room.sfu_members.get(key) == connection_id:
                del room.sfu_members[key]
            return False
        room.layout_seq += 1
        seq = room.layout_seq
        if room.sfu_host != self.process_id:
            # The call fell back to a mesh, or moved, meanwhile.
            await self.sfu.close_room(room_id)
            return False
        if room.connection_of(key) != connection_id:
            await self._leave_sfu(room, key)
            return False
        answered = {
            "type": "sfu-answer",
            "sdp": answer,
            "slots": layout.get(key, []),
            "seq": seq,
        }
        await self._tell_member(room, key, connection_id, answered)
        await self._send_layout(room, layout, seq, but=key)
        return True

    async def _let_go_of_the_gone(self, room: Room) -> None:
        for key, connection_id in list(room.sfu_members.items()):
            if room.connection_of(key) != connection_id or not room.in_call(key):
                await self._leave_sfu(room, key)

    async def _leave_sfu(self, room: Room, key: str) -> None:
        if self.sfu is None or room.sfu_members.pop(key, None) is None:
            return
        layout = await self.sfu.leave(str(room.appointment_id), key)
        room.layout_seq += 1
        await self._send_layout(room, layout, room.layout_seq, but=key)

    async def _send_layout(
        self, room: Room, layout: SlotLayout, seq: int, but: str
    ) -> None:
        for other, connection_id in list(room.sfu_members.items()):
            if other != but and other in layout:
                message = {"type": "layout", "slots": layout[other], "seq": seq}
                await self._tell_member(room, other, connection_id, message)

    async def _tell_member(
        self, room: Room, key: str, connection_id: str, message: dict[str, Any]
    ) -> None:
        """A message of the SFU for a member, wherever it is connected."""
        local = room.members.get(key)
        if local is not None:
            if local.connection_id == connection_id:
                await local.send(message)
            return
        elsewhere = room.remote.get(key)
        if elsewhere is None or elsewhere.connection_id != connection_id:
            return
        await self._publish(
            Envelope(
                SFU_MESSAGE,
                room.appointment_id,
                self.process_id,
                target=elsewhere.process_id,
                connection_id=connection_id,
                message=message,
                to=key,
                group=True,
            )
        )

    async def _deliver_sfu_message(self, room: Room, envelope: Envelope) -> None:
        message = envelope.message or {}
        member = room.members.get(envelope.to or "")
        if (
            member is not None
            and member.connection_id == envelope.connection_id
            and message.get("type") in ("sfu-answer", "layout")
        ):
            await member.send(message)

    async def _close_sfu(self, room: Room) -> None:
        hosting = room.sfu_host == self.process_id or bool(room.sfu_members)
        room.sfu_members.clear()
        if self.sfu is not None and hosting:
            await self.sfu.close_room(str(room.appointment_id))


def _may_send(room: Room, sender: str, receiver: str, message: dict[str, Any]) -> bool:
    """Call messages pass between members in the call; only the practitioner
    may mute someone."""
    if message.get("type") == "mute" and sender != PRACTITIONER:
        return False
    return room.in_call(sender) and room.in_call(receiver) and room.present(receiver)


def _key_of(envelope: Envelope) -> str | None:
    if envelope.participant:
        return envelope.participant
    if envelope.role is None:
        return None
    return participant_key(envelope.role.value)


def _rank(key: str) -> tuple[int, int]:
    """The practitioner first, then the patients by number."""
    if key == PRACTITIONER:
        return (0, 0)
    return (1, int(key[1:]) if key[1:].isdigit() else 0)


def _tag(connection_id: str | None) -> str:
    """Changes when a member reconnects, without telling the others the
    connection id itself."""
    digest = hashlib.sha256((connection_id or "").encode()).hexdigest()
    return digest[:10]


def _ordering(member: Participant | RemoteMember) -> tuple[float, str]:
    return (member.entered_at, member.connection_id)
