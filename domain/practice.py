"""The practice and the practitioners who log in to it."""

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.contact import clean_email, clean_name
from domain.errors import InvalidAccountDetails
from domain.ids import derived_id

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256


class Practice(Aggregate):
    """One installation serves one practice; its identity is fixed."""

    class Founded(Aggregate.Created):
        name: str
        at: datetime

    @staticmethod
    def create_id() -> UUID:
        return derived_id("practice", "the-practice")

    @classmethod
    def found(cls, name: str, at: datetime) -> "Practice":
        return cls(name=clean_name(name, InvalidAccountDetails, "den Namen der Praxis"), at=at)

    @event(Founded)
    def __init__(self, name: str, at: datetime) -> None:
        self.name = name
        self.founded_at = at


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidAccountDetails(
            f"Das Passwort muss mindestens {MIN_PASSWORD_LENGTH} Zeichen haben."
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidAccountDetails(
            f"Das Passwort darf höchstens {MAX_PASSWORD_LENGTH} Zeichen haben."
        )


class Practitioner(Aggregate):
    """A practitioner's identity follows from the e-mail address they log in
    with, so logging in needs no index."""

    class Registered(Aggregate.Created):
        practice_id: UUID
        name: str
        email: str
        password_hash: str
        at: datetime

    class PasswordRehashed(Aggregate.Event):
        password_hash: str

    @staticmethod
    def create_id(email: str) -> UUID:
        return derived_id("practitioner", email.strip().lower())

    @classmethod
    def register(
        cls,
        *,
        practice_id: UUID,
        name: str,
        email: str,
        password_hash: str,
        at: datetime,
    ) -> "Practitioner":
        return cls(
            practice_id=practice_id,
            name=clean_name(name, InvalidAccountDetails, "Ihren Namen"),
            email=clean_email(email, InvalidAccountDetails).lower(),
            password_hash=password_hash,
            at=at,
        )

    @event(Registered)
    def __init__(
        self, practice_id: UUID, name: str, email: str, password_hash: str, at: datetime
    ) -> None:
        self.practice_id = practice_id
        self.name = name
        self.email = email
        self.password_hash = password_hash
        self.registered_at = at

    @event(PasswordRehashed)
    def rehash_password(self, password_hash: str) -> None:
        self.password_hash = password_hash
