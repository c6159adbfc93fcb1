"""An e-mail the practice has decided to send, recorded before any attempt.

Its identity follows from what it is about (and for a group appointment,
which patient it is for), so deciding the same mail twice
finds the mail already decided; its Message-ID follows from its identity, so a
retry is recognisable as the same mail.
"""

from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.ids import derived_id

# With pauses growing to half an hour, this keeps trying for about two days.
MAX_TRANSIENT_ATTEMPTS = 100
FIRST_RETRY_DELAY = timedelta(seconds=5)
LONGEST_RETRY_DELAY = timedelta(minutes=30)


class MailKind(StrEnum):
    INVITATION = "invitation"
    INVITATION_UPDATE = "invitation_update"
    REMINDER = "reminder"
    CANCELLATION_CONFIRMATION = "cancellation_confirmation"
    CANCELLED_BY_PRACTICE = "cancelled_by_practice"
    CANCELLATION_NOTICE = "cancellation_notice"

    @property
    def goes_to_practice(self) -> bool:
        return self is MailKind.CANCELLATION_NOTICE


class DeliveryState(StrEnum):
    QUEUED = "queued"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"


class OutgoingMail(Aggregate):
    # `patient_id` names a patient of a group appointment; empty for a 1:1
    # appointment's patient (and a group's first patient's invitation).
    class Queued(Aggregate.Created):
        kind: str
        appointment_id: UUID
        occasion: str
        at: datetime
        patient_id: str = ""

    class Delivered(Aggregate.Event):
        at: datetime

    class AttemptFailed(Aggregate.Event):
        reason: str
        gave_up: bool
        retry_at: datetime
        at: datetime

    class Skipped(Aggregate.Event):
        reason: str
        at: datetime

    @staticmethod
    def create_id(
        kind: str, appointment_id: UUID, occasion: str, patient_id: str = ""
    ) -> UUID:
        about = f"{kind}:{appointment_id}:{occasion}"
        return derived_id("mail", f"{about}:{patient_id}" if patient_id else about)

    @event(Queued)
    def __init__(
        self,
        kind: str,
        appointment_id: UUID,
        occasion: str,
        at: datetime,
        patient_id: str = "",
    ) -> None:
        self.kind = MailKind(kind)
        self.appointment_id = appointment_id
        self.occasion = occasion
        self.patient_id = patient_id
        self.queued_at = at
        self.state = DeliveryState.QUEUED
        self.attempts = 0
        self.next_attempt_at = at
        self.last_error: str | None = None

    @property
    def message_id(self) -> str:
        return f"<{self.id}@sprechzimmer>"

    @event(Delivered)
    def mark_delivered(self, at: datetime) -> None:
        self.state = DeliveryState.DELIVERED
        self.attempts += 1

    def record_failed_attempt(self, reason: str, permanent: bool, at: datetime) -> None:
        gave_up = permanent or self.attempts + 1 >= MAX_TRANSIENT_ATTEMPTS
        delay = min(FIRST_RETRY_DELAY * (2**self.attempts), LONGEST_RETRY_DELAY)
        self._attempt_failed(
            reason=reason[:300], gave_up=gave_up, retry_at=at + delay, at=at
        )

    @event(AttemptFailed)
    def _attempt_failed(
        self, reason: str, gave_up: bool, retry_at: datetime, at: datetime
    ) -> None:
        self.attempts += 1
        self.last_error = reason
        self.next_attempt_at = retry_at
        if gave_up:
            self.state = DeliveryState.FAILED

    def skip(self, reason: str, at: datetime) -> None:
        """The mail lost its point before it went out (for example, a reminder
        for a time the appointment no longer has)."""
        self._skipped(reason=reason, at=at)

    @event(Skipped)
    def _skipped(self, reason: str, at: datetime) -> None:
        self.state = DeliveryState.SKIPPED
        self.last_error = reason
