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


class Role(StrEnum):
    PRACTITIONER = "practitioner"
    PATIENT = "patient"


class VideoSession(Aggregate):
    class Opened(Aggregate.Created):
        appointment_id: UUID
        at: datetime

    class ParticipantJoined(Aggregate.Event):
        role: str
        connection_id: str
        at: datetime

    class ParticipantLeft(Aggregate.Event):
        role: str
        connection_id: str
        reason: str
        at: datetime

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
        self.present: dict[str, str] = {}
        self.call_started_at: datetime | None = None
        self.call_ended_at: datetime | None = None

    @property
    def call_is_running(self) -> bool:
        return self.call_started_at is not None and self.call_ended_at is None

    def is_present(self, role: Role) -> bool:
        return role.value in self.present

    def join(self, role: Role, connection_id: str, at: datetime) -> None:
        """A participant connects; a connection of the same person in another
        tab or after a reload replaces the one before it."""
        previous = self.present.get(role.value)
        if previous is not None and previous != connection_id:
            self._participant_left(
                role=role.value, connection_id=previous, reason="replaced", at=at
            )
        if self.present.get(role.value) != connection_id:
            self._participant_joined(
                role=role.value, connection_id=connection_id, at=at
            )

    @event(ParticipantJoined)
    def _participant_joined(self, role: str, connection_id: str, at: datetime) -> None:
        self.present[role] = connection_id

    def leave(self, role: Role, connection_id: str, reason: str, at: datetime) -> None:
        if self.present.get(role.value) == connection_id:
            self._participant_left(
                role=role.value, connection_id=connection_id, reason=reason, at=at
            )

    @event(ParticipantLeft)
    def _participant_left(
        self, role: str, connection_id: str, reason: str, at: datetime
    ) -> None:
        self.present.pop(role, None)

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
