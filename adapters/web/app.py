"""The Starlette application: routes, middleware, error pages, background work."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import IntegrityError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from adapters.web import (
    account_pages,
    appointment_changes,
    appointment_pages,
    calendar_pages,
    patient_pages,
    settings_pages,
    signaling,
    tech_check,
)
from adapters.web.access_log import AccessLog
from adapters.web.context import WebContext
from adapters.web.pages import page
from adapters.web.security import BodySizeLimit, SecurityHeaders
from application.persistence import is_database_error
from application.runtime import Runtime
from domain.errors import DomainError

if TYPE_CHECKING:
    # Only with workers: the embedded default needs no Redis client in memory.
    from adapters.jobs.queue import JobQueue

logger = logging.getLogger(__name__)

FOLLOW_INTERVAL_SECONDS = 0.5
MAIL_INTERVAL_SECONDS = 5.0
SESSION_LIFETIME_SECONDS = 12 * 3600

HTTP_TITLES = {
    400: "Ungültige Anfrage",
    403: "Kein Zugriff",
    404: "Seite nicht gefunden",
    405: "Nicht erlaubt",
    409: "Nicht möglich",
    410: "Link nicht mehr gültig",
    413: "Zu viele Daten",
    422: "Eingabe prüfen",
    429: "Zu viele Anfragen",
}


def create_app(
    runtime: Runtime,
    announce_setup_link: bool = True,
    send_mail_in_process: bool = True,
    job_queue: "JobQueue | None" = None,
) -> ASGIApp:
    """`send_mail_in_process=False` leaves mail to another process (a test, a
    worker). With a `job_queue` all background work is the workers': this
    process only queues the delivery of mail its requests decided."""
    context = WebContext(runtime)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        context.loop = asyncio.get_running_loop()
        await run_in_threadpool(runtime.start, True)
        # With workers on Redis, they decide the mail; without, this process.
        await run_in_threadpool(runtime.follow_live, not runtime.settings.redis_url)
        await context.start()
        if announce_setup_link and not runtime.consultations.practice_exists():
            token = context.setup_link.issue(context.now())
            # Printed for the operator at the console, on purpose not logged.
            print(
                "\nNoch keine Praxis eingerichtet. Einmaliger Einrichtungslink "
                f"(30 Minuten gültig):\n  {runtime.link('/einrichtung/' + token)}\n",
                flush=True,
            )
        if job_queue is not None:
            tasks = [
                asyncio.create_task(_follow_the_log(context, seal=False)),
                asyncio.create_task(_queue_mail(context, job_queue)),
            ]
        else:
            tasks = [
                asyncio.create_task(_follow_the_log(context, seal=True)),
                asyncio.create_task(_keep_retention(context)),
            ]
            if send_mail_in_process:
                tasks.append(asyncio.create_task(_send_mail(context)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await context.close()
            if job_queue is not None:
                await job_queue.close()

    app = Starlette(
        # Patients' pages first: at the top of the hour they are the hot path,
        # and the router tries routes in order.
        routes=[
            *patient_pages.routes,
            *signaling.routes,
            *account_pages.routes,
            *calendar_pages.routes,
            *appointment_pages.routes,
            *appointment_changes.routes,
            *settings_pages.routes,
            *tech_check.routes,
            Mount(
                "/static",
                StaticFiles(directory=Path(__file__).parent / "static"),
                name="static",
            ),
        ],
        middleware=[
            Middleware(BodySizeLimit),
            Middleware(
                SessionMiddleware,
                secret_key=runtime.settings.secret_key.decode(),
                session_cookie="sprechzimmer_session",
                max_age=SESSION_LIFETIME_SECONDS,
                same_site="lax",
                https_only=runtime.settings.cookie_secure,
            ),
        ],
        exception_handlers=_exception_handlers(runtime.settings.production),
        lifespan=lifespan,
    )
    app.state.context = context
    # Outside Starlette's own error handling, so that even an error page gets
    # the security headers and its line in the access log.
    secured: ASGIApp = SecurityHeaders(app)
    return AccessLog(secured) if runtime.settings.access_log else secured


async def _domain_error_page(request: Request, error: Exception) -> Response:
    assert isinstance(error, DomainError)
    return page(
        request,
        "message.html",
        error.status_code,
        title=HTTP_TITLES.get(error.status_code, "Nicht möglich"),
        message=error.message,
    )


async def _http_error_page(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    messages = {
        404: "Diese Seite gibt es nicht. Bitte prüfen Sie die Adresse.",
        405: "Diese Aktion ist hier nicht möglich.",
    }
    return page(
        request,
        "message.html",
        error.status_code,
        title=HTTP_TITLES.get(error.status_code, "Fehler"),
        message=messages.get(error.status_code, "Die Anfrage war ungültig."),
    )


async def _conflict_page(request: Request, error: Exception) -> Response:
    logger.info("Conflicting writes: %s", type(error).__name__)
    return page(
        request,
        "message.html",
        409,
        title=HTTP_TITLES[409],
        message="Das wurde gerade gleichzeitig an anderer Stelle geändert. Bitte "
        "laden Sie die Seite neu und prüfen Sie den aktuellen Stand.",
    )


async def _database_unavailable_page(request: Request, error: Exception) -> Response:
    if not is_database_error(error):
        return await _unexpected_error_page(request, error)
    logger.warning("Database unavailable: %s: %s", type(error).__name__, error)
    return _database_unavailable(request)


def _database_unavailable(request: Request) -> Response:
    return page(
        request,
        "message.html",
        503,
        title="Kurz nicht erreichbar",
        message="Der Dienst ist gerade für einen Moment nicht erreichbar. Bitte "
        "versuchen Sie es in ein paar Sekunden noch einmal.",
    )


def _exception_handlers(production: bool) -> dict[Any, Any]:
    """Handlers by exception class. Those for the database's errors are only
    registered in production mode (they import psycopg): answered there, an
    outage is one warning line, not a trace per request."""
    handlers: dict[Any, Any] = {
        DomainError: _domain_error_page,
        HTTPException: _http_error_page,
        IntegrityError: _conflict_page,
    }
    if production:
        import psycopg
        from eventsourcing.persistence import PersistenceError
        from psycopg_pool import PoolTimeout

        for error_class in (PersistenceError, psycopg.Error, PoolTimeout):
            handlers[error_class] = _database_unavailable_page
    handlers[Exception] = _unexpected_error_page
    return handlers


async def _unexpected_error_page(request: Request, error: Exception) -> Response:
    if is_database_error(error):
        # Production mode while PostgreSQL restarts: a moment, not a failure.
        logger.warning("Database unavailable: %s: %s", type(error).__name__, error)
        return _database_unavailable(request)
    logger.exception("Unexpected error while answering a request")
    return page(
        request,
        "message.html",
        500,
        title="Ein Fehler ist aufgetreten",
        message="Das hat leider nicht geklappt. Bitte versuchen Sie es in einem "
        "Moment noch einmal.",
    )


def log_round_failure(what: str, error: Exception) -> None:
    """A database that is away for a moment is worth one line, not a trace."""
    if is_database_error(error):
        logger.warning("%s (%s: %s)", what, type(error).__name__, error)
    else:
        logger.exception(what)


async def _follow_the_log(context: WebContext, seal: bool) -> None:
    # Picks up events written by other processes (the command line, a worker).
    while True:
        await asyncio.sleep(FOLLOW_INTERVAL_SECONDS)
        try:
            await run_in_threadpool(context.runtime.calendar_follower.pull)
            await run_in_threadpool(context.runtime.mail_queue_follower.pull)
            if seal:
                await run_in_threadpool(context.runtime.seal_event_logs)
        except Exception as error:
            log_round_failure("Following the event log failed; trying again", error)


async def _keep_retention(context: WebContext) -> None:
    # At start it catches up with whatever fell due while the server was down.
    while True:
        try:
            await run_in_threadpool(context.runtime.shred_due_personal_data)
        except Exception as error:
            log_round_failure("Retention sweep failed; trying again", error)
        await asyncio.sleep(context.runtime.settings.retention_interval_seconds)


async def _send_mail(context: WebContext) -> None:
    while True:
        context.mail_wanted.clear()
        try:
            await run_in_threadpool(context.runtime.send_due_mail)
        except Exception as error:
            log_round_failure("Mail dispatch failed; trying again", error)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(context.mail_wanted.wait(), MAIL_INTERVAL_SECONDS)


async def _queue_mail(context: WebContext, job_queue: "JobQueue") -> None:
    """Queues the delivery of mail right after a request decided it. Without
    Redis the request has long been answered: this logs, and the workers'
    sweep queues the mail once Redis is back."""
    from adapters.jobs.connection import JobQueueUnavailable

    while True:
        await context.mail_wanted.wait()
        context.mail_wanted.clear()
        try:
            due = await run_in_threadpool(context.runtime.due_mail)
            await job_queue.deliver_due_mail(due)
        except JobQueueUnavailable:
            pass  # The queue logs when Redis goes away and when it is back.
        except Exception:
            logger.exception("Queueing mail for the workers failed")
