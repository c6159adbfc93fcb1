"""Checks for the names and addresses people type into forms."""

import re

from domain.errors import DomainError

MAX_NAME_LENGTH = 120
MAX_EMAIL_LENGTH = 254
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]{2,}$")


def clean_name(raw: str, error: type[DomainError], what: str = "den Namen") -> str:
    """`what` names the field as a German sentence needs it: "den Namen der
    Praxis", "Ihren Namen"."""
    name = " ".join(raw.split())
    if not name:
        raise error(f"Bitte geben Sie {what} an.")
    if len(name) > MAX_NAME_LENGTH:
        raise error(f"Ein Name darf höchstens {MAX_NAME_LENGTH} Zeichen haben.")
    if any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in name):
        raise error("Der Name enthält unzulässige Steuerzeichen.")
    return name


def clean_email(raw: str, error: type[DomainError]) -> str:
    email = raw.strip()
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email):
        raise error(
            "Bitte geben Sie eine gültige E-Mail-Adresse an, "
            "zum Beispiel name@beispiel.de."
        )
    return email
