"""A video appointment between a practitioner and one patient."""

from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.contact import clean_email, clean_name, clean_text
from domain.errors import (
    AlreadyCancelled,
    AppointmentNotActive,
    AppointmentWasCancelled,
    CancellationTooLate,
    ConsentMissing,
    InvalidAppointmentDetails,
    JoinWindowClosed,
    JoinWindowNotOpenYet,
    NoShowTooEarly,
    PatientNotWaiting,
    PersonalDataGone,
    StartInThePast,
)
from domain.join_window import JoinWindow
from domain.local_time import in_practice_time
from domain.personal_data import HasPersonalData
from domain.retention import appointment_ended_at, shredding_deadline

DEFAULT_DURATION_MINUTES = 15
DURATION_CHOICES = (5, 10, 15, 20, 25, 30, 45, 50, 60, 90, 120)
MIN_DURATION_MINUTES = 5
MAX_DURATION_MINUTES = 240
MAX_NOTE_LENGTH = 1000
LATEST_SCHEDULING_AHEAD = timedelta(days=366)
CURRENT_TERMS_VERSION = "2026-12"


class AppointmentStatus(StrEnum):
    SCHEDULED = "scheduled"
    CONSENTED = "consented"
    WAITING = "waiting"
    ADMITTED = "admitted"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


class CancelledBy(StrEnum):
    PATIENT = "patient"
    PRACTICE = "practice"


def check_timing(starts_at: datetime, duration_minutes: int, at: datetime) -> None:
    if starts_at.tzinfo is None:
        raise ValueError("starts_at must carry a time zone")
    if starts_at <= at:
        shown = in_practice_time(starts_at)
        raise StartInThePast(
            f"Der Termin am {shown:%d.%m.%Y um %H:%M} Uhr liegt in der "
            "Vergangenheit. Bitte wählen Sie einen späteren Zeitpunkt."
        )
    if starts_at - at > LATEST_SCHEDULING_AHEAD:
        raise InvalidAppointmentDetails(
            "Termine können höchstens ein Jahr im Voraus geplant werden."
        )
    if not MIN_DURATION_MINUTES <= duration_minutes <= MAX_DURATION_MINUTES:
        raise InvalidAppointmentDetails(
            f"Die Dauer muss zwischen {MIN_DURATION_MINUTES} und "
            f"{MAX_DURATION_MINUTES} Minuten liegen."
        )


def check_patient_may_enter(
    status: AppointmentStatus, window: JoinWindow, at: datetime
) -> None:
    """The rule for the patient's link, shared by the aggregate and the read
    model that serves the join page."""
    if status is AppointmentStatus.CANCELLED:
        raise AppointmentWasCancelled(
            "Dieser Termin wurde abgesagt. Bitte wenden Sie sich an Ihre "
            "Praxis, wenn Sie einen neuen Termin brauchen."
        )
    if status in (AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW):
        raise AppointmentNotActive(
            "Dieser Termin ist bereits beendet. Bitte wenden Sie sich an Ihre "
            "Praxis, wenn Sie einen neuen Termin brauchen."
        )
    if window.is_early(at):
        opens = in_practice_time(window.opens_at)
        raise JoinWindowNotOpenYet(
            f"Der Zugang öffnet am {opens:%d.%m.%Y um %H:%M} Uhr, "
            "15 Minuten vor Beginn des Termins."
        )
    if window.is_over(at):
        raise JoinWindowClosed(
            "Der Termin ist vorbei, der Link ist nicht mehr gültig. Bitte "
            "wenden Sie sich an Ihre Praxis."
        )


