"""Sends the e-mails the mailroom decided on, and records how each one went.

A mail counts as delivered once the mail server took it. A transient failure
is retried with growing pauses; a permanent refusal is recorded with its reason
for the practitioner to see, and not retried.

On the embedded default one loop sends everything due in rounds; with workers
each mail is a job of its own, and `deliver` sends just that one.
"""

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from adapters.email.messages import Letter
from adapters.email.transport import (
    MailTransport,
    PermanentMailError,
    TransientMailError,
)
from application.consultations import Consultations
from domain.appointment import Appointment
from domain.outgoing_mail import DeliveryState, MailKind, OutgoingMail
from processes.mail_relevance import reason_to_skip
from processes.mailroom import Mailroom
from projections.follower import LogFollower
from projections.mail_queue import MailQueueView

logger = logging.getLogger(__name__)

Composer = Callable[[OutgoingMail, Appointment, datetime], Letter]


class MailDispatcher:
    def __init__(
        self,
        *,
        consultations: Consultations,
        mailroom: Mailroom,
        queue: MailQueueView,
        queue_follower: LogFollower,
        compose: Composer,
        transport: MailTransport,
        clock: Callable[[], datetime],
    ) -> None:
        self._consultations = consultations
        self._mailroom = mailroom
        self._queue = queue
        self._queue_follower = queue_follower
        self._compose = compose
        self._transport = transport
        self._clock = clock
        self._one_round_at_a_time = threading.Lock()

    def dispatch_due(self, at: datetime) -> int:
        """Sends every mail that is due; returns how many were delivered."""
        with self._one_round_at_a_time:
            return self._dispatch_due(at)

    def deliver(
        self, mail_id: UUID, at: datetime, version: int | None = None
    ) -> OutgoingMail | None:
        """Sends this one mail if it is still queued and due (and still at
        `version`, if given); returns it as recorded after the attempt, or None
        when there was nothing to do. A job run again after the mail went out
        finds it delivered and does nothing."""
        with self._one_round_at_a_time:
            try:
                mail = self._mailroom.mail(mail_id)
            except AggregateNotFoundError:
                logger.warning("Mail %s is not in the mailroom", mail_id)
                return None
            if mail.state is DeliveryState.DELIVERED:
                self._complete_after_lost_answer(mail, at)
            if (
                mail.state is not DeliveryState.QUEUED
                or mail.next_attempt_at > at
                or (version is not None and mail.version != version)
            ):
                logger.debug("Mail %s needs no delivery now", mail_id)
                return None
            try:
                self._send(mail, at)
            finally:
                self._transport.finish_round()
            return mail

    def _complete_after_lost_answer(self, mail: OutgoingMail, at: datetime) -> None:
        """A job run again after its worker died between recording the
        delivery and recording the invitation as sent: finish the latter."""
        if mail.kind is not MailKind.INVITATION:
            return
        appointment = self._consultations.appointment(mail.appointment_id)
        if appointment.invitation_sent_at is None and not appointment.is_finished:
            self._record_invitation_sent(mail.appointment_id, at)

    def _dispatch_due(self, at: datetime) -> int:
        self._queue_follower.pull()
        delivered = 0
        try:
            for status in self._queue.due(at):
                mail = self._mailroom.mail(status.mail_id)
                if mail.state is not DeliveryState.QUEUED:
                    continue
                if self._send(mail, at):
                    delivered += 1
        finally:
            self._transport.finish_round()
        self._queue_follower.pull()
        return delivered

    def _send(self, mail: OutgoingMail, at: datetime) -> bool:
        appointment = self._consultations.appointment(mail.appointment_id)
        reason = reason_to_skip(mail, appointment, at)
        if reason is not None:
            logger.info("Mail %s skipped: %s", mail.id, reason)
            mail.skip(reason, at)
            self._mailroom.save(mail)
            return False

        try:
            letter = self._compose(mail, appointment, at)
        except Exception:
            # One mail that cannot be built must never hold up the others.
            logger.exception("Mail %s could not be composed", mail.id)
            return self._failed(mail, "Nachricht konnte nicht erstellt werden", True)
        try:
            self._transport.send(letter)
        except PermanentMailError as error:
            logger.warning("Mail %s refused for good: %s", mail.id, error)
            return self._failed(mail, str(error), permanent=True)
        except TransientMailError as error:
            logger.info("Mail %s not handed over yet: %s", mail.id, error)
            return self._failed(mail, str(error), permanent=False)

        mail.mark_delivered(self._clock())
        self._save_delivery(mail)
        if mail.kind in (MailKind.INVITATION, MailKind.INVITATION_UPDATE):
            self._record_invitation_sent(mail.appointment_id, at)
        logger.info("Mail %s (%s) delivered", mail.id, mail.kind)
        return True

    def _save_delivery(self, mail: OutgoingMail) -> None:
        """Records the delivery. If the database took the record but its answer
        was lost (a restart at that instant), saving again conflicts with our
        own record: then it is there, and that is all that was wanted."""
        try:
            self._mailroom.save(mail)
        except IntegrityError:
            stored = self._mailroom.mail(mail.id)
            if stored.state is not DeliveryState.DELIVERED:
                raise
            logger.info("Mail %s: its delivery was already recorded", mail.id)

    def _record_invitation_sent(self, appointment_id: UUID, at: datetime) -> None:
        # Another process may change the appointment in the same instant.
        for attempt in range(3):
            try:
                self._consultations.record_invitation_sent(appointment_id, at)
                return
            except IntegrityError:
                if attempt == 2:
                    raise

    def _failed(self, mail: OutgoingMail, reason: str, permanent: bool) -> bool:
        # The time of the failure, not of the round's start: a slow server
        # must not make the next attempt due at once.
        mail.record_failed_attempt(reason, permanent=permanent, at=self._clock())
        self._mailroom.save(mail)
        return False
