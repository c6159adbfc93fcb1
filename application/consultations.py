"""The practice's commands: accounts, scheduling, consent, the video room.

Every command takes the current time as an argument. eventsourcing has no
asyncio API, so the web layer calls these methods in a worker thread.
"""

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import Mapper, RecordConflictError
from eventsourcing.system import Leader
from eventsourcing.utils import retry

from adapters.storage.key_store import KeyStore
from application.passwords import hash_password, needs_rehash, verify_password
from application.personal_data_mapper import PersonalDataMapper
from application.tokens import LinkTokens, hash_token, is_well_formed, new_nonce
from domain.access_token import AccessTokenIndex, TokenPurpose
from domain.appointment import Appointment
from domain.errors import (
    DomainError,
    InvalidAccountDetails,
    PracticeAlreadySetUp,
    UnknownPractitioner,
)
from domain.local_time import practice_time_to_utc
from domain.patient_seat import FIRST_PATIENT, PatientSeat
from domain.practice import (
    Practice,
    PracticeSettings,
    Practitioner,
    check_password_rules,
)
from domain.video_session import Role, VideoSession

_on_conflict = retry(RecordConflictError, max_attempts=8, wait=0.01)


class UnknownLink(DomainError):
    status_code = 404

    def __init__(self) -> None:
        super().__init__(
            "Dieser Link ist uns nicht bekannt. Bitte prüfen Sie, ob Sie ihn "
            "vollständig aus der E-Mail übernommen haben."
        )


class AppointmentNotFound(DomainError):
    status_code = 404

    def __init__(self) -> None:
        super().__init__("Diesen Termin gibt es nicht in Ihrem Kalender.")


@dataclass(frozen=True)
class PatientContact:
    name: str
    email: str


@dataclass(frozen=True)
class ScheduleRequest:
    patient_name: str
    patient_email: str
    day: date
    clock: time
    duration_minutes: int
    note: str
    # More patients make it a group appointment.
    further_patients: tuple[PatientContact, ...] = ()


