"""Reading submitted forms within limits, with clear messages."""

from datetime import date, time

from starlette.datastructures import FormData
from starlette.requests import Request

from adapters.web.security import CSRF_FIELD, csrf_is_valid

MAX_FIELDS = 20
MAX_FIELD_BYTES = 4096


class FormProblem(Exception):
    """The form cannot be processed; the message tells the person why."""

    def __init__(self, message: str, status_code: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


async def read_form(request: Request) -> FormData:
    try:
        form = await request.form(
            max_files=0, max_fields=MAX_FIELDS, max_part_size=MAX_FIELD_BYTES
        )
    except Exception:
        raise FormProblem(
            "Das Formular konnte nicht gelesen werden. Bitte laden Sie die Seite "
            "neu und versuchen Sie es noch einmal.",
            400,
        ) from None
    submitted = form.get(CSRF_FIELD)
    if not csrf_is_valid(request, submitted if isinstance(submitted, str) else None):
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
        return date.fromisoformat(raw)
    except ValueError:
        raise FormProblem(f"Bitte geben Sie ein gültiges Datum an ({label}).") from None


def time_field(form: FormData, name: str, label: str) -> time:
    raw = text_field(form, name, label, 8)
    try:
        parsed = time.fromisoformat(raw)
    except ValueError:
        raise FormProblem(
            f"Bitte geben Sie eine gültige Uhrzeit an ({label})."
        ) from None
    return parsed.replace(second=0, microsecond=0)


def int_field(form: FormData, name: str, label: str) -> int:
    raw = text_field(form, name, label, 6).strip()
    if not raw.removeprefix("-").isdigit():
        raise FormProblem(f"Bitte geben Sie eine ganze Zahl an ({label}).")
    return int(raw)


def checkbox(form: FormData, name: str) -> bool:
    return form.get(name) in ("on", "1", "true", "yes")
