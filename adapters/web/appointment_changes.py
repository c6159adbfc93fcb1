"""The practitioner changes an appointment: cancel, move, invite again."""

import logging
from collections.abc import Awaitable, Callable
from uuid import UUID

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from adapters.web.appointment_pages import own_appointment, render_appointment
from adapters.web.context import WebContext, logged_in_practitioner, web_context
from adapters.web.forms import (
    FormProblem,
    checkbox,
    date_field,
    int_field,
    read_form,
    text_field,
    time_field,
)
from adapters.web.pages import login_redirect, page, problem_message, problem_status
from domain.appointment import Appointment
from domain.errors import DomainError

logger = logging.getLogger(__name__)

Change = Callable[[WebContext, UUID, Appointment, FormData], Awaitable[str]]


async def _change(request: Request, change: Change) -> Response:
    practitioner_id = logged_in_practitioner(request)
    if practitioner_id is None:
        return login_redirect(request)
    context = web_context(request)
    appointment = await own_appointment(request, context, practitioner_id)
    try:
        form = await read_form(request)
        notice = await change(context, practitioner_id, appointment, form)
    except (FormProblem, DomainError) as problem:
        if isinstance(problem, FormProblem) and problem.status_code == 403:
            return page(
                request,
                "message.html",
                403,
                title="Formular abgelaufen",
                message=problem.message,
            )
        fresh = await context.query(
            context.runtime.consultations.appointment, appointment.id
        )
        return await render_appointment(
            request, fresh, problem_status(problem), problem_message(problem)
        )
    request.session["notice"] = notice
    return RedirectResponse(f"/termine/{appointment.id}", status_code=303)


async def _cancel(
    context: WebContext, practitioner_id: UUID, appointment: Appointment, form: FormData
) -> str:
    if not checkbox(form, "confirmed"):
        raise FormProblem("Bitte bestätigen Sie die Absage.")
    await context.command(
        context.runtime.consultations.cancel_by_practice,
        practitioner_id,
        appointment.id,
        text_field(form, "message", "Nachricht", 1000),
        context.now(),
    )
    await context.rooms.end(appointment.id)
    logger.info("Appointment cancelled by the practice")
    return (
        "Der Termin ist abgesagt. Die Patientin / der Patient wird per E-Mail "
        "informiert."
    )


async def _reschedule(
    context: WebContext, practitioner_id: UUID, appointment: Appointment, form: FormData
) -> str:
    await context.command(
        context.runtime.consultations.reschedule,
        practitioner_id,
        appointment.id,
        date_field(form, "day", "Datum"),
        time_field(form, "clock", "Uhrzeit"),
        int_field(form, "duration", "Dauer"),
        context.now(),
    )
    logger.info("Appointment rescheduled")
    return "Der Termin ist verschoben. Eine geänderte Einladung wird versendet."


async def _resend(
    context: WebContext, practitioner_id: UUID, appointment: Appointment, form: FormData
) -> str:
    await context.command(
        context.runtime.consultations.resend_invitation,
        practitioner_id,
        appointment.id,
        context.now(),
    )
    return "Die Einladung wird erneut versendet."


async def cancel(request: Request) -> Response:
    return await _change(request, _cancel)


async def reschedule(request: Request) -> Response:
    return await _change(request, _reschedule)


async def resend(request: Request) -> Response:
    return await _change(request, _resend)


routes = [
    Route("/termine/{appointment_id}/absagen", cancel, methods=["POST"]),
    Route("/termine/{appointment_id}/verschieben", reschedule, methods=["POST"]),
    Route("/termine/{appointment_id}/einladung", resend, methods=["POST"]),
]
