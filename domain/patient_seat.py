"""One patient's place in an appointment.

A 1:1 appointment has one seat, the first patient's, taken from the
appointment's own scheduling event. A group appointment adds up to seven more.
Each seat has its own link tokens, consent, arrival, admission and
cancellation; all of its personal data lives in the appointment's events, so
shredding the appointment's key shreds every seat.
"""

from dataclasses import dataclass
from datetime import datetime

from domain.errors import AppointmentWasCancelled, RemovedFromCall

FIRST_PATIENT = "p1"
MAX_PATIENTS = 8


def seat_id(number: int) -> str:
    return f"p{number}"


@dataclass
class PatientSeat:
    patient_id: str
    name: str
    email: str
    token_nonce: str
    join_token_hash: str
    cancel_token_hash: str
    consent_given_at: datetime | None = None
    terms_version: str | None = None
    arrived_at: datetime | None = None
    admitted_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancelled_late: bool = False
    removed_at: datetime | None = None

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None

    @property
    def is_removed(self) -> bool:
        return self.removed_at is not None

    @property
    def takes_part(self) -> bool:
        return not self.is_cancelled and not self.is_removed


def check_seat_may_enter(seat: PatientSeat) -> None:
    """The rule for one patient's link of a group appointment."""
    if seat.is_cancelled:
        raise AppointmentWasCancelled(
            "Sie haben Ihre Teilnahme an diesem Termin abgesagt. Bitte wenden Sie "
            "sich an Ihre Praxis, wenn Sie doch teilnehmen möchten."
        )
    if seat.is_removed:
        raise RemovedFromCall(
            "Ihre Behandlerin oder Ihr Behandler hat Sie aus dieser "
            "Gruppensprechstunde entfernt. Sie können ihr nicht wieder beitreten."
        )
