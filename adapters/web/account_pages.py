"""First start, logging in and out."""

import logging
from uuid import UUID

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from adapters.web.context import logged_in_practitioner, web_context
from adapters.web.forms import (
    FormProblem,
    read_form,
    text_field,
)
from adapters.web.pages import page, page_after_login, problem_message, problem_status
from adapters.web.security import csrf_token
from domain.errors import DomainError

logger = logging.getLogger(__name__)


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
    if context.login_throttle.exceeded(*keys):
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
        context.login_throttle.record(*keys)
        return page(
            request,
            "login.html",
            401,
            email=email,
            error="E-Mail-Adresse oder Passwort ist falsch.",
        )
    # Only the address is cleared: a colleague's success on the same network
    # must not reset the count of guesses made from there.
    context.login_throttle.clear(f"email:{email}")
    wanted = page_after_login(request)
    start_session(request, practitioner_id)
    return RedirectResponse(wanted, status_code=303)


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


routes = [
    Route("/einrichtung/{token}", setup_form, methods=["GET"]),
    Route("/einrichtung/{token}", setup_submit, methods=["POST"]),
    Route("/anmelden", login_form, methods=["GET"]),
    Route("/anmelden", login_submit, methods=["POST"]),
    Route("/abmelden", logout, methods=["POST"]),
]
