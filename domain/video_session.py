"""Who is connected to an appointment's video room, and whether the call runs.

Only metadata lives here: who joined and left when. The call's content never
reaches the server in a form it could store.
"""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import AppointmentNotActive
from domain.ids import derived_id
from domain.patient_seat import FIRST_PATIENT


class Role(StrEnum):
    PRACTITIONER = "practitioner"
    PATIENT = "patient"


PRACTITIONER = Role.PRACTITIONER.value


def participant_key(role: str, participant: str = "") -> str:
    """Who someone in the room is: "practitioner", or a patient's id. Events
    recorded before group appointments name only the role; their patient was
    the first one."""
    if participant:
        return participant
    return PRACTITIONER if role == PRACTITIONER else FIRST_PATIENT


def role_of(participant: str) -> Role:
    return Role.PRACTITIONER if participant == PRACTITIONER else Role.PATIENT


class VideoSession(Aggregate):
    class Opened(Aggregate.Created):
        appointment_id: UUID
        at: datetime

    class ParticipantJoined(Aggregate.Event):
        role: str
        connection_id: str
        at: datetime
        participant: str = ""

    class ParticipantLeft(Aggregate.Event):
        role: str
        connection_id: str
        reason: str
        at: datetime
        participant: str = ""

    class CallStarted(Aggregate.Event):
        at: datetime

    class CallEnded(Aggregate.Event):
        at: datetime

    @staticmethod
    def create_id(appointment_id: UUID) -> UUID:
        return derived_id("video-session", str(appointment_id))

    @event(Opened)
    def __init__(self, appointment_id: UUID, at: datetime) -> None:
        self.appointment_id = appointment_id
        self.opened_at = at
        # Connection ids by participant key ("practitioner", "p1", ...).
        self.present: dict[str, str] = {}
        self.call_started_at: datetime | None = None
        self.call_ended_at: datetime | None = None

    @property
    def call_is_running(self) -> bool:
        return self.call_started_at is not None and self.call_ended_at is None

    def is_present(self, participant: str) -> bool:
        return participant in self.present

    def join(
        self,
        role: Role,
        connection_id: str,
        at: datetime,
        patient_id: str = FIRST_PATIENT,
    ) -> None:
        """A participant connects; a connection of the same person in another
        tab or after a reload replaces the one before it."""
        key = PRACTITIONER if role is Role.PRACTITIONER else patient_id
        previous = self.present.get(key)
        if previous is not None and previous != connection_id:
            self._participant_left(
                role=role.value,
                connection_id=previous,
                reason="replaced",
                at=at,
                participant=key,
            )
        if self.present.get(key) != connection_id:
            self._participant_joined(
                role=role.value, connection_id=connection_id, at=at, participant=key
            )

    @event(ParticipantJoined)
    def _participant_joined(
        self, role: str, connection_id: str, at: datetime, participant: str = ""
    ) -> None:
        self.present[participant_key(role, participant)] = connection_id

    def leave(
        self, participant: str, connection_id: str, reason: str, at: datetime
    ) -> None:
        if self.present.get(participant) == connection_id:
            self._participant_left(
                role=role_of(participant).value,
                connection_id=connection_id,
                reason=reason,
                at=at,
                participant=participant,
            )

    @event(ParticipantLeft)
    def _participant_left(
        self,
        role: str,
        connection_id: str,
        reason: str,
        at: datetime,
        participant: str = "",
    ) -> None:
        self.present.pop(participant_key(role, participant), None)

    def start_call(self, at: datetime) -> None:
        if self.call_ended_at is not None:
            raise AppointmentNotActive("Das Gespräch wurde bereits beendet.")
        if self.call_started_at is None:
            self._call_started(at=at)

    @event(CallStarted)
    def _call_started(self, at: datetime) -> None:
        self.call_started_at = at

    def end_call(self, at: datetime) -> None:
        if self.call_started_at is not None and self.call_ended_at is None:
            self._call_ended(at=at)

    @event(CallEnded)
    def _call_ended(self, at: datetime) -> None:
        self.call_ended_at = at
