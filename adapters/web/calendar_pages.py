"""The practitioner's calendar: day and week, the waiting room, scheduling."""

import logging
from datetime import date, datetime, time, timedelta
from uuid import UUID

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from adapters.web.context import logged_in_practitioner, web_context
from adapters.web.forms import (
    EARLIEST_YEAR,
    LATEST_YEAR,
    FormProblem,
    date_field,
    echo,
    int_field,
    read_form,
    text_field,
    time_field,
)
from adapters.web.pages import login_redirect, page, problem_message, problem_status
from application.consultations import PatientContact, ScheduleRequest
from domain.appointment import DEFAULT_DURATION_MINUTES, DURATION_CHOICES
from domain.errors import DomainError
from domain.local_time import PRACTICE_TIMEZONE, in_practice_time, practice_time_to_utc
from domain.patient_seat import MAX_PATIENTS

logger = logging.getLogger(__name__)

# The form's fields for the further patients of a group appointment.
FURTHER_NUMBERS = range(2, MAX_PATIENTS + 1)
FURTHER_FIELDS = tuple(
    name
    for number in FURTHER_NUMBERS
    for name in (f"patient_name_{number}", f"patient_email_{number}")
)


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
    if not EARLIEST_YEAR <= shown_day.year <= LATEST_YEAR:
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
        further_numbers=FURTHER_NUMBERS,
        error=error,
        form=form_values or _default_form(now),
        notice=request.session.pop("notice", None),
        mails_for=context.runtime.mail_queue.for_appointment,
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
        **dict.fromkeys(FURTHER_FIELDS, ""),
    }


async def schedule(request: Request) -> Response:
    practitioner_id = logged_in_practitioner(request)
    if practitioner_id is None:
        return login_redirect(request)
    context = web_context(request)
    values: dict[str, str] = {}
    try:
        form = await read_form(request)
        values = echo(
            form,
            "patient_name",
            "patient_email",
            "day",
            "clock",
            "duration",
            "note",
            *FURTHER_FIELDS,
        )
        schedule_request = ScheduleRequest(
            patient_name=text_field(form, "patient_name", "Name", 200),
            patient_email=text_field(form, "patient_email", "E-Mail-Adresse", 254),
            day=date_field(form, "day", "Datum"),
            clock=time_field(form, "clock", "Uhrzeit"),
            duration_minutes=int_field(form, "duration", "Dauer"),
            note=text_field(form, "note", "Hinweis", 1000),
            further_patients=_further_patients(form),
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
    invited = 1 + len(schedule_request.further_patients)
    request.session["notice"] = (
        f"Termin am {in_practice_time(starts):%d.%m.%Y um %H:%M} Uhr geplant. "
        + (
            f"Die {invited} Einladungen werden jetzt versendet."
            if invited > 1
            else "Die Einladung wird jetzt versendet."
        )
    )
    return RedirectResponse(f"/?datum={schedule_request.day.isoformat()}", 303)


def _further_patients(form: FormData) -> tuple[PatientContact, ...]:
    """The rows the practitioner filled in; empty rows do not count."""
    contacts = []
    for number in FURTHER_NUMBERS:
        name = text_field(form, f"patient_name_{number}", f"Name {number}", 200)
        email = text_field(
            form, f"patient_email_{number}", f"E-Mail-Adresse {number}", 254
        )
        if name.strip() or email.strip():
            contacts.append(PatientContact(name=name, email=email))
    return tuple(contacts)


routes = [
    Route("/", calendar, methods=["GET"]),
    Route("/termine", schedule, methods=["POST"]),
]
