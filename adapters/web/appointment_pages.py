"""One appointment for its practitioner: details, the video room, decisions."""

import logging
from uuid import UUID

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.web.context import WebContext, logged_in_practitioner, web_context
from adapters.web.pages import login_redirect, page
from adapters.web.security import CSRF_HEADER, csrf_is_valid
from application.consultations import AppointmentNotFound
from domain.appointment import DURATION_CHOICES, Appointment
from domain.errors import DomainError, PatientNotWaiting
from domain.local_time import in_practice_time
from domain.patient_seat import FIRST_PATIENT

logger = logging.getLogger(__name__)


async def appointment_page(request: Request) -> Response:
    practitioner_id = logged_in_practitioner(request)
    if practitioner_id is None:
        return login_redirect(request)
    context = web_context(request)
    appointment = await own_appointment(request, context, practitioner_id)
    return await render_appointment(request, appointment)


async def render_appointment(
    request: Request,
    appointment: Appointment,
    status_code: int = 200,
    error: str | None = None,
) -> Response:
    context = web_context(request)
    local_start = in_practice_time(appointment.starts_at)
    session = await context.query(
        context.runtime.consultations.video_session, appointment.id
    )
    return page(
        request,
        "appointment.html",
        status_code,
        appointment=appointment,
        session=session,
        mails=context.runtime.mail_queue.for_appointment(appointment.id),
        ice_servers=context.runtime.settings.ice_servers,
        now=context.now(),
        error=error,
        notice=request.session.pop("notice", None),
        reschedule_day=local_start.date().isoformat(),
        reschedule_clock=f"{local_start:%H:%M}",
        durations=DURATION_CHOICES,
        patient_names={
            seat.patient_id: seat.name for seat in appointment.patients.values()
        },
    )


async def own_appointment(
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


async def remove(request: Request) -> Response:
    return await _room_action(request, "remove")


async def end(request: Request) -> Response:
    return await _room_action(request, "end")


async def no_show(request: Request) -> Response:
    return await _room_action(request, "no_show")


async def _chosen_patients(request: Request, appointment: Appointment) -> list[str]:
    """Whom to admit: for a group, the ids the request names, or everyone
    waiting when it names none; for a 1:1 appointment, its patient."""
    if not appointment.is_group:
        return [FIRST_PATIENT]
    body = await request.body()
    try:
        chosen = orjson.loads(body).get("patients") if body else None
    except (orjson.JSONDecodeError, AttributeError):
        raise BadRoomRequest("Die Auswahl ist ungültig.") from None
    if chosen is None:
        return []
    if not isinstance(chosen, list) or not all(
        isinstance(patient_id, str) and patient_id in appointment.patients
        for patient_id in chosen
    ):
        raise BadRoomRequest("Die Auswahl nennt Personen, die es nicht gibt.")
    return list(dict.fromkeys(chosen))


class BadRoomRequest(DomainError):
    status_code = 400


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
        appointment = await own_appointment(request, context, practitioner_id)
        if action == "admit":
            chosen = await _chosen_patients(request, appointment)
            if not chosen:
                chosen = list(
                    await context.query(consultations.waiting_patients, appointment)
                )
            if not chosen:
                raise PatientNotWaiting("Gerade wartet niemand im Wartezimmer.")
            admitted = await context.command(
                consultations.admit_patient,
                practitioner_id,
                appointment.id,
                context.now(),
                tuple(chosen),
            )
            await context.rooms.allow_call(appointment.id, tuple(admitted))
        elif action == "remove":
            patient_id = request.path_params["patient_id"]
            await context.command(
                consultations.remove_patient,
                practitioner_id,
                appointment.id,
                patient_id,
                context.now(),
            )
            await context.rooms.remove(appointment.id, patient_id)
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


routes = [
    Route("/termine/{appointment_id}", appointment_page, methods=["GET"]),
    Route("/termine/{appointment_id}/einlassen", admit, methods=["POST"]),
    Route("/termine/{appointment_id}/entfernen/{patient_id}", remove, methods=["POST"]),
    Route("/termine/{appointment_id}/beenden", end, methods=["POST"]),
    Route("/termine/{appointment_id}/nicht-erschienen", no_show, methods=["POST"]),
    Route("/praxis/wartezimmer", waiting_room, methods=["GET"]),
]
