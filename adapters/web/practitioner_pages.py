"""Pages for practitioners: setup, login, calendar, scheduling, the room."""

import logging
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from adapters.web.context import WebContext, logged_in_practitioner, web_context
from adapters.web.forms import (
    FormProblem,
    date_field,
    int_field,
    read_form,
    text_field,
    time_field,
)
from adapters.web.security import CSRF_HEADER, csrf_is_valid, csrf_token
from adapters.web.templating import templates
from application.consultations import AppointmentNotFound, ScheduleRequest
from domain.appointment import DEFAULT_DURATION_MINUTES, Appointment
from domain.errors import DomainError
from domain.local_time import PRACTICE_TIMEZONE, in_practice_time, practice_time_to_utc

logger = logging.getLogger(__name__)

DURATION_CHOICES = (5, 10, 15, 20, 25, 30, 45, 50, 60, 90, 120)


def page(
    request: Request, name: str, status_code: int = 200, **values: Any
) -> Response:
    values.setdefault("csrf_token", csrf_token(request))
    values.setdefault("practitioner_id", logged_in_practitioner(request))
    return templates.TemplateResponse(request, name, values, status_code=status_code)


def login_redirect(request: Request) -> RedirectResponse:
    return RedirectResponse("/anmelden", status_code=303)


# First start


async def setup_form(request: Request) -> Response:
    context = web_context(request)
    token = request.path_params["token"]
    if not context.setup_link.is_valid(token, context.now()):
        return page(
            request,
            "message.html",
            404,
            title="Einrichtungslink ungültig",
            message="Dieser Einrichtungslink ist abgelaufen oder wurde schon benutzt. "
            "Starten Sie den Server neu, um einen neuen zu erhalten, oder legen Sie "
            "ein Konto mit „sprechzimmer practitioner add“ an.",
        )
    return page(request, "setup.html", token=token, values={})


async def setup_submit(request: Request) -> Response:
    context = web_context(request)
    token = request.path_params["token"]
    if not context.setup_link.is_valid(token, context.now()):
        return await setup_form(request)
    values: dict[str, str] = {}
    try:
        form = await read_form(request)
        values = {
            key: text_field(form, key, label, 200)
            for key, label in (
                ("practice_name", "Name der Praxis"),
                ("name", "Ihr Name"),
                ("email", "E-Mail-Adresse"),
            )
        }
        password = text_field(form, "password", "Passwort", 256)
        practitioner_id = await context.command(
            context.runtime.consultations.set_up_practice,
            practice_name=values["practice_name"],
            name=values["name"],
            email=values["email"],
            password=password,
            at=context.now(),
        )
    except (FormProblem, DomainError) as problem:
        return page(
            request,
            "setup.html",
            problem_status(problem),
            token=token,
            values=values,
            error=problem_message(problem),
        )
    context.setup_link.use_up()
    logger.info("Practice set up with its first practitioner")
    start_session(request, practitioner_id)
    return RedirectResponse("/", status_code=303)


# Logging in and out


async def login_form(request: Request) -> Response:
    if logged_in_practitioner(request):
        return RedirectResponse("/", status_code=303)
    return page(request, "login.html", email="")


async def login_submit(request: Request) -> Response:
    context = web_context(request)
    email = ""
    try:
        form = await read_form(request)
        email = text_field(form, "email", "E-Mail-Adresse", 254).strip().lower()
        password = text_field(form, "password", "Passwort", 256)
    except FormProblem as problem:
        return page(
            request,
            "login.html",
            problem.status_code,
            email=email,
            error=problem.message,
        )

    client = request.client.host if request.client else "unknown"
    keys = (f"email:{email}", f"client:{client}")
    if context.login_throttle.is_blocked(*keys):
        return page(
            request,
            "login.html",
            429,
            email=email,
            error="Zu viele fehlgeschlagene Versuche. Bitte warten Sie einige "
            "Minuten und versuchen Sie es dann noch einmal.",
        )
    practitioner_id = await context.command(
        context.runtime.consultations.authenticate, email, password
    )
    if practitioner_id is None:
        context.login_throttle.record_failure(*keys)
        return page(
            request,
            "login.html",
            401,
            email=email,
            error="E-Mail-Adresse oder Passwort stimmen nicht.",
        )
    context.login_throttle.clear(*keys)
    start_session(request, practitioner_id)
    return RedirectResponse("/", status_code=303)


