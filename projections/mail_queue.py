"""Which decided e-mails still wait to be sent, and how each one fared."""

from dataclasses import dataclass
from datetime import datetime
from functools import singledispatchmethod
from typing import Any
from uuid import UUID

from domain.outgoing_mail import DeliveryState, MailKind, OutgoingMail


@dataclass
class MailStatus:
    mail_id: UUID
    appointment_id: UUID
    kind: MailKind
    state: DeliveryState
    next_attempt_at: datetime
    last_error: str | None = None
    # The mail aggregate's version: a delivery job is queued for one version.
    version: int = 1


class MailQueueView:
    def __init__(self) -> None:
        self._mails: dict[UUID, MailStatus] = {}
        self._by_appointment: dict[UUID, list[MailStatus]] = {}

    def due(self, at: datetime) -> list[MailStatus]:
        # A copy first: a follower in another thread may be adding mails.
        return sorted(
            (
                mail
                for mail in list(self._mails.values())
                if mail.state is DeliveryState.QUEUED and mail.next_attempt_at <= at
            ),
            key=lambda mail: mail.next_attempt_at,
        )

    def for_appointment(self, appointment_id: UUID) -> list[MailStatus]:
        return list(self._by_appointment.get(appointment_id, ()))

    @singledispatchmethod
    def apply(self, domain_event: Any) -> None:
        """Events that do not change the queue."""

    @apply.register
    def _(self, domain_event: OutgoingMail.Queued) -> None:
        status = MailStatus(
            mail_id=domain_event.originator_id,
            appointment_id=domain_event.appointment_id,
            kind=MailKind(domain_event.kind),
            state=DeliveryState.QUEUED,
            next_attempt_at=domain_event.at,
        )
        self._mails[status.mail_id] = status
        self._by_appointment.setdefault(status.appointment_id, []).append(status)

    @apply.register
    def _(self, domain_event: OutgoingMail.Delivered) -> None:
        mail = self._mails[domain_event.originator_id]
        mail.state = DeliveryState.DELIVERED
        mail.version = domain_event.originator_version

    @apply.register
    def _(self, domain_event: OutgoingMail.Skipped) -> None:
        mail = self._mails[domain_event.originator_id]
        mail.state = DeliveryState.SKIPPED
        mail.last_error = domain_event.reason
        mail.version = domain_event.originator_version

    @apply.register
    def _(self, domain_event: OutgoingMail.AttemptFailed) -> None:
        mail = self._mails[domain_event.originator_id]
        mail.last_error = domain_event.reason
        mail.next_attempt_at = domain_event.retry_at
        mail.version = domain_event.originator_version
        if domain_event.gave_up:
            mail.state = DeliveryState.FAILED
