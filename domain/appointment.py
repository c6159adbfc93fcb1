"""A video appointment between a practitioner and one patient, or a group of
up to eight patients (see domain.patient_seat)."""

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
    TooManyPatients,
    UnknownPatient,
)
from domain.join_window import JoinWindow
from domain.local_time import in_practice_time
from domain.patient_seat import (
    FIRST_PATIENT,
    MAX_PATIENTS,
    PatientSeat,
    check_seat_may_enter,
    seat_id,
)
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

    # Events recorded before group appointments existed carry no patient_id;
    # they are about the first patient, which the defaults say.
    class ConsentGiven(Aggregate.Event):
        terms_version: str
        at: datetime
        patient_id: str = FIRST_PATIENT

    class PatientArrived(Aggregate.Event):
        at: datetime
        patient_id: str = FIRST_PATIENT

    class PatientAdmitted(Aggregate.Event):
        at: datetime
        patient_id: str = FIRST_PATIENT

    class PatientAdded(Aggregate.Event, HasPersonalData):
        personal_fields = ("name", "email")

        patient_id: str
        name: str
        email: str
        token_nonce: str
        join_token_hash: str
        cancel_token_hash: str
        at: datetime

    class PatientCancelled(Aggregate.Event):
        patient_id: str
        late: bool
        everyone_cancelled: bool
        at: datetime

    class PatientRemoved(Aggregate.Event):
        patient_id: str
        at: datetime

    class Completed(Aggregate.Event):
        at: datetime

    class NoShowRecorded(Aggregate.Event):
        at: datetime

    # `patient_ids` names the seats of a group appointment that are told of
    # the change; empty for a 1:1 appointment, whose one patient always is.
    class Cancelled(Aggregate.Event, HasPersonalData):
        personal_fields = ("message",)

        by: str
        message: str
        late: bool
        at: datetime
        patient_ids: tuple[str, ...] = ()

    class Rescheduled(Aggregate.Event):
        starts_at: datetime
        duration_minutes: int
        sequence: int
        at: datetime
        patient_ids: tuple[str, ...] = ()

    class InvitationResent(Aggregate.Event):
        resend_number: int
        at: datetime
        patient_ids: tuple[str, ...] = ()

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
        self.is_group = False
        self.patients: dict[str, PatientSeat] = {
            FIRST_PATIENT: PatientSeat(
                FIRST_PATIENT,
                patient_name,
                patient_email,
                token_nonce,
                join_token_hash,
                cancel_token_hash,
            )
        }

    # The patients of a group

    def add_patient(
        self,
        *,
        name: str,
        email: str,
        token_nonce: str,
        join_token_hash: str,
        cancel_token_hash: str,
        at: datetime,
    ) -> str:
        """Makes this a group appointment, or adds to one; returns the new
        patient's id."""
        self._check_not_cancelled()
        self._check_still_changeable()
        if len(self.patients) >= MAX_PATIENTS:
            raise TooManyPatients(
                f"Zu einem Gruppentermin können höchstens {MAX_PATIENTS} "
                "Patientinnen und Patienten eingeladen werden."
            )
        name = clean_name(
            name,
            InvalidAppointmentDetails,
            "den Namen jeder Patientin und jedes Patienten",
        )
        email = clean_email(email, InvalidAppointmentDetails)
        if any(seat.email.lower() == email.lower() for seat in self.patients.values()):
            raise InvalidAppointmentDetails(
                f"Die E-Mail-Adresse {email} ist bei diesem Termin schon eingeladen. "
                "Jede Person braucht ihre eigene Adresse."
            )
        patient_id = seat_id(len(self.patients) + 1)
        self._patient_added(
            patient_id=patient_id,
            name=name,
            email=email,
            token_nonce=token_nonce,
            join_token_hash=join_token_hash,
            cancel_token_hash=cancel_token_hash,
            at=at,
        )
        return patient_id

    @event(PatientAdded)
    def _patient_added(
        self,
        patient_id: str,
        name: str,
        email: str,
        token_nonce: str,
        join_token_hash: str,
        cancel_token_hash: str,
        at: datetime,
    ) -> None:
        self.is_group = True
        self.patients[patient_id] = PatientSeat(
            patient_id, name, email, token_nonce, join_token_hash, cancel_token_hash
        )

    def patient(self, patient_id: str) -> PatientSeat:
        seat = self.patients.get(patient_id)
        if seat is None:
            raise UnknownPatient("Diese Person gehört nicht zu diesem Termin.")
        return seat

    @property
    def taking_part(self) -> list[PatientSeat]:
        """The seats not cancelled and not removed, in the order invited."""
        return [seat for seat in self.patients.values() if seat.takes_part]

    def seat_with_token_hash(self, token_hash: str, join: bool) -> PatientSeat | None:
        for seat in self.patients.values():
            current = seat.join_token_hash if join else seat.cancel_token_hash
            if current == token_hash:
                return seat
        return None

    def _told(self) -> tuple[str, ...]:
        if not self.is_group:
            return ()
        return tuple(
            seat.patient_id for seat in self.patients.values() if seat.takes_part
        )

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

    def check_patient_may_enter(
        self, at: datetime, patient_id: str = FIRST_PATIENT
    ) -> None:
        check_patient_may_enter(self.status, self.join_window, at)
        check_seat_may_enter(self.patient(patient_id))

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
        patient_id: str = FIRST_PATIENT,
    ) -> None:
        self.check_patient_may_enter(at, patient_id)
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
        self._consent_given(terms_version=terms_version, at=at, patient_id=patient_id)

    # The appointment's own times are those of the first patient to get there:
    # for a 1:1 appointment, its one patient's.

    @event(ConsentGiven)
    def _consent_given(
        self, terms_version: str, at: datetime, patient_id: str = FIRST_PATIENT
    ) -> None:
        seat = self.patients[patient_id]
        seat.consent_given_at = at
        seat.terms_version = terms_version
        if self.consent_given_at is None:
            self.consent_given_at = at
            self.terms_version = terms_version

    def arrive_in_waiting_room(
        self, at: datetime, patient_id: str = FIRST_PATIENT
    ) -> None:
        self.check_patient_may_enter(at, patient_id)
        seat = self.patients[patient_id]
        if seat.consent_given_at is None:
            raise ConsentMissing("Bitte stimmen Sie zuerst den Nutzungsbedingungen zu.")
        if seat.arrived_at is None:
            self._patient_arrived(at=at, patient_id=patient_id)

    @event(PatientArrived)
    def _patient_arrived(self, at: datetime, patient_id: str = FIRST_PATIENT) -> None:
        self.patients[patient_id].arrived_at = at
        if self.arrived_at is None:
            self.arrived_at = at

    def admit_patient(self, at: datetime, patient_id: str = FIRST_PATIENT) -> None:
        if self.is_finished:
            raise AppointmentNotActive("Dieser Termin ist bereits beendet.")
        seat = self.patient(patient_id)
        if not seat.takes_part:
            raise PatientNotWaiting(
                f"{seat.name} nimmt an diesem Termin nicht mehr teil."
            )
        if seat.arrived_at is None:
            raise PatientNotWaiting(
                f"{seat.name} ist noch nicht im Wartezimmer."
                if self.is_group
                else "Die Patientin oder der Patient ist noch nicht im Wartezimmer."
            )
        if seat.admitted_at is None:
            self._patient_admitted(at=at, patient_id=patient_id)

    @event(PatientAdmitted)
    def _patient_admitted(self, at: datetime, patient_id: str = FIRST_PATIENT) -> None:
        self.patients[patient_id].admitted_at = at
        if self.admitted_at is None:
            self.admitted_at = at

    def remove_patient(self, patient_id: str, at: datetime) -> None:
        """The practitioner sends one patient out of a group call for good."""
        if self.is_finished:
            raise AppointmentNotActive("Dieser Termin ist bereits beendet.")
        seat = self.patient(patient_id)
        if not self.is_group:
            raise UnknownPatient(
                "Aus einem Einzeltermin wird niemand entfernt; beenden Sie den "
                "Termin stattdessen."
            )
        if seat.removed_at is None:
            self._patient_removed(patient_id=patient_id, at=at)

    @event(PatientRemoved)
    def _patient_removed(self, patient_id: str, at: datetime) -> None:
        self.patients[patient_id].removed_at = at

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

    def cancel_by_patient(
        self, deadline_hours: int, at: datetime, patient_id: str = FIRST_PATIENT
    ) -> None:
        self._check_not_cancelled()
        seat = self.patient(patient_id)
        if seat.is_cancelled:
            raise AlreadyCancelled("Sie haben diesen Termin bereits abgesagt.")
        if self.is_finished or self.admitted_at is not None or at >= self.starts_at:
            raise CancellationTooLate(
                "Der Termin hat bereits begonnen oder ist vorbei und kann nicht "
                "mehr online abgesagt werden. Bitte wenden Sie sich direkt an "
                "Ihre Praxis."
            )
        late = self.cancellation_is_late(deadline_hours, at)
        if not self.is_group:
            self._cancelled(by=CancelledBy.PATIENT.value, message="", late=late, at=at)
            return
        # One patient of a group cancels for themselves; when the last one
        # does, nobody is left and the appointment counts as cancelled.
        others = [other for other in self.taking_part if other.patient_id != patient_id]
        self._patient_cancelled(
            patient_id=patient_id,
            late=late,
            everyone_cancelled=not others,
            at=at,
        )

    @event(PatientCancelled)
    def _patient_cancelled(
        self, patient_id: str, late: bool, everyone_cancelled: bool, at: datetime
    ) -> None:
        seat = self.patients[patient_id]
        seat.cancelled_at = at
        seat.cancelled_late = late
        if everyone_cancelled:
            self.cancelled_at = at
            self.cancelled_by = CancelledBy.PATIENT.value
            self.cancelled_late = late

    def cancel_by_practice(self, message: str, at: datetime) -> None:
        self._check_not_cancelled()
        self._check_still_changeable()
        message = clean_text(
            message, InvalidAppointmentDetails, MAX_NOTE_LENGTH, "Die Nachricht"
        )
        self._cancelled(
            by=CancelledBy.PRACTICE.value,
            message=message,
            late=False,
            at=at,
            patient_ids=self._told(),
        )

    @event(Cancelled)
    def _cancelled(
        self,
        by: str,
        message: str,
        late: bool,
        at: datetime,
        patient_ids: tuple[str, ...] = (),
    ) -> None:
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
            patient_ids=self._told(),
        )

    @event(Rescheduled)
    def _rescheduled(
        self,
        starts_at: datetime,
        duration_minutes: int,
        sequence: int,
        at: datetime,
        patient_ids: tuple[str, ...] = (),
    ) -> None:
        self.starts_at = starts_at
        self.duration_minutes = duration_minutes
        self.sequence = sequence
        self.arrived_at = None
        for seat in self.patients.values():
            seat.arrived_at = None

    def resend_invitation(self, at: datetime) -> None:
        self._check_not_cancelled()
        self._check_still_changeable()
        self._invitation_resent(
            resend_number=self.resend_count + 1, at=at, patient_ids=self._told()
        )

    @event(InvitationResent)
    def _invitation_resent(
        self, resend_number: int, at: datetime, patient_ids: tuple[str, ...] = ()
    ) -> None:
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
