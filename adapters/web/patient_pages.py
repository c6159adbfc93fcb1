"""Pages for patients, reached by the links in their e-mail, and public pages."""

import logging

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from adapters.web.context import web_context
from adapters.web.forms import FormProblem, checkbox, read_form, text_field
from adapters.web.pages import page, problem_message, problem_status
from application.consultations import UnknownLink
from domain.access_token import TokenPurpose
from domain.appointment import CURRENT_TERMS_VERSION, Appointment
from domain.errors import AlreadyCancelled, DomainError, JoinWindowNotOpenYet
from domain.patient_seat import PatientSeat

logger = logging.getLogger(__name__)


async def _appointment(request: Request, purpose: TokenPurpose) -> Appointment:
    return (await _seat(request, purpose))[0]


async def _seat(
    request: Request, purpose: TokenPurpose
) -> tuple[Appointment, PatientSeat]:
    context = web_context(request)
    return await context.query(
        context.runtime.consultations.seat_by_token,
        request.path_params["token"],
        purpose,
    )


async def _practice_and_practitioner(
    request: Request, appointment: Appointment
) -> dict:
    consultations = web_context(request).runtime.consultations
    practice = await web_context(request).query(consultations.practice)
    practitioner = await web_context(request).query(
        consultations.practitioner, appointment.practitioner_id
    )
    return {"practice": practice, "practitioner": practitioner}


async def join(request: Request) -> Response:
    context = web_context(request)
    token = request.path_params["token"]
    pages = context.join_pages
    found = pages.seat(token)
    if found is None:
        # Not in the read model: unknown, or written by another process just
        # now. The event store decides.
        await _appointment(request, TokenPurpose.JOIN)
        await context.query(context.runtime.calendar_follower.pull)
        found = pages.seat(token)
        if found is None:
            raise UnknownLink()
    entry, seat = found
    try:
        entry.check_seat_may_enter(seat.patient_id, context.now())
    except JoinWindowNotOpenYet:
        appointment = await _appointment(request, TokenPurpose.JOIN)
        return page(
            request,
            "join_early.html",
            appointment=appointment,
            now=context.now(),
            opens_at=appointment.join_window.opens_at,
            **await _practice_and_practitioner(request, appointment),
        )
    template = (
        "join_consent.html" if seat.consent_given_at is None else ("join_room.html")
    )
    return HTMLResponse(pages.render(template, token, entry, seat))


async def consent(request: Request) -> Response:
    context = web_context(request)
    token = request.path_params["token"]
    appointment, seat = await _seat(request, TokenPurpose.JOIN)
    try:
        form = await read_form(
            request, link_csrf=context.join_pages.consent_csrf(token)
        )
        await context.command(
            context.runtime.consultations.give_consent,
            appointment.id,
            terms_version=text_field(form, "terms_version", "Fassung", 20),
            name_confirmed=checkbox(form, "name_confirmed"),
            terms_accepted=checkbox(form, "terms_accepted"),
            at=context.now(),
            patient_id=seat.patient_id,
        )
    except (FormProblem, DomainError) as problem:
        people = await _practice_and_practitioner(request, appointment)
        return page(
            request,
            "join_consent.html",
            int(getattr(problem, "status_code", 422)),
            appointment=appointment,
            patient=seat,
            token=token,
            terms_version=CURRENT_TERMS_VERSION,
            csrf_token=context.join_pages.consent_csrf(token),
            error=problem.message if hasattr(problem, "message") else str(problem),
            **people,
        )
    logger.info("Consent recorded")
    return RedirectResponse(f"/j/{token}", status_code=303)


async def cancellation(request: Request) -> Response:
    appointment, seat = await _seat(request, TokenPurpose.CANCEL)
    return await _cancellation_page(request, appointment, seat)


