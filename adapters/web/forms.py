"""Reading submitted forms within limits, with clear messages."""

import hmac
import re
from datetime import date, time

from starlette.datastructures import FormData
from starlette.requests import Request

from adapters.web.security import (
    CSRF_FIELD,
    MAX_BODY_BYTES,
    BodyTooLarge,
    csrf_is_valid,
)

MAX_FIELDS = 40
# Each field has its own, smaller limit checked with a clear message; this one
# only stops a single part from exceeding the whole body's limit.
MAX_PART_BYTES = MAX_BODY_BYTES
EARLIEST_YEAR = 2000
LATEST_YEAR = 2100
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,6}")


class FormProblem(Exception):
    """The form cannot be processed; the message tells the person why."""

    def __init__(self, message: str, status_code: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


async def read_form(request: Request, link_csrf: str | None = None) -> FormData:
    """Reads a submitted form and checks its CSRF token: the session's, or for
    a form behind a link token, the one bound to that token (`link_csrf`)."""
    try:
        form = await request.form(
            max_files=0, max_fields=MAX_FIELDS, max_part_size=MAX_PART_BYTES
        )
    except BodyTooLarge:
        raise
    except Exception:
        raise FormProblem(
            "Das Formular konnte nicht gelesen werden. Bitte laden Sie die Seite "
            "neu und versuchen Sie es noch einmal.",
            400,
        ) from None
    submitted = form.get(CSRF_FIELD)
    submitted_text = submitted if isinstance(submitted, str) else ""
    valid = csrf_is_valid(request, submitted_text or None) or (
        link_csrf is not None
        and hmac.compare_digest(link_csrf.encode(), submitted_text.encode())
    )
    if not valid:
        raise FormProblem(
            "Das Formular ist abgelaufen. Bitte laden Sie die Seite neu und "
            "versuchen Sie es noch einmal.",
            403,
        )
    return form


def text_field(form: FormData, name: str, label: str, max_length: int = 1000) -> str:
    value = form.get(name, "")
    if not isinstance(value, str):
        raise FormProblem(f"Das Feld „{label}“ ist ungültig.")
    if len(value) > max_length:
        raise FormProblem(f"Das Feld „{label}“ ist zu lang (höchstens {max_length}).")
    return value


def date_field(form: FormData, name: str, label: str) -> date:
    raw = text_field(form, name, label, 10)
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise FormProblem(f"Bitte geben Sie ein gültiges Datum an ({label}).") from None
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        raise FormProblem(
            f"Bitte geben Sie ein gültiges Datum zwischen {EARLIEST_YEAR} und "
            f"{LATEST_YEAR} an ({label})."
        )
    return day


def time_field(form: FormData, name: str, label: str) -> time:
    raw = text_field(form, name, label, 8)
    try:
        parsed = time.fromisoformat(raw)
    except ValueError:
        raise FormProblem(
            f"Bitte geben Sie eine gültige Uhrzeit an ({label})."
        ) from None
    if parsed.tzinfo is not None:
        raise FormProblem(f"Bitte geben Sie die Uhrzeit ohne Zeitzone an ({label}).")
    return parsed.replace(second=0, microsecond=0)


def int_field(form: FormData, name: str, label: str) -> int:
    raw = text_field(form, name, label, 8).strip()
    if not _WHOLE_NUMBER.fullmatch(raw):
        raise FormProblem(f"Bitte geben Sie eine ganze Zahl an ({label}).")
    return int(raw)


def echo(form: FormData, *names: str, limit: int = 1000) -> dict[str, str]:
    """What was typed, to show it again next to an error message."""
    shown: dict[str, str] = {}
    for name in names:
        value = form.get(name, "")
        shown[name] = value[:limit] if isinstance(value, str) else ""
    return shown


def checkbox(form: FormData, name: str) -> bool:
    return form.get(name) in ("on", "1", "true", "yes")