def start_session(request: Request, practitioner_id: UUID) -> None:
    request.session.clear()
    request.session["practitioner_id"] = str(practitioner_id)
    csrf_token(request)


async def logout(request: Request) -> Response:
    try:
        await read_form(request)
    except FormProblem:
        return RedirectResponse("/", status_code=303)
    request.session.clear()
    return RedirectResponse("/anmelden", status_code=303)


# Calendar and scheduling


async def calendar(request: Request) -> Response:
    practitioner_id = logged_in_practitioner(request)
    if practitioner_id is None:
        return login_redirect(request)
    return await render_calendar(request, practitioner_id)


async def render_calendar(
    request: Request,
    practitioner_id: UUID,
    *,
    status_code: int = 200,
    error: str | None = None,
    form_values: dict[str, str] | None = None,
) -> Response:
    context = web_context(request)
    now = context.now()
    today = in_practice_time(now).date()
    view = "week" if request.query_params.get("ansicht") == "woche" else "day"
    try:
        shown_day = date.fromisoformat(request.query_params.get("datum", ""))
    except ValueError:
        shown_day = today

    if view == "week":
        first_day = shown_day - timedelta(days=shown_day.weekday())
        days = [first_day + timedelta(days=offset) for offset in range(7)]
        step = timedelta(days=7)
    else:
        days = [shown_day]
        step = timedelta(days=1)
    groups = [
        (day, context.runtime.calendar.between(practitioner_id, *_day_bounds(day)))
        for day in days
    ]
    upcoming_start, _ = _day_bounds(days[-1] + timedelta(days=1))
    upcoming = context.runtime.calendar.between(
        practitioner_id, upcoming_start, upcoming_start + timedelta(days=14)
    )
    practitioner = await context.query(
        context.runtime.consultations.practitioner, practitioner_id
    )
    return page(
        request,
        "calendar.html",
        status_code,
        practitioner=practitioner,
        view=view,
        groups=groups,
        upcoming=upcoming,
        today=today,
        shown_day=shown_day,
        previous_day=(days[0] - step),
        next_day=(days[0] + step),
        waiting=context.runtime.calendar.waiting_for(practitioner_id),
        durations=DURATION_CHOICES,
        error=error,
        form=form_values or _default_form(now),
        notice=request.session.pop("notice", None),
        now=now,
    )


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), PRACTICE_TIMEZONE)
    end = datetime.combine(day + timedelta(days=1), time(0), PRACTICE_TIMEZONE)
    return start, end


