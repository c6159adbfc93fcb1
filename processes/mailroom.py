"""Decides which e-mails the practice sends, in reaction to what happened.

The decision is recorded atomically with the position of the event that caused
it, so after a crash no mail is decided twice and none is forgotten. Sending is
the dispatcher's job.
"""

from functools import singledispatchmethod
from typing import Any
from uuid import UUID

from eventsourcing.application import ProcessingEvent
from eventsourcing.system import ProcessApplication

from domain.appointment import Appointment
from domain.outgoing_mail import OutgoingMail


class Mailroom(ProcessApplication[UUID]):
    name = "Mailroom"

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
        mail = OutgoingMail(
            kind="invitation",
            appointment_id=domain_event.originator_id,
            occasion=domain_event.token_nonce,
            at=domain_event.timestamp,
        )
        processing_event.collect_events(mail)

    def mail(self, mail_id: UUID) -> OutgoingMail:
        mail: OutgoingMail = self.repository.get(mail_id)
        return mail
