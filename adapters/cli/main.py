"""The `sprechzimmer` command: serve the web application, run a worker, manage
accounts."""

import argparse
import getpass
import logging
import os
import socket
import sys
from datetime import UTC, datetime

from adapters.cli.audit import add_commands as add_audit_commands
from adapters.web.access_log import TokenRedaction
from application.config import ConfigurationError, load_settings
from application.runtime import Runtime
from domain.errors import DomainError

logger = logging.getLogger("sprechzimmer")

WS_MAX_MESSAGE_BYTES = 64 * 1024


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    arguments = parser.parse_args(argv)
    # Data and logs are for this service's own user only.
    os.umask(0o077)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(TokenRedaction())
    try:
        return int(arguments.handler(arguments))
    except ConfigurationError as error:
        print(f"Konfigurationsfehler: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sprechzimmer", description="Videosprechstunde für Praxen."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the web application")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(handler=_serve)

    worker = commands.add_parser(
        "worker",
        help="send mail and run the scheduled sweeps as jobs from Redis "
        "(needs SPRECHZIMMER_REDIS_URL)",
    )
    worker.set_defaults(handler=_work)

    practitioner = commands.add_parser("practitioner", help="manage accounts")
    practitioner_commands = practitioner.add_subparsers(required=True, metavar="ACTION")
    add = practitioner_commands.add_parser(
        "add", help="add a practitioner (and set up the practice if needed)"
    )
    add.add_argument("--name", required=True, help="the practitioner's full name")
    add.add_argument("--email", required=True, help="the login e-mail address")
    add.add_argument(
        "--practice-name", help="the practice's name, needed on the first account"
    )
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of prompting",
    )
    add.set_defaults(handler=_add_practitioner)

    add_audit_commands(commands)

    retention = commands.add_parser("retention", help="data retention")
    retention_commands = retention.add_subparsers(required=True, metavar="ACTION")
    run = retention_commands.add_parser(
        "run", help="shred every appointment's personal data that is due"
    )
    run.add_argument(
        "--as-of",
        help="shred what is due by this later moment (ISO 8601), for early deletion",
    )
    run.set_defaults(handler=_run_retention)

    projections = commands.add_parser("projections", help="read models")
    projection_commands = projections.add_subparsers(required=True, metavar="ACTION")
    rebuild = projection_commands.add_parser(
        "rebuild", help="rebuild every read model from the event log"
    )
    rebuild.set_defaults(handler=_rebuild_projections)
    return parser


def _serve(arguments: argparse.Namespace) -> int:
    import uvicorn

    from adapters.web.app import create_app

    wildcard = arguments.host in ("0.0.0.0", "::")  # noqa: S104
    shown_host = "127.0.0.1" if wildcard else arguments.host
    runtime = Runtime(
        load_settings(default_base_url=f"http://{shown_host}:{arguments.port}")
    )
    if not runtime.settings.node_name:
        runtime.node_name = f"{socket.gethostname()}:{arguments.port}"
    job_queue = None
    if runtime.settings.redis_url:
        from adapters.jobs.connection import redis_address
        from adapters.jobs.queue import JobQueue

        job_queue = JobQueue(runtime.settings)
        try:
            runtime.check_job_queue()
        except Exception as error:
            # Pages and calls work without Redis; mail waits for it.
            logger.warning(
                "Redis at %s is not reachable (%s): mail is queued once it is",
                redis_address(runtime.settings.redis_url),
                type(error).__name__,
            )
    app = create_app(runtime, job_queue=job_queue)
    logger.info("Serving on http://%s:%s", arguments.host, arguments.port)
    try:
        uvicorn.run(
            app,
            host=arguments.host,
            port=arguments.port,
            ws_max_size=WS_MAX_MESSAGE_BYTES,
            log_level="info",
            # Uvicorn's loggers then go through our handler and its redaction.
            log_config=None,
            server_header=False,
            # Client addresses from X-Forwarded-For only from a trusted proxy,
            # so login throttling counts real clients behind it.
            proxy_headers=runtime.settings.forwarded_allow_ips is not None,
            forwarded_allow_ips=runtime.settings.forwarded_allow_ips,
            access_log=False,
        )
    finally:
        runtime.close()
    return 0


def _work(arguments: argparse.Namespace) -> int:
    from adapters.jobs.worker import run_worker

    return run_worker(load_settings())


def _add_practitioner(arguments: argparse.Namespace) -> int:
    if arguments.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Passwort (mindestens 12 Zeichen): ")
        if getpass.getpass("Passwort wiederholen: ") != password:
            print("Die Passwörter stimmen nicht überein.", file=sys.stderr)
            return 1

    runtime = Runtime(load_settings())
    try:
        consultations = runtime.consultations
        now = datetime.now(UTC)
        if consultations.practice_exists():
            consultations.add_practitioner(
                name=arguments.name, email=arguments.email, password=password, at=now
            )
        else:
            if not arguments.practice_name:
                print(
                    "Noch keine Praxis eingerichtet: bitte --practice-name angeben.",
                    file=sys.stderr,
                )
                return 1
            consultations.set_up_practice(
                practice_name=arguments.practice_name,
                name=arguments.name,
                email=arguments.email,
                password=password,
                at=now,
            )
    except DomainError as error:
        print(error.message, file=sys.stderr)
        return 1
    finally:
        runtime.close()
    print("Konto angelegt. Anmeldung unter /anmelden.")
    return 0


def _run_retention(arguments: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    as_of = now
    if arguments.as_of:
        try:
            as_of = datetime.fromisoformat(arguments.as_of)
        except ValueError:
            print("--as-of must be an ISO 8601 time", file=sys.stderr)
            return 2
        if as_of.tzinfo is None or as_of < now:
            print("--as-of must be a later time with a time zone", file=sys.stderr)
            return 2
    runtime = Runtime(load_settings())
    try:
        runtime.start()
        shredded = runtime.shred_due_personal_data(due_by=as_of)
    finally:
        runtime.close()
    print(f"{shredded} appointments shredded; nothing due is left.")
    return 0


def _rebuild_projections(arguments: argparse.Namespace) -> int:
    """Read models live in memory and are rebuilt at every start; this builds
    them afresh from the whole log and reports what they hold."""
    runtime = Runtime(load_settings())
    try:
        events = runtime.calendar_follower.pull()
        mail_events = runtime.mail_queue_follower.pull()
        entries = runtime.calendar.all_entries()
    finally:
        runtime.close()
    print(
        f"calendar and waiting room: {len(entries)} appointments from {events} events"
    )
    print(f"mail queue: {mail_events} events")
    return 0


if __name__ == "__main__":
    sys.exit(main())