async def _cancellation_page(
    request: Request,
    appointment: Appointment,
    seat: PatientSeat,
    status_code: int = 200,
    error: str | None = None,
) -> Response:
    context = web_context(request)
    people = await _practice_and_practitioner(request, appointment)
    settings = people["practice"].settings
    cancelled_at = seat.cancelled_at or appointment.cancelled_at
    if cancelled_at is None and (
        appointment.is_finished
        or appointment.admitted_at is not None
        or context.now() >= appointment.starts_at
    ):
        return page(
            request,
            "message.html",
            409,
            title="Absage nicht mehr möglich",
            message="Der Termin hat bereits begonnen oder ist vorbei und kann nicht "
            "mehr online abgesagt werden. Bitte wenden Sie sich direkt an Ihre "
            "Praxis.",
        )
    return page(
        request,
        "cancel.html",
        status_code,
        csrf_token=context.join_pages.link_csrf("cancel", request.path_params["token"]),
        appointment=appointment,
        patient=seat,
        cancelled_at=cancelled_at,
        cancelled_by="patient" if seat.cancelled_at else appointment.cancelled_by,
        token=request.path_params["token"],
        settings=settings,
        late=appointment.cancellation_is_late(
            settings.cancellation_deadline_hours, context.now()
        ),
        error=error,
        **people,
    )


async def cancel(request: Request) -> Response:
    context = web_context(request)
    token = request.path_params["token"]
    appointment, seat = await _seat(request, TokenPurpose.CANCEL)
    try:
        form = await read_form(
            request, link_csrf=context.join_pages.link_csrf("cancel", token)
        )
        if not checkbox(form, "confirmed"):
            raise FormProblem("Bitte bestätigen Sie, dass Sie absagen möchten.")
        appointment = await context.command(
            context.runtime.consultations.cancel_by_patient,
            appointment.id,
            context.now(),
            seat.patient_id,
        )
    except AlreadyCancelled:
        return RedirectResponse(f"/c/{token}", status_code=303)
    except (FormProblem, DomainError) as problem:
        return await _cancellation_page(
            request,
            appointment,
            seat,
            problem_status(problem),
            problem_message(problem),
        )
    if appointment.cancelled_at is not None:
        await context.rooms.end(appointment.id)
    else:
        await context.rooms.remove(appointment.id, seat.patient_id)
    logger.info("Appointment cancelled by a patient")
    return RedirectResponse(f"/c/{token}", status_code=303)


async def terms(request: Request) -> Response:
    return page(request, "terms.html", terms_version=CURRENT_TERMS_VERSION)


async def privacy(request: Request) -> Response:
    context = web_context(request)
    practice = await context.query(context.runtime.consultations.practice_settings)
    return page(request, "privacy.html", practice=practice)


async def health(request: Request) -> Response:
    context = web_context(request)
    try:
        report = await context.query(context.runtime.health)
    except Exception as error:
        logger.warning("Event store not reachable: %s", type(error).__name__)
        return JSONResponse(
            {"status": "unavailable", "event_store": "unreachable"}, 503
        )
    return JSONResponse(report)


async def imprint(request: Request) -> Response:
    context = web_context(request)
    practice = await context.query(context.runtime.consultations.practice_settings)
    return page(
        request,
        "imprint.html",
        practice=practice,
        operator_text=context.runtime.settings.imprint_text,
    )


async def readiness(request: Request) -> Response:
    """Whether this process can serve: each dependency with its state."""
    runtime = web_context(request).runtime
    report = await web_context(request).query(runtime.readiness)
    # What this process itself needs to serve; the rest is reported only
    # (with workers, mail and the job queue are theirs, and pages work
    # without them).
    ready = all(report[name] == "ok" for name in runtime.needed_to_serve())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", **report}, 200 if ready else 503
    )


routes = [
    Route("/j/{token}", join, methods=["GET"]),
    Route("/j/{token}/einwilligung", consent, methods=["POST"]),
    Route("/c/{token}", cancellation, methods=["GET"]),
    Route("/c/{token}", cancel, methods=["POST"]),
    Route("/nutzungsbedingungen", terms, methods=["GET"]),
    Route("/datenschutz", privacy, methods=["GET"]),
    Route("/impressum", imprint, methods=["GET"]),
    Route("/healthz", health, methods=["GET"]),
    Route("/readyz", readiness, methods=["GET"]),
]

__all__ = ["UnknownLink", "routes"]