class Consultations(Leader[UUID]):
    name = "Consultations"
    # Each reconnect adds two events to a video session; snapshots keep
    # loading it quick however often someone reloads.
    snapshotting_intervals = {VideoSession: 50}  # noqa: RUF012

    def __init__(self, env: dict[str, str] | None, key_store: KeyStore) -> None:
        # The mapper is built inside the base constructor and needs the keys.
        self.key_store = key_store
        super().__init__(env)
        self.link_tokens: LinkTokens | None = None

    def construct_mapper(self) -> Mapper[UUID]:
        return PersonalDataMapper(self.construct_transcoder(), self.key_store)

    # Accounts

    def practice_exists(self) -> bool:
        return self._exists(Practice.create_id())

    def practice_settings(self) -> PracticeSettings | None:
        """The practice's settings, or None before it was set up."""
        practice = self._get_or_none(Practice.create_id())
        return practice.settings if isinstance(practice, Practice) else None

    def practice(self) -> Practice:
        practice: Practice = self.repository.get(Practice.create_id())
        return practice

    def set_up_practice(
        self, *, practice_name: str, name: str, email: str, password: str, at: datetime
    ) -> UUID:
        if self.practice_exists():
            raise PracticeAlreadySetUp(
                "Die Praxis ist bereits eingerichtet. Bitte melden Sie sich an."
            )
        practice = Practice.found(practice_name, at)
        practitioner = self._new_practitioner(practice.id, name, email, password, at)
        self.save(practice, practitioner)
        return practitioner.id

    def add_practitioner(
        self, *, name: str, email: str, password: str, at: datetime
    ) -> UUID:
        practitioner = self._new_practitioner(
            Practice.create_id(), name, email, password, at
        )
        self.save(practitioner)
        return practitioner.id

    def _new_practitioner(
        self, practice_id: UUID, name: str, email: str, password: str, at: datetime
    ) -> Practitioner:
        check_password_rules(password)
        practitioner = Practitioner.register(
            practice_id=practice_id,
            name=name,
            email=email,
            password_hash=hash_password(password),
            at=at,
        )
        if self._exists(practitioner.id):
            raise InvalidAccountDetails(
                "Für diese E-Mail-Adresse gibt es bereits ein Konto."
            )
        return practitioner

    def authenticate(self, email: str, password: str) -> UUID | None:
        practitioner_id = Practitioner.create_id(email)
        practitioner: Practitioner | None = None
        practitioner = self._get_or_none(practitioner_id)
        stored_hash = practitioner.password_hash if practitioner else None
        if not verify_password(stored_hash, password) or practitioner is None:
            return None
        if needs_rehash(practitioner.password_hash):
            practitioner.rehash_password(hash_password(password))
            self.save(practitioner)
        return practitioner.id

    def practitioner(self, practitioner_id: UUID) -> Practitioner:
        practitioner = self._get_or_none(practitioner_id)
        if not isinstance(practitioner, Practitioner):
            raise UnknownPractitioner("Dieses Konto gibt es nicht.")
        return practitioner

    # Scheduling

    def schedule_appointment(
        self, practitioner_id: UUID, request: ScheduleRequest, at: datetime
    ) -> UUID:
        self.practitioner(practitioner_id)
        nonce = new_nonce()
        join_hash, cancel_hash = self._token_hashes(nonce)
        appointment = Appointment.schedule(
            practitioner_id=practitioner_id,
            patient_name=request.patient_name,
            patient_email=request.patient_email,
            starts_at=practice_time_to_utc(request.day, request.clock),
            duration_minutes=request.duration_minutes,
            note=request.note,
            token_nonce=nonce,
            join_token_hash=join_hash,
            cancel_token_hash=cancel_hash,
            at=at,
        )
        # Every patient of a group has a nonce, and so links, of their own.
        for contact in request.further_patients:
            nonce = new_nonce()
            join_hash, cancel_hash = self._token_hashes(nonce)
            appointment.add_patient(
                name=contact.name,
                email=contact.email,
                token_nonce=nonce,
                join_token_hash=join_hash,
                cancel_token_hash=cancel_hash,
                at=at,
            )
        indexes = [
            AccessTokenIndex(
                token_hash=token_hash,
                appointment_id=appointment.id,
                purpose=purpose.value,
            )
            for seat in appointment.patients.values()
            for token_hash, purpose in (
                (seat.join_token_hash, TokenPurpose.JOIN),
                (seat.cancel_token_hash, TokenPurpose.CANCEL),
            )
        ]
        self.save(appointment, *indexes)
        return appointment.id

    def _token_hashes(self, nonce: str) -> tuple[str, str]:
        tokens = self._tokens()
        return (
            hash_token(tokens.mint(TokenPurpose.JOIN, nonce)),
            hash_token(tokens.mint(TokenPurpose.CANCEL, nonce)),
        )

    def link_token(
        self,
        appointment: Appointment,
        purpose: TokenPurpose,
        patient_id: str = FIRST_PATIENT,
    ) -> str:
        nonce = appointment.patient(patient_id).token_nonce
        return self._tokens().mint(purpose, nonce)

    def appointment(self, appointment_id: UUID) -> Appointment:
        appointment: Appointment = self.repository.get(appointment_id)
        return appointment

    def practitioners_appointment(
        self, practitioner_id: UUID, appointment_id: UUID
    ) -> Appointment:
        appointment = self._get_or_none(appointment_id)
        if not isinstance(appointment, Appointment):
            raise AppointmentNotFound()
        if appointment.practitioner_id != practitioner_id:
            raise AppointmentNotFound()
        return appointment

    def appointment_by_token(self, token: str, purpose: TokenPurpose) -> Appointment:
        return self.seat_by_token(token, purpose)[0]

    def seat_by_token(
        self, token: str, purpose: TokenPurpose
    ) -> tuple[Appointment, PatientSeat]:
        """The appointment a patient's link leads to, and whose link it is."""
        if not is_well_formed(token):
            raise UnknownLink()
        token_hash = hash_token(token)
        index_id = AccessTokenIndex.create_id(token_hash)
        index = self._get_or_none(index_id)
        if not isinstance(index, AccessTokenIndex) or index.purpose != purpose.value:
            raise UnknownLink()
        appointment = self.appointment(index.appointment_id)
        seat = appointment.seat_with_token_hash(
            token_hash, join=purpose is TokenPurpose.JOIN
        )
        if seat is None:
            raise UnknownLink()
        return appointment, seat

    # Cancelling, rescheduling, inviting again

    @_on_conflict
    def cancel_by_patient(
        self, appointment_id: UUID, at: datetime, patient_id: str = FIRST_PATIENT
    ) -> Appointment:
        appointment = self.appointment(appointment_id)
        deadline = self.practice().cancellation_deadline_hours
        appointment.cancel_by_patient(
            deadline_hours=deadline, at=at, patient_id=patient_id
        )
        self.save(appointment)
        return appointment

    @_on_conflict
    def cancel_by_practice(
        self, practitioner_id: UUID, appointment_id: UUID, message: str, at: datetime
    ) -> None:
        appointment = self.practitioners_appointment(practitioner_id, appointment_id)
        appointment.cancel_by_practice(message, at)
        self.save(appointment)

    @_on_conflict
    def reschedule(
        self,
        practitioner_id: UUID,
        appointment_id: UUID,
        day: date,
        clock: time,
        duration_minutes: int,
        at: datetime,
    ) -> None:
        appointment = self.practitioners_appointment(practitioner_id, appointment_id)
        appointment.reschedule(practice_time_to_utc(day, clock), duration_minutes, at)
        self.save(appointment)

    @_on_conflict
    def resend_invitation(
        self, practitioner_id: UUID, appointment_id: UUID, at: datetime
    ) -> None:
        appointment = self.practitioners_appointment(practitioner_id, appointment_id)
        appointment.resend_invitation(at)
        self.save(appointment)

    @_on_conflict
    def change_practice_settings(
        self, practitioner_id: UUID, settings: PracticeSettings, at: datetime
    ) -> None:
        self.practitioner(practitioner_id)
        practice = self.practice()
        practice.change_settings(settings, at)
        self.save(practice)

    @_on_conflict
    def record_shredding(self, appointment_id: UUID, at: datetime) -> bool:
        """Records that the appointment's personal data is gone; returns
        whether this was news."""
        appointment = self.appointment(appointment_id)
        if appointment.shredded_at is not None:
            return False
        appointment.record_shredding(at)
        self.save(appointment)
        return True

    @_on_conflict
    def record_invitation_sent(self, appointment_id: UUID, at: datetime) -> None:
        appointment = self.appointment(appointment_id)
        appointment.record_invitation_sent(at)
        self.save(appointment)

    # The patient's way in

    @_on_conflict
    def give_consent(
        self,
        appointment_id: UUID,
        *,
        terms_version: str,
        name_confirmed: bool,
        terms_accepted: bool,
        at: datetime,
        patient_id: str = FIRST_PATIENT,
    ) -> None:
        appointment = self.appointment(appointment_id)
        if appointment.patient(patient_id).consent_given_at is not None:
            return
        appointment.give_consent(
            terms_version=terms_version,
            name_confirmed=name_confirmed,
            terms_accepted=terms_accepted,
            at=at,
            patient_id=patient_id,
        )
        self.save(appointment)

    @_on_conflict
    def patient_enters_room(
        self,
        appointment_id: UUID,
        connection_id: str,
        at: datetime,
        patient_id: str = FIRST_PATIENT,
    ) -> None:
        appointment = self.appointment(appointment_id)
        appointment.arrive_in_waiting_room(at, patient_id)
        session = self._video_session(appointment_id, at)
        session.join(Role.PATIENT, connection_id, at, patient_id)
        self.save(appointment, session)

    @_on_conflict
    def practitioner_enters_room(
        self,
        practitioner_id: UUID,
        appointment_id: UUID,
        connection_id: str,
        at: datetime,
    ) -> None:
        self.practitioners_appointment(practitioner_id, appointment_id)
        session = self._video_session(appointment_id, at)
        session.join(Role.PRACTITIONER, connection_id, at)
        self.save(session)

    @_on_conflict
    def participant_leaves(
        self,
        appointment_id: UUID,
        participant: str,
        connection_id: str,
        reason: str,
        at: datetime,
    ) -> None:
        """`participant` is "practitioner" or a patient's id."""
        session = self.video_session(appointment_id)
        if session is None:
            return
        session.leave(participant, connection_id, reason, at)
        self.save(session)

    # The practitioner's decisions

    @_on_conflict
    def admit_patient(
        self,
        practitioner_id: UUID,
        appointment_id: UUID,
        at: datetime,
        patient_ids: tuple[str, ...] = (FIRST_PATIENT,),
    ) -> list[str]:
        """Admits these patients (all or none); returns their ids."""
        appointment = self.practitioners_appointment(practitioner_id, appointment_id)
        for patient_id in patient_ids:
            appointment.admit_patient(at, patient_id)
        session = self._video_session(appointment_id, at)
        session.start_call(at)
        self.save(appointment, session)
        return list(patient_ids)

    def waiting_patients(self, appointment: Appointment) -> tuple[str, ...]:
        """Who of a group is in the waiting room now: connected, not yet
        admitted, still taking part."""
        session = self.video_session(appointment.id)
        present = session.present if session else {}
        return tuple(
            seat.patient_id
            for seat in appointment.taking_part
            if seat.patient_id in present and seat.admitted_at is None
        )

    @_on_conflict
    def remove_patient(
        self, practitioner_id: UUID, appointment_id: UUID, patient_id: str, at: datetime
    ) -> None:
        appointment = self.practitioners_appointment(practitioner_id, appointment_id)
        appointment.remove_patient(patient_id, at)
        self.save(appointment)

    @_on_conflict
    def end_appointment(
        self, practitioner_id: UUID, appointment_id: UUID, at: datetime
    ) -> None:
        appointment = self.practitioners_appointment(practitioner_id, appointment_id)
        appointment.complete(at)
        session = self._video_session(appointment_id, at)
        session.end_call(at)
        self.save(appointment, session)

    @_on_conflict
    def record_no_show(
        self, practitioner_id: UUID, appointment_id: UUID, at: datetime
    ) -> None:
        appointment = self.practitioners_appointment(practitioner_id, appointment_id)
        appointment.record_no_show(at)
        self.save(appointment)

    def video_session(self, appointment_id: UUID) -> VideoSession | None:
        session = self._get_or_none(VideoSession.create_id(appointment_id))
        return session if isinstance(session, VideoSession) else None

    # Helpers

    def _video_session(self, appointment_id: UUID, at: datetime) -> VideoSession:
        existing = self.video_session(appointment_id)
        return existing or VideoSession(appointment_id=appointment_id, at=at)

    def _exists(self, aggregate_id: UUID) -> bool:
        return self._get_or_none(aggregate_id) is not None

    def _get_or_none(self, aggregate_id: UUID) -> Any:
        # `in repository` reads the whole aggregate too; read it only once.
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def _tokens(self) -> LinkTokens:
        if self.link_tokens is None:
            raise RuntimeError("link tokens need the server's secret key")
        return self.link_tokens