class Appointment(Aggregate):
    class Scheduled(Aggregate.Created, HasPersonalData):
        personal_fields = ("patient_name", "patient_email", "note")

        practitioner_id: UUID
        patient_name: str
        patient_email: str
        starts_at: datetime
        duration_minutes: int
        note: str
        token_nonce: str
        join_token_hash: str
        cancel_token_hash: str
        scheduled_at: datetime

    class InvitationSent(Aggregate.Event):
        at: datetime

    class ConsentGiven(Aggregate.Event):
        terms_version: str
        at: datetime

    class PatientArrived(Aggregate.Event):
        at: datetime

    class PatientAdmitted(Aggregate.Event):
        at: datetime

    class Completed(Aggregate.Event):
        at: datetime

    class NoShowRecorded(Aggregate.Event):
        at: datetime

    class Cancelled(Aggregate.Event, HasPersonalData):
        personal_fields = ("message",)

        by: str
        message: str
        late: bool
        at: datetime

    class Rescheduled(Aggregate.Event):
        starts_at: datetime
        duration_minutes: int
        sequence: int
        at: datetime

    class InvitationResent(Aggregate.Event):
        resend_number: int
        at: datetime

    class PersonalDataShredded(Aggregate.Event):
        at: datetime

    @classmethod
    def schedule(
        cls,
        *,
        practitioner_id: UUID,
        patient_name: str,
        patient_email: str,
        starts_at: datetime,
        duration_minutes: int,
        note: str,
        token_nonce: str,
        join_token_hash: str,
        cancel_token_hash: str,
        at: datetime,
    ) -> "Appointment":
        check_timing(starts_at, duration_minutes, at)
        note = clean_text(
            note, InvalidAppointmentDetails, MAX_NOTE_LENGTH, "Der Hinweis"
        )
        return cls(
            practitioner_id=practitioner_id,
            patient_name=clean_name(
                patient_name,
                InvalidAppointmentDetails,
                "den Namen der Patientin oder des Patienten",
            ),
            patient_email=clean_email(patient_email, InvalidAppointmentDetails),
            starts_at=starts_at,
            duration_minutes=duration_minutes,
            note=note,
            token_nonce=token_nonce,
            join_token_hash=join_token_hash,
            cancel_token_hash=cancel_token_hash,
            scheduled_at=at,
        )

    @event(Scheduled)
    def __init__(
        self,
        *,
        practitioner_id: UUID,
        patient_name: str,
        patient_email: str,
        starts_at: datetime,
        duration_minutes: int,
        note: str,
        token_nonce: str,
        join_token_hash: str,
        cancel_token_hash: str,
        scheduled_at: datetime,
    ) -> None:
        self.practitioner_id = practitioner_id
        self.patient_name = patient_name
        self.patient_email = patient_email
        self.starts_at = starts_at
        self.duration_minutes = duration_minutes
        self.note = note
        self.token_nonce = token_nonce
        self.join_token_hash = join_token_hash
        self.cancel_token_hash = cancel_token_hash
        self.scheduled_at = scheduled_at
        self.invitation_sent_at: datetime | None = None
        self.consent_given_at: datetime | None = None
        self.terms_version: str | None = None
        self.arrived_at: datetime | None = None
        self.admitted_at: datetime | None = None
        self.completed_at: datetime | None = None
        self.no_show_recorded_at: datetime | None = None
        self.cancelled_at: datetime | None = None
        self.cancelled_by: str | None = None
        self.cancellation_message = ""
        self.cancelled_late = False
        self.sequence = 0
        self.resend_count = 0
        self.shredded_at: datetime | None = None

    @property
    def join_window(self) -> JoinWindow:
        return JoinWindow(self.starts_at, timedelta(minutes=self.duration_minutes))

    @property
    def ends_at(self) -> datetime:
        return self.join_window.closes_at

    @property
    def status(self) -> AppointmentStatus:
        if self.cancelled_at is not None:
            return AppointmentStatus.CANCELLED
        if self.completed_at is not None:
            return AppointmentStatus.COMPLETED
        if self.no_show_recorded_at is not None:
            return AppointmentStatus.NO_SHOW
        if self.admitted_at is not None:
            return AppointmentStatus.ADMITTED
        if self.arrived_at is not None:
            return AppointmentStatus.WAITING
        if self.consent_given_at is not None:
            return AppointmentStatus.CONSENTED
        return AppointmentStatus.SCHEDULED

    @property
    def is_finished(self) -> bool:
        return self.status in (
            AppointmentStatus.COMPLETED,
            AppointmentStatus.NO_SHOW,
            AppointmentStatus.CANCELLED,
        )

    def check_patient_may_enter(self, at: datetime) -> None:
        check_patient_may_enter(self.status, self.join_window, at)

    @event(InvitationSent)
    def record_invitation_sent(self, at: datetime) -> None:
        self.invitation_sent_at = at

    def give_consent(
        self,
        *,
        terms_version: str,
        name_confirmed: bool,
        terms_accepted: bool,
        at: datetime,
    ) -> None:
        self.check_patient_may_enter(at)
        if not name_confirmed:
            raise ConsentMissing(
                "Bitte bestätigen Sie, dass Sie die eingeladene Person sind."
            )
        if not terms_accepted:
            raise ConsentMissing(
                "Bitte stimmen Sie den Nutzungsbedingungen und den "
                "Datenschutzhinweisen zu."
            )
        if terms_version != CURRENT_TERMS_VERSION:
            raise ConsentMissing(
                "Die Nutzungsbedingungen wurden aktualisiert. Bitte lesen und "
                "bestätigen Sie die aktuelle Fassung."
            )
        self._consent_given(terms_version=terms_version, at=at)

    @event(ConsentGiven)
    def _consent_given(self, terms_version: str, at: datetime) -> None:
        self.consent_given_at = at
        self.terms_version = terms_version

    def arrive_in_waiting_room(self, at: datetime) -> None:
        self.check_patient_may_enter(at)
        if self.consent_given_at is None:
            raise ConsentMissing("Bitte stimmen Sie zuerst den Nutzungsbedingungen zu.")
        if self.arrived_at is None:
            self._patient_arrived(at=at)

    @event(PatientArrived)
    def _patient_arrived(self, at: datetime) -> None:
        self.arrived_at = at

    def admit_patient(self, at: datetime) -> None:
        if self.is_finished:
            raise AppointmentNotActive("Dieser Termin ist bereits beendet.")
        if self.arrived_at is None:
            raise PatientNotWaiting(
                "Die Patientin oder der Patient ist noch nicht im Wartezimmer."
            )
        if self.admitted_at is None:
            self._patient_admitted(at=at)

    @event(PatientAdmitted)
    def _patient_admitted(self, at: datetime) -> None:
        self.admitted_at = at

    def complete(self, at: datetime) -> None:
        if self.is_finished:
            raise AppointmentNotActive("Dieser Termin ist bereits beendet.")
        if self.admitted_at is None:
            raise PatientNotWaiting(
                "Der Termin hat noch nicht begonnen. Lassen Sie die Person "
                "zuerst eintreten, oder vermerken Sie, dass sie nicht erschienen ist."
            )
        self._completed(at=at)

    @event(Completed)
    def _completed(self, at: datetime) -> None:
        self.completed_at = at

    def record_no_show(self, at: datetime) -> None:
        if self.is_finished:
            raise AppointmentNotActive("Dieser Termin ist bereits beendet.")
        if self.admitted_at is not None:
            raise AppointmentNotActive(
                "Die Person wurde bereits eingelassen; beenden Sie den Termin "
                "stattdessen."
            )
        if at < self.starts_at:
            raise NoShowTooEarly(
                "Ein Nichterscheinen kann erst ab Beginn des Termins vermerkt werden."
            )
        self._no_show_recorded(at=at)

    @event(NoShowRecorded)
    def _no_show_recorded(self, at: datetime) -> None:
        self.no_show_recorded_at = at

    # Cancelling, rescheduling, inviting again

    def cancellation_is_late(self, deadline_hours: int, at: datetime) -> bool:
        return at > self.starts_at - timedelta(hours=deadline_hours)

    def cancel_by_patient(self, deadline_hours: int, at: datetime) -> None:
        self._check_not_cancelled()
        if self.is_finished or self.admitted_at is not None or at >= self.starts_at:
            raise CancellationTooLate(
                "Der Termin hat bereits begonnen oder ist vorbei und kann nicht "
                "mehr online abgesagt werden. Bitte wenden Sie sich direkt an "
                "Ihre Praxis."
            )
        self._cancelled(
            by=CancelledBy.PATIENT.value,
            message="",
            late=self.cancellation_is_late(deadline_hours, at),
            at=at,
        )

    def cancel_by_practice(self, message: str, at: datetime) -> None:
        self._check_not_cancelled()
        self._check_still_changeable()
        message = clean_text(
            message, InvalidAppointmentDetails, MAX_NOTE_LENGTH, "Die Nachricht"
        )
        self._cancelled(
            by=CancelledBy.PRACTICE.value, message=message, late=False, at=at
        )

    @event(Cancelled)
    def _cancelled(self, by: str, message: str, late: bool, at: datetime) -> None:
        self.cancelled_at = at
        self.cancelled_by = by
        self.cancellation_message = message
        self.cancelled_late = late

    def reschedule(
        self, starts_at: datetime, duration_minutes: int, at: datetime
    ) -> None:
        self._check_not_cancelled()
        self._check_still_changeable()
        check_timing(starts_at, duration_minutes, at)
        if starts_at == self.starts_at and duration_minutes == self.duration_minutes:
            raise InvalidAppointmentDetails(
                "Der Termin findet bereits zu dieser Zeit und mit dieser Dauer statt."
            )
        self._rescheduled(
            starts_at=starts_at,
            duration_minutes=duration_minutes,
            sequence=self.sequence + 1,
            at=at,
        )

    @event(Rescheduled)
    def _rescheduled(
        self, starts_at: datetime, duration_minutes: int, sequence: int, at: datetime
    ) -> None:
        self.starts_at = starts_at
        self.duration_minutes = duration_minutes
        self.sequence = sequence
        self.arrived_at = None

    def resend_invitation(self, at: datetime) -> None:
        self._check_not_cancelled()
        self._check_still_changeable()
        self._invitation_resent(resend_number=self.resend_count + 1, at=at)

    @event(InvitationResent)
    def _invitation_resent(self, resend_number: int, at: datetime) -> None:
        self.resend_count = resend_number

    def _check_not_shredded(self) -> None:
        if self.shredded_at is not None:
            raise PersonalDataGone(
                "Die Daten dieses Termins wurden nach Ablauf der Aufbewahrungsfrist "
                "gelöscht; er lässt sich nicht mehr ändern."
            )

    def _check_not_cancelled(self) -> None:
        self._check_not_shredded()
        if self.cancelled_at is not None:
            raise AlreadyCancelled("Dieser Termin wurde bereits abgesagt.")

    def _check_still_changeable(self) -> None:
        if self.is_finished:
            raise AppointmentNotActive("Dieser Termin ist bereits beendet.")
        if self.admitted_at is not None:
            raise AppointmentNotActive(
                "Das Gespräch hat bereits begonnen; beenden Sie den Termin stattdessen."
            )

    # Retention

    @property
    def ended_at(self) -> datetime:
        return appointment_ended_at(
            self.ends_at,
            self.cancelled_at,
            self.completed_at or self.no_show_recorded_at,
        )

    @property
    def shredding_deadline(self) -> datetime:
        return shredding_deadline(self.ended_at)

    def record_shredding(self, at: datetime) -> None:
        if self.shredded_at is None:
            self._personal_data_shredded(at=at)

    @event(PersonalDataShredded)
    def _personal_data_shredded(self, at: datetime) -> None:
        self.shredded_at = at
