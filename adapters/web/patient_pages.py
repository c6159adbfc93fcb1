"""Pages for patients, reached by the links in their e-mail, and public pages."""

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from adapters.web.context import web_context
from adapters.web.forms import FormProblem, checkbox, read_form, text_field
from adapters.web.practitioner_pages import page
from application.consultations import UnknownLink
from domain.access_token import TokenPurpose
from domain.appointment import CURRENT_TERMS_VERSION, Appointment
from domain.errors import DomainError, JoinWindowNotOpenYet

logger = logging.getLogger(__name__)


async def _appointment(request: Request, purpose: TokenPurpose) -> Appointment:
    context = web_context(request)
    return await context.query(
        context.runtime.consultations.appointment_by_token,
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
    appointment = await _appointment(request, TokenPurpose.JOIN)
    people = await _practice_and_practitioner(request, appointment)
    try:
        appointment.check_patient_may_enter(context.now())
    except JoinWindowNotOpenYet:
        return page(
            request,
            "join_early.html",
            appointment=appointment,
            now=context.now(),
            opens_at=appointment.join_window.opens_at,
            **people,
        )
    if appointment.consent_given_at is None:
        return page(
            request,
            "join_consent.html",
            appointment=appointment,
            token=token,
            terms_version=CURRENT_TERMS_VERSION,
            **people,
        )
    return page(
        request,
        "join_room.html",
        appointment=appointment,
        token=token,
        ice_servers=context.runtime.settings.ice_servers,
        **people,
    )


async def consent(request: Request) -> Response:
    context = web_context(request)
    token = request.path_params["token"]
    appointment = await _appointment(request, TokenPurpose.JOIN)
    try:
        form = await read_form(request)
        await context.command(
            context.runtime.consultations.give_consent,
            appointment.id,
            terms_version=text_field(form, "terms_version", "Fassung", 20),
            name_confirmed=checkbox(form, "name_confirmed")
            and checkbox(form, "terms_accepted"),
            at=context.now(),
        )
    except (FormProblem, DomainError) as problem:
        people = await _practice_and_practitioner(request, appointment)
        return page(
            request,
            "join_consent.html",
            int(getattr(problem, "status_code", 422)),
            appointment=appointment,
            token=token,
            terms_version=CURRENT_TERMS_VERSION,
            error=problem.message if hasattr(problem, "message") else str(problem),
            **people,
        )
    logger.info("Consent recorded")
    return RedirectResponse(f"/j/{token}", status_code=303)


async def cancellation(request: Request) -> Response:
    appointment = await _appointment(request, TokenPurpose.CANCEL)
    people = await _practice_and_practitioner(request, appointment)
    return page(request, "cancel.html", appointment=appointment, **people)


async def terms(request: Request) -> Response:
    return page(request, "terms.html", terms_version=CURRENT_TERMS_VERSION)


async def privacy(request: Request) -> Response:
    return page(request, "privacy.html")


async def tech_check(request: Request) -> Response:
    return page(request, "tech_check.html")


async def health(request: Request) -> Response:
    context = web_context(request)
    try:
        report = await context.query(context.runtime.health)
    except Exception:
        logger.exception("Event store not reachable")
        return JSONResponse(
            {"status": "unavailable", "event_store": "unreachable"}, 503
        )
    return JSONResponse(report)


routes = [
    Route("/j/{token}", join, methods=["GET"]),
    Route("/j/{token}/einwilligung", consent, methods=["POST"]),
    Route("/c/{token}", cancellation, methods=["GET"]),
    Route("/nutzungsbedingungen", terms, methods=["GET"]),
    Route("/datenschutz", privacy, methods=["GET"]),
    Route("/technikcheck", tech_check, methods=["GET"]),
    Route("/healthz", health, methods=["GET"]),
]

__all__ = ["UnknownLink", "routes"]
