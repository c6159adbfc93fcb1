"""The practice's settings: name and address for mails, where notifications go,
the cancellation deadline and fee note, and when reminders go out."""

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from adapters.web.context import logged_in_practitioner, web_context
from adapters.web.forms import FormProblem, echo, int_field, read_form, text_field
from adapters.web.pages import login_redirect, page, problem_message, problem_status
from domain.errors import DomainError
from domain.practice import PracticeSettings

logger = logging.getLogger(__name__)

REMINDER_CHOICES = (
    (0, "keine Erinnerung"),
    (1, "1 Stunde vorher"),
    (2, "2 Stunden vorher"),
    (24, "24 Stunden vorher"),
    (48, "2 Tage vorher"),
)


def _render(
    request: Request, values: dict[str, Any], status_code: int = 200, error: str = ""
) -> Response:
    choices = list(REMINDER_CHOICES)
    raw = str(values.get("reminder_lead_hours") or "0")
    current = int(raw) if raw.isascii() and raw.isdigit() else 0
    if current not in dict(choices):
        choices.append((current, f"{current} Stunden vorher"))
    return page(
        request,
        "settings.html",
        status_code,
        values=values,
        reminder_choices=choices,
        error=error or None,
        notice=request.session.pop("notice", None),
    )


async def settings_form(request: Request) -> Response:
    if logged_in_practitioner(request) is None:
        return login_redirect(request)
    context = web_context(request)
    practice = await context.query(context.runtime.consultations.practice)
    return _render(request, vars(practice.settings))


async def settings_submit(request: Request) -> Response:
    practitioner_id = logged_in_practitioner(request)
    if practitioner_id is None:
        return login_redirect(request)
    context = web_context(request)
    values: dict[str, Any] = {}
    try:
        form = await read_form(request)
        values = echo(
            form,
            "name",
            "address",
            "notification_email",
            "fee_note",
            "cancellation_deadline_hours",
            "reminder_lead_hours",
        )
        settings = PracticeSettings(
            name=text_field(form, "name", "Name der Praxis", 200),
            address=text_field(form, "address", "Anschrift", 300),
            notification_email=text_field(
                form, "notification_email", "E-Mail-Adresse", 254
            ),
            cancellation_deadline_hours=int_field(
                form, "cancellation_deadline_hours", "Absagefrist"
            ),
            fee_note=text_field(form, "fee_note", "Hinweis zur Ausfallgebühr", 500),
            reminder_lead_hours=int_field(form, "reminder_lead_hours", "Erinnerung"),
        )
        await context.command(
            context.runtime.consultations.change_practice_settings,
            practitioner_id,
            settings,
            context.now(),
        )
    except (FormProblem, DomainError) as problem:
        return _render(
            request, values, problem_status(problem), problem_message(problem)
        )
    logger.info("Practice settings changed")
    request.session["notice"] = "Die Einstellungen sind gespeichert."
    return RedirectResponse("/praxis/einstellungen", status_code=303)


routes = [
    Route("/praxis/einstellungen", settings_form, methods=["GET"]),
    Route("/praxis/einstellungen", settings_submit, methods=["POST"]),
]
