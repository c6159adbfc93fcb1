"""The practice and the practitioners who log in to it."""

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.contact import clean_email, clean_name, clean_text
from domain.errors import InvalidAccountDetails, InvalidPracticeSettings
from domain.ids import derived_id
from domain.personal_data import HasPersonalData

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256


class Practice(Aggregate):
    """One installation serves one practice; its identity is fixed."""

    class Founded(Aggregate.Created):
        name: str
        at: datetime

    class SettingsChanged(Aggregate.Event):
        name: str
        address: str
        notification_email: str
        cancellation_deadline_hours: int
        fee_note: str
        reminder_lead_hours: int
        at: datetime

    @staticmethod
    def create_id() -> UUID:
        return derived_id("practice", "the-practice")

    @classmethod
    def found(cls, name: str, at: datetime) -> "Practice":
        return cls(
            name=clean_name(name, InvalidAccountDetails, "den Namen der Praxis"), at=at
        )

    @event(Founded)
    def __init__(self, name: str, at: datetime) -> None:
        self.name = name
        self.founded_at = at
        self.address = ""
        self.notification_email = ""
        self.cancellation_deadline_hours = 0
        self.fee_note = ""
        self.reminder_lead_hours = 0

    def change_settings(self, settings: "PracticeSettings", at: datetime) -> None:
        checked = settings.checked()
        self._settings_changed(
            name=checked.name,
            address=checked.address,
            notification_email=checked.notification_email,
            cancellation_deadline_hours=checked.cancellation_deadline_hours,
            fee_note=checked.fee_note,
            reminder_lead_hours=checked.reminder_lead_hours,
            at=at,
        )

    @event(SettingsChanged)
    def _settings_changed(
        self,
        name: str,
        address: str,
        notification_email: str,
        cancellation_deadline_hours: int,
        fee_note: str,
        reminder_lead_hours: int,
        at: datetime,
    ) -> None:
        self.name = name
        self.address = address
        self.notification_email = notification_email
        self.cancellation_deadline_hours = cancellation_deadline_hours
        self.fee_note = fee_note
        self.reminder_lead_hours = reminder_lead_hours

    @property
    def settings(self) -> "PracticeSettings":
        return PracticeSettings(
            name=self.name,
            address=self.address,
            notification_email=self.notification_email,
            cancellation_deadline_hours=self.cancellation_deadline_hours,
            fee_note=self.fee_note,
            reminder_lead_hours=self.reminder_lead_hours,
        )


MAX_ADDRESS_LENGTH = 300
MAX_FEE_NOTE_LENGTH = 500
MAX_DEADLINE_HOURS = 14 * 24
MAX_REMINDER_LEAD_HOURS = 7 * 24


@dataclass(frozen=True)
class PracticeSettings:
    """What a practice decides for all its appointments. A reminder lead time of
    0 hours means no reminders; a deadline of 0 hours means cancelling is free
    of any fee until the start."""

    name: str
    address: str = ""
    notification_email: str = ""
    cancellation_deadline_hours: int = 0
    fee_note: str = ""
    reminder_lead_hours: int = 0

    def checked(self) -> "PracticeSettings":
        address = clean_text(
            self.address, InvalidPracticeSettings, MAX_ADDRESS_LENGTH, "Die Adresse"
        )
        fee_note = clean_text(
            self.fee_note,
            InvalidPracticeSettings,
            MAX_FEE_NOTE_LENGTH,
            "Der Hinweis zur Ausfallgebühr",
        )
        if not 0 <= self.cancellation_deadline_hours <= MAX_DEADLINE_HOURS:
            raise InvalidPracticeSettings(
                "Die Absagefrist muss zwischen 0 und "
                f"{MAX_DEADLINE_HOURS} Stunden liegen."
            )
        if not 0 <= self.reminder_lead_hours <= MAX_REMINDER_LEAD_HOURS:
            raise InvalidPracticeSettings(
                "Die Erinnerung muss zwischen 0 (aus) und "
                f"{MAX_REMINDER_LEAD_HOURS} Stunden vor dem Termin liegen."
            )
        email = self.notification_email.strip()
        return replace(
            self,
            name=clean_name(self.name, InvalidPracticeSettings, "den Namen der Praxis"),
            address=address,
            notification_email=clean_email(email, InvalidPracticeSettings)
            if email
            else "",
            fee_note=fee_note,
        )


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

    class Registered(Aggregate.Created, HasPersonalData):
        personal_fields = ("name", "email")

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