def _default_form(now: datetime) -> dict[str, str]:
    local = in_practice_time(now) + timedelta(minutes=20)
    local = local.replace(minute=(local.minute // 15) * 15, second=0, microsecond=0)
    return {
        "day": local.date().isoformat(),
        "clock": f"{local:%H:%M}",
        "duration": str(DEFAULT_DURATION_MINUTES),
        "patient_name": "",
        "patient_email": "",
        "note": "",
    }


async def schedule(request: Request) -> Response:
    practitioner_id = logged_in_practitioner(request)
    if practitioner_id is None:
        return login_redirect(request)
    context = web_context(request)
    values: dict[str, str] = {}
    try:
        form = await read_form(request)
        values = {
            "patient_name": text_field(form, "patient_name", "Name", 200),
            "patient_email": text_field(form, "patient_email", "E-Mail-Adresse", 254),
            "day": text_field(form, "day", "Datum", 10),
            "clock": text_field(form, "clock", "Uhrzeit", 8),
            "duration": text_field(form, "duration", "Dauer", 6),
            "note": text_field(form, "note", "Hinweis", 1000),
        }
        schedule_request = ScheduleRequest(
            patient_name=values["patient_name"],
            patient_email=values["patient_email"],
            day=date_field(form, "day", "Datum"),
            clock=time_field(form, "clock", "Uhrzeit"),
            duration_minutes=int_field(form, "duration", "Dauer"),
            note=values["note"],
        )
        await context.command(
            context.runtime.consultations.schedule_appointment,
            practitioner_id,
            schedule_request,
            context.now(),
        )
    except (FormProblem, DomainError) as problem:
        if isinstance(problem, FormProblem) and problem.status_code == 403:
            return page(
                request,
                "message.html",
                403,
                title="Formular abgelaufen",
                message=problem.message,
            )
        return await render_calendar(
            request,
            practitioner_id,
            status_code=problem_status(problem),
            error=problem_message(problem),
            form_values={**_default_form(context.now()), **values},
        )
    logger.info("Appointment scheduled")
    starts = practice_time_to_utc(schedule_request.day, schedule_request.clock)
    request.session["notice"] = (
        f"Termin am {in_practice_time(starts):%d.%m.%Y um %H:%M} Uhr geplant. "
        "Die Einladung wird jetzt versendet."
    )
    return RedirectResponse(f"/?datum={schedule_request.day.isoformat()}", 303)


# One appointment: details and the video room


async def appointment_page(request: Request) -> Response:
    practitioner_id = logged_in_practitioner(request)
    if practitioner_id is None:
        return login_redirect(request)
    context = web_context(request)
    appointment = await _own_appointment(request, context, practitioner_id)
    entry = context.runtime.calendar.entry(appointment.id)
    mails = context.runtime.mail_queue.for_appointment(appointment.id)
    return page(
        request,
        "appointment.html",
        appointment=appointment,
        entry=entry,
        mails=mails,
        ice_servers=context.runtime.settings.ice_servers,
        now=context.now(),
    )


async def _own_appointment(
    request: Request, context: WebContext, practitioner_id: UUID
) -> Appointment:
    try:
        appointment_id = UUID(request.path_params["appointment_id"])
    except ValueError:
        raise AppointmentNotFound() from None
    return await context.query(
        context.runtime.consultations.practitioners_appointment,
        practitioner_id,
        appointment_id,
    )


async def admit(request: Request) -> Response:
    return await _room_action(request, "admit")


async def end(request: Request) -> Response:
    return await _room_action(request, "end")


async def no_show(request: Request) -> Response:
    return await _room_action(request, "no_show")


async def _room_action(request: Request, action: str) -> Response:
    practitioner_id = logged_in_practitioner(request)
    if practitioner_id is None:
        return JSONResponse({"error": "Bitte melden Sie sich an."}, 401)
    if not csrf_is_valid(request, request.headers.get(CSRF_HEADER)):
        return JSONResponse(
            {"error": "Sitzung abgelaufen. Bitte laden Sie die Seite neu."}, 403
        )
    context = web_context(request)
    consultations = context.runtime.consultations
    try:
        appointment = await _own_appointment(request, context, practitioner_id)
        if action == "admit":
            await context.command(
                consultations.admit_patient,
                practitioner_id,
                appointment.id,
                context.now(),
            )
            await context.rooms.allow_call(appointment.id)
        elif action == "end":
            await context.command(
                consultations.end_appointment,
                practitioner_id,
                appointment.id,
                context.now(),
            )
            await context.rooms.end(appointment.id)
        else:
            await context.command(
                consultations.record_no_show,
                practitioner_id,
                appointment.id,
                context.now(),
            )
            await context.rooms.end(appointment.id)
    except DomainError as error:
        return JSONResponse({"error": error.message}, error.status_code)
    logger.info("Room action %s done", action)
    return JSONResponse({"ok": True})


async def waiting_room(request: Request) -> Response:
    practitioner_id = logged_in_practitioner(request)
    if practitioner_id is None:
        return JSONResponse({"error": "Bitte melden Sie sich an."}, 401)
    return JSONResponse({"waiting": web_context(request).waiting_list(practitioner_id)})


def problem_status(problem: Exception) -> int:
    return int(getattr(problem, "status_code", 422))


def problem_message(problem: Exception) -> str:
    return str(getattr(problem, "message", "Die Eingabe ist ungültig."))


routes = [
    Route("/einrichtung/{token}", setup_form, methods=["GET"]),
    Route("/einrichtung/{token}", setup_submit, methods=["POST"]),
    Route("/anmelden", login_form, methods=["GET"]),
    Route("/anmelden", login_submit, methods=["POST"]),
    Route("/abmelden", logout, methods=["POST"]),
    Route("/", calendar, methods=["GET"]),
    Route("/termine", schedule, methods=["POST"]),
    Route("/termine/{appointment_id}", appointment_page, methods=["GET"]),
    Route("/termine/{appointment_id}/einlassen", admit, methods=["POST"]),
    Route("/termine/{appointment_id}/beenden", end, methods=["POST"]),
    Route("/termine/{appointment_id}/nicht-erschienen", no_show, methods=["POST"]),
    Route("/praxis/wartezimmer", waiting_room, methods=["GET"]),
]
