"""What web processes tell each other about their video rooms.

Each process holds only its own signaling sockets. An envelope tells the other
processes what happened to a room here, so that a practitioner on one process
and a patient on another still meet:

- enter: a member connected here (others reply with `here`, to the origin only)
- here: a member is connected at the replying process
- leave: the member with this connection id has gone
- allow: the practitioner admitted the patients in `admitted`
- end: the appointment is over; every process closes the room's sockets
- remove: the patient `participant` has to leave the room for good
- signal: a call set-up message from `participant` to the member `to`,
  addressed to the process that holds it
- sfu-offer: the offer (`message["sdp"]`) of the member `participant` on
  connection `connection`, for the process whose SFU runs the room's call
- sfu-message: the SFU's answer or a new layout for the member `to` on
  connection `connection`, for the process that holds that member

Every envelope names the process it comes from; `target` names the one process
it is for, or None for all of them. A member is named by its participant key:
"practitioner", or a patient's id ("p1" for a 1:1 appointment's patient).
Envelopes of a group appointment say so (`group`).
"""

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson

from domain.video_session import Role

ENTER = "enter"
HERE = "here"
LEAVE = "leave"
ALLOW = "allow"
END = "end"
SIGNAL = "signal"
REMOVE = "remove"
SFU_OFFER = "sfu-offer"
SFU_MESSAGE = "sfu-message"
KINDS = frozenset(
    (ENTER, HERE, LEAVE, ALLOW, END, SIGNAL, REMOVE, SFU_OFFER, SFU_MESSAGE)
)


class BadEnvelope(Exception):
    """An envelope this version cannot read; it is logged and dropped."""


@dataclass(frozen=True)
class Envelope:
    kind: str
    appointment_id: UUID
    origin: str
    target: str | None = None
    role: Role | None = None
    connection_id: str | None = None
    entered_at: float = 0.0
    call_allowed: bool = False
    message: dict[str, Any] | None = field(default=None)
    participant: str | None = None
    to: str | None = None
    admitted: tuple[str, ...] = ()
    group: bool = False

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "room": str(self.appointment_id),
            "origin": self.origin,
            "target": self.target,
            "role": self.role.value if self.role else None,
            "connection": self.connection_id,
            "enteredAt": self.entered_at,
            "callAllowed": self.call_allowed,
            "message": self.message,
            "participant": self.participant,
            "to": self.to,
            "admitted": list(self.admitted),
            "group": self.group,
        }

    @classmethod
    def from_bytes(cls, raw: bytes | str) -> "Envelope":
        try:
            fields = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise BadEnvelope(str(error)) from None
        return cls.from_dict(fields)

    @classmethod
    def from_dict(cls, fields: Any) -> "Envelope":
        try:
            if fields["kind"] not in KINDS:
                raise BadEnvelope(f"unknown kind {fields['kind']!r}")
            return cls(
                kind=fields["kind"],
                appointment_id=UUID(fields["room"]),
                origin=str(fields["origin"]),
                target=fields["target"],
                role=Role(fields["role"]) if fields["role"] else None,
                connection_id=fields["connection"],
                entered_at=float(fields["enteredAt"]),
                call_allowed=bool(fields["callAllowed"]),
                message=fields["message"],
                participant=_optional_text(fields.get("participant")),
                to=_optional_text(fields.get("to")),
                admitted=tuple(str(key) for key in fields.get("admitted") or ()),
                group=bool(fields.get("group", False)),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise BadEnvelope(str(error)) from None


def _optional_text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadEnvelope("a participant key must be text")
    return value
