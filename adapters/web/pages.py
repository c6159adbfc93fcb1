"""Rendering a page, and turning problems into what a person reads."""

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from adapters.web.context import logged_in_practitioner
from adapters.web.security import csrf_token
from adapters.web.templating import templates


def page(
    request: Request, name: str, status_code: int = 200, **values: Any
) -> Response:
    values.setdefault("csrf_token", csrf_token(request))
    values.setdefault("practitioner_id", logged_in_practitioner(request))
    return templates.TemplateResponse(request, name, values, status_code=status_code)


def login_redirect(request: Request) -> RedirectResponse:
    """To the login, remembering the page asked for (a GET of our own)."""
    if request.method == "GET":
        request.session["after_login"] = request.url.path
    return RedirectResponse("/anmelden", status_code=303)


def page_after_login(request: Request) -> str:
    wanted = request.session.pop("after_login", "/")
    if not isinstance(wanted, str) or not wanted.startswith("/") or "//" in wanted:
        return "/"
    return wanted


def problem_status(problem: Exception) -> int:
    return int(getattr(problem, "status_code", 422))


def problem_message(problem: Exception) -> str:
    return str(getattr(problem, "message", "Die Eingabe ist ungültig."))
