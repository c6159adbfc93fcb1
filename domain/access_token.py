"""Where a patient's link leads.

A link token is never stored; only its SHA-256 hash is. The index records which
appointment a hash belongs to, so a link can be resolved without scanning.
"""

from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.ids import derived_id


class TokenPurpose(StrEnum):
    JOIN = "join"
    CANCEL = "cancel"


class AccessTokenIndex(Aggregate):
    class Issued(Aggregate.Created):
        token_hash: str
        appointment_id: UUID
        purpose: str

    @staticmethod
    def create_id(token_hash: str) -> UUID:
        return derived_id("access-token", token_hash)

    @event(Issued)
    def __init__(self, token_hash: str, appointment_id: UUID, purpose: str) -> None:
        self.appointment_id = appointment_id
        self.purpose = purpose
