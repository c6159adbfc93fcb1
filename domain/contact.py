"""Checks for the names and addresses people type into forms."""

import re
import unicodedata

from domain.errors import DomainError

MAX_NAME_LENGTH = 120
MAX_EMAIL_LENGTH = 254
# An addr-spec as mail servers accept it without SMTPUTF8: a dot-atom local
# part and a domain of letters, digits and hyphens (internationalised domains
# are converted to their ASCII form first).
_LOCAL_PART = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
)
_DOMAIN = re.compile(r"([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
# Format and bidi characters (category Cf) hide or reorder text.
_INVISIBLE = {"Cf", "Cc", "Cs", "Co", "Cn"}


def clean_name(raw: str, error: type[DomainError], what: str = "den Namen") -> str:
    """`what` names the field as a German sentence needs it: "den Namen der
    Praxis", "Ihren Namen"."""
    name = " ".join(raw.split())
    if not name or all(unicodedata.category(ch) in _INVISIBLE for ch in name):
        raise error(f"Bitte geben Sie {what} an.")
    if len(name) > MAX_NAME_LENGTH:
        raise error(f"Ein Name darf höchstens {MAX_NAME_LENGTH} Zeichen haben.")
    if any(unicodedata.category(ch) in _INVISIBLE for ch in name):
        raise error("Der Name enthält unzulässige Steuer- oder Formatzeichen.")
    return name


def clean_text(raw: str, error: type[DomainError], limit: int, what: str) -> str:
    """Free text (notes, messages, addresses): line breaks and tabs are fine,
    control and bidi characters are not."""
    text = raw.replace("\r\n", "\n").strip()
    if len(text) > limit:
        raise error(f"{what} darf höchstens {limit} Zeichen haben.")
    if any(unicodedata.category(ch) in _INVISIBLE and ch not in "\n\t" for ch in text):
        raise error(f"{what} enthält unzulässige Steuer- oder Formatzeichen.")
    return text


def clean_email(raw: str, error: type[DomainError]) -> str:
    local, _, domain = raw.strip().rpartition("@")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        domain = ""
    email = f"{local}@{domain}"
    if (
        len(email) > MAX_EMAIL_LENGTH
        or len(local) > 64
        or not _LOCAL_PART.fullmatch(local)
        or not _DOMAIN.fullmatch(domain)
    ):
        raise error(
            "Bitte geben Sie eine gültige E-Mail-Adresse an, "
            "zum Beispiel name@beispiel.de (ohne Umlaute vor dem @)."
        )
    return email
