"""The practitioner's calendar and the waiting room, as one read model.

Both show the same appointments: the calendar by day and week, the waiting
room as the patients who are connected and not yet admitted (for a group
appointment, each of them on their own).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import singledispatchmethod
from typing import Any
from uuid import UUID

from domain.appointment import (
    Appointment,
    AppointmentStatus,
    check_patient_may_enter,
)
from domain.join_window import JoinWindow
from domain.patient_seat import FIRST_PATIENT, PatientSeat, check_seat_may_enter
from domain.personal_data import SHREDDED
from domain.retention import appointment_ended_at, shredding_deadline
from domain.video_session import VideoSession, participant_key

WAITING_STATES = (AppointmentStatus.CONSENTED, AppointmentStatus.WAITING)


@dataclass
class CalendarEntry:
    appointment_id: UUID
    practitioner_id: UUID
    patient_name: str
    starts_at: datetime
    duration_minutes: int
    scheduled_at: datetime
    status: AppointmentStatus = AppointmentStatus.SCHEDULED
    invitation_sent_at: datetime | None = None
    consent_given_at: datetime | None = None
    waiting_since: datetime | None = None
    join_token_hash: str = ""
    cancel_token_hash: str = ""
    cancelled_by: str | None = None
    cancelled_at: datetime | None = None
    cancelled_late: bool = False
    last_scheduled_at: datetime | None = None
    finished_at: datetime | None = None
    shredded_at: datetime | None = None
    # Participant keys: "practitioner" and patient ids.
    present: set[str] = field(default_factory=set)
    is_group: bool = False
    patients: dict[str, PatientSeat] = field(default_factory=dict)

    @property
    def join_window(self) -> JoinWindow:
        return JoinWindow(self.starts_at, timedelta(minutes=self.duration_minutes))

    def check_patient_may_enter(self, at: datetime) -> None:
        check_patient_may_enter(self.status, self.join_window, at)

    @property
    def ended_at(self) -> datetime:
        return appointment_ended_at(self.ends_at, self.cancelled_at, self.finished_at)

    @property
    def shredding_deadline(self) -> datetime:
        return shredding_deadline(self.ended_at)

    @property
    def is_open(self) -> bool:
        return self.status not in (
            AppointmentStatus.COMPLETED,
            AppointmentStatus.NO_SHOW,
            AppointmentStatus.CANCELLED,
        )

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)

    @property
    def patient_is_waiting(self) -> bool:
        return bool(self.waiting_patients)

    @property
    def patient_is_present(self) -> bool:
        return any(key in self.present for key in self.patients)

    @property
    def waiting_patients(self) -> list[PatientSeat]:
        if not self.is_group:
            first = self.patients[FIRST_PATIENT]
            waiting = FIRST_PATIENT in self.present and self.status in WAITING_STATES
            return [first] if waiting else []
        if not self.is_open:
            return []
        return [
            seat
            for seat in self.patients.values()
            if seat.takes_part
            and seat.admitted_at is None
            and seat.patient_id in self.present
        ]

    @property
    def taking_part(self) -> list[PatientSeat]:
        return [seat for seat in self.patients.values() if seat.takes_part]

    def check_seat_may_enter(self, patient_id: str, at: datetime) -> None:
        self.check_patient_may_enter(at)
        check_seat_may_enter(self.patients[patient_id])


class CalendarView:
    def __init__(self) -> None:
        self._entries: dict[UUID, CalendarEntry] = {}
        self._session_to_appointment: dict[UUID, UUID] = {}
        self._by_join_token_hash: dict[str, tuple[UUID, str]] = {}
        # Counts every change, so views rendered from this model can tell
        # whether they are still current.
        self.changes = 0

    # Queries

    def entry(self, appointment_id: UUID) -> CalendarEntry | None:
        return self._entries.get(appointment_id)

    def by_join_token_hash(self, token_hash: str) -> CalendarEntry | None:
        found = self.seat_by_join_token_hash(token_hash)
        return found[0] if found else None

    def seat_by_join_token_hash(
        self, token_hash: str
    ) -> tuple[CalendarEntry, PatientSeat] | None:
        found = self._by_join_token_hash.get(token_hash)
        if found is None:
            return None
        entry = self._entries.get(found[0])
        return (entry, entry.patients[found[1]]) if entry else None

    def between(
        self, practitioner_id: UUID, start: datetime, end: datetime
    ) -> list[CalendarEntry]:
        found = [
            entry
            for entry in self._entries.values()
            if entry.practitioner_id == practitioner_id
            and entry.ends_at > start
            and entry.starts_at < end
        ]
        return sorted(found, key=lambda entry: entry.starts_at)

    def waiting_for(self, practitioner_id: UUID) -> list[CalendarEntry]:
        waiting = [
            entry
            for entry in self._entries.values()
            if entry.practitioner_id == practitioner_id and entry.patient_is_waiting
        ]
        return sorted(waiting, key=lambda entry: entry.starts_at)

    def due_for_shredding(self, at: datetime) -> list[CalendarEntry]:
        due = [
            entry
            for entry in self._entries.values()
            if entry.shredded_at is None and entry.shredding_deadline <= at
        ]
        return sorted(due, key=lambda entry: entry.shredding_deadline)

    def all_entries(self) -> list[CalendarEntry]:
        return sorted(self._entries.values(), key=lambda entry: entry.starts_at)

    def reminders_due(self, lead: timedelta, at: datetime) -> list[CalendarEntry]:
        return [
            entry
            for entry in self._entries.values()
            if entry.is_open
            and entry.starts_at - lead <= at < entry.starts_at
            and (entry.last_scheduled_at or entry.scheduled_at) < entry.starts_at - lead
        ]

    def with_someone_present(self) -> list[CalendarEntry]:
        return [entry for entry in self._entries.values() if entry.present]

    def practitioner_of_session(self, session_id: UUID) -> UUID | None:
        appointment_id = self._session_to_appointment.get(session_id)
        entry = self._entries.get(appointment_id) if appointment_id else None
        return entry.practitioner_id if entry else None

    def appointment_of(self, domain_event: Any) -> UUID | None:
        """The appointment an event is about, for routing live updates."""
        if domain_event.originator_id in self._entries:
            return UUID(str(domain_event.originator_id))
        return self._session_to_appointment.get(domain_event.originator_id)

    # Updates

    def apply(self, domain_event: Any) -> None:
        self.changes += 1
        self._apply(domain_event)

    @singledispatchmethod
    def _apply(self, domain_event: Any) -> None:
        """Events that do not change the calendar."""

    @_apply.register
    def _(self, domain_event: Appointment.Scheduled) -> None:
        self._entries[domain_event.originator_id] = CalendarEntry(
            appointment_id=domain_event.originator_id,
            practitioner_id=domain_event.practitioner_id,
            patient_name=domain_event.patient_name,
            starts_at=domain_event.starts_at,
            duration_minutes=domain_event.duration_minutes,
            scheduled_at=domain_event.scheduled_at,
            join_token_hash=domain_event.join_token_hash,
            cancel_token_hash=domain_event.cancel_token_hash,
            patients={
                FIRST_PATIENT: PatientSeat(
                    FIRST_PATIENT,
                    domain_event.patient_name,
                    "",
                    "",
                    domain_event.join_token_hash,
                    domain_event.cancel_token_hash,
                )
            },
        )
        self._by_join_token_hash[domain_event.join_token_hash] = (
            domain_event.originator_id,
            FIRST_PATIENT,
        )

    @_apply.register
    def _(self, domain_event: Appointment.PatientAdded) -> None:
        entry = self._entries[domain_event.originator_id]
        entry.is_group = True
        entry.patients[domain_event.patient_id] = PatientSeat(
            domain_event.patient_id,
            domain_event.name,
            "",
            "",
            domain_event.join_token_hash,
            domain_event.cancel_token_hash,
        )
        self._by_join_token_hash[domain_event.join_token_hash] = (
            domain_event.originator_id,
            domain_event.patient_id,
        )

    @_apply.register
    def _(self, domain_event: Appointment.PatientCancelled) -> None:
        entry = self._entries[domain_event.originator_id]
        seat = entry.patients[domain_event.patient_id]
        seat.cancelled_at = domain_event.at
        seat.cancelled_late = domain_event.late
        if domain_event.everyone_cancelled:
            entry.status = AppointmentStatus.CANCELLED
            entry.cancelled_by = "patient"
            entry.cancelled_at = domain_event.at
            entry.cancelled_late = domain_event.late

    @_apply.register
    def _(self, domain_event: Appointment.PatientRemoved) -> None:
        entry = self._entries[domain_event.originator_id]
        entry.patients[domain_event.patient_id].removed_at = domain_event.at

    @_apply.register
    def _(self, domain_event: Appointment.InvitationSent) -> None:
        self._entries[domain_event.originator_id].invitation_sent_at = domain_event.at

    @_apply.register
    def _(self, domain_event: Appointment.ConsentGiven) -> None:
        entry = self._entries[domain_event.originator_id]
        entry.patients[domain_event.patient_id].consent_given_at = domain_event.at
        if entry.consent_given_at is None:
            entry.consent_given_at = domain_event.at
        if entry.status is AppointmentStatus.SCHEDULED:
            entry.status = AppointmentStatus.CONSENTED

    @_apply.register
    def _(self, domain_event: Appointment.PatientArrived) -> None:
        entry = self._entries[domain_event.originator_id]
        entry.patients[domain_event.patient_id].arrived_at = domain_event.at
        if entry.waiting_since is None:
            entry.waiting_since = domain_event.at
        if entry.status in (AppointmentStatus.SCHEDULED, AppointmentStatus.CONSENTED):
            entry.status = AppointmentStatus.WAITING

    @_apply.register
    def _(self, domain_event: Appointment.PatientAdmitted) -> None:
        entry = self._entries[domain_event.originator_id]
        entry.patients[domain_event.patient_id].admitted_at = domain_event.at
        entry.status = AppointmentStatus.ADMITTED

    @_apply.register
    def _(self, domain_event: Appointment.Completed) -> None:
        entry = self._entries[domain_event.originator_id]
        entry.status = AppointmentStatus.COMPLETED
        entry.finished_at = domain_event.at

    @_apply.register
    def _(self, domain_event: Appointment.NoShowRecorded) -> None:
        entry = self._entries[domain_event.originator_id]
        entry.status = AppointmentStatus.NO_SHOW
        entry.finished_at = domain_event.at

    @_apply.register
    def _(self, domain_event: Appointment.PersonalDataShredded) -> None:
        entry = self._entries[domain_event.originator_id]
        entry.shredded_at = domain_event.at
        entry.patient_name = SHREDDED
        for seat in entry.patients.values():
            seat.name = SHREDDED

    @_apply.register
    def _(self, domain_event: Appointment.Cancelled) -> None:
        entry = self._entries[domain_event.originator_id]
        entry.status = AppointmentStatus.CANCELLED
        entry.cancelled_by = domain_event.by
        entry.cancelled_at = domain_event.at
        entry.cancelled_late = domain_event.late

    @_apply.register
    def _(self, domain_event: Appointment.Rescheduled) -> None:
        entry = self._entries[domain_event.originator_id]
        entry.starts_at = domain_event.starts_at
        entry.duration_minutes = domain_event.duration_minutes
        entry.last_scheduled_at = domain_event.at
        entry.waiting_since = None
        for seat in entry.patients.values():
            seat.arrived_at = None
        if entry.status is AppointmentStatus.WAITING:
            entry.status = AppointmentStatus.CONSENTED

    @_apply.register
    def _(self, domain_event: VideoSession.Opened) -> None:
        self._session_to_appointment[domain_event.originator_id] = (
            domain_event.appointment_id
        )

    @_apply.register
    def _(self, domain_event: VideoSession.ParticipantJoined) -> None:
        entry = self._session_entry(domain_event.originator_id)
        if entry is not None:
            entry.present.add(
                participant_key(domain_event.role, domain_event.participant)
            )

    @_apply.register
    def _(self, domain_event: VideoSession.ParticipantLeft) -> None:
        entry = self._session_entry(domain_event.originator_id)
        if entry is not None:
            entry.present.discard(
                participant_key(domain_event.role, domain_event.participant)
            )

    def _session_entry(self, session_id: UUID) -> CalendarEntry | None:
        appointment_id = self._session_to_appointment.get(session_id)
        return self._entries.get(appointment_id) if appointment_id else None
