"""Decides which e-mails the practice sends, in reaction to what happened.

The decision is recorded atomically with the position of the event that caused
it, so after a crash no mail is decided twice and none is forgotten. Sending is
the dispatcher's job.
"""

import hashlib
from datetime import datetime
from functools import singledispatchmethod
from typing import Any
from uuid import UUID

from eventsourcing.application import ProcessingEvent
from eventsourcing.system import ProcessApplication
from eventsourcing.utils import get_topic

from domain.appointment import Appointment, CancelledBy
from domain.outgoing_mail import MailKind, OutgoingMail


class Mailroom(ProcessApplication[UUID]):
    name = "Mailroom"
    # Only these events can lead to a mail; the others are not even read.
    topics = (
        get_topic(Appointment.Scheduled),
        get_topic(Appointment.PatientAdded),
        get_topic(Appointment.Rescheduled),
        get_topic(Appointment.InvitationResent),
        get_topic(Appointment.Cancelled),
        get_topic(Appointment.PatientCancelled),
    )

    @singledispatchmethod
    def policy(
        self, domain_event: Any, processing_event: ProcessingEvent[UUID]
    ) -> None:
        """Events that need no mail."""

    @policy.register
    def _(
        self,
        domain_event: Appointment.Scheduled,
        processing_event: ProcessingEvent[UUID],
    ) -> None:
        self._decide(
            processing_event,
            MailKind.INVITATION,
            domain_event.originator_id,
            occasion=_digest(domain_event.token_nonce),
            at=domain_event.scheduled_at,
        )

    @policy.register
    def _(
        self,
        domain_event: Appointment.PatientAdded,
        processing_event: ProcessingEvent[UUID],
    ) -> None:
        self._decide(
            processing_event,
            MailKind.INVITATION,
            domain_event.originator_id,
            occasion=_digest(domain_event.token_nonce),
            at=domain_event.at,
            patient_id=domain_event.patient_id,
        )

    @policy.register
    def _(
        self,
        domain_event: Appointment.Rescheduled,
        processing_event: ProcessingEvent[UUID],
    ) -> None:
        for patient_id in _told(domain_event):
            self._decide(
                processing_event,
                MailKind.INVITATION_UPDATE,
                domain_event.originator_id,
                occasion=f"sequence:{domain_event.sequence}",
                at=domain_event.at,
                patient_id=patient_id,
            )

    @policy.register
    def _(
        self,
        domain_event: Appointment.InvitationResent,
        processing_event: ProcessingEvent[UUID],
    ) -> None:
        for patient_id in _told(domain_event):
            self._decide(
                processing_event,
                MailKind.INVITATION,
                domain_event.originator_id,
                occasion=f"resend:{domain_event.resend_number}",
                at=domain_event.at,
                patient_id=patient_id,
            )

    @policy.register
    def _(
        self,
        domain_event: Appointment.Cancelled,
        processing_event: ProcessingEvent[UUID],
    ) -> None:
        if domain_event.by == CancelledBy.PATIENT.value:
            kinds = [MailKind.CANCELLATION_CONFIRMATION, MailKind.CANCELLATION_NOTICE]
        else:
            kinds = [MailKind.CANCELLED_BY_PRACTICE]
        for patient_id in _told(domain_event):
            for kind in kinds:
                self._decide(
                    processing_event,
                    kind,
                    domain_event.originator_id,
                    occasion="cancellation",
                    at=domain_event.at,
                    patient_id=patient_id,
                )

    @policy.register
    def _(
        self,
        domain_event: Appointment.PatientCancelled,
        processing_event: ProcessingEvent[UUID],
    ) -> None:
        # One patient of a group: the practice learns who, the patient gets a
        # confirmation; the others are not told.
        for kind in (MailKind.CANCELLATION_CONFIRMATION, MailKind.CANCELLATION_NOTICE):
            self._decide(
                processing_event,
                kind,
                domain_event.originator_id,
                occasion="cancellation",
                at=domain_event.at,
                patient_id=domain_event.patient_id,
            )

    def _decide(
        self,
        processing_event: ProcessingEvent[UUID],
        kind: MailKind,
        appointment_id: UUID,
        *,
        occasion: str,
        at: datetime,
        patient_id: str = "",
    ) -> None:
        mail = OutgoingMail(
            kind=kind.value,
            appointment_id=appointment_id,
            occasion=occasion,
            at=at,
            patient_id=patient_id,
        )
        processing_event.collect_events(mail)

    def queue_reminder(
        self,
        appointment_id: UUID,
        starts_at: datetime,
        at: datetime,
        patient_id: str = "",
    ) -> bool:
        """Decides the reminder for this start time, once; returns whether it
        was decided now."""
        mail_id = OutgoingMail.create_id(
            MailKind.REMINDER.value, appointment_id, starts_at.isoformat(), patient_id
        )
        if mail_id in self.repository:
            return False
        self.save(
            OutgoingMail(
                kind=MailKind.REMINDER.value,
                appointment_id=appointment_id,
                occasion=starts_at.isoformat(),
                at=at,
                patient_id=patient_id,
            )
        )
        return True

    def mail(self, mail_id: UUID) -> OutgoingMail:
        mail: OutgoingMail = self.repository.get(mail_id)
        return mail


def _digest(nonce: str) -> str:
    # The nonce itself would help rebuild links: only a digest of it.
    return hashlib.sha256(nonce.encode()).hexdigest()[:24]


def _told(domain_event: Any) -> list[str]:
    """The patients a change goes to: a group's, each by id; a 1:1
    appointment's one patient as always."""
    return list(domain_event.patient_ids) or [""]
