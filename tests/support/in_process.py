"""The whole application in this process with a clock the test moves, for
rules that depend on time (reminders, deadlines, expiry) without sleeping."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import httpx
from starlette.testclient import TestClient

from adapters.web.app import create_app
from application.config import load_settings
from application.runtime import Runtime
from tests.support.practice import PASSWORD, csrf_of

# A Monday, 09:00 in Berlin.
MONDAY_MORNING = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


class MovableClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class InProcessPractice:
    runtime: Runtime
    client: TestClient
    clock: MovableClock
    practitioner_id: UUID

    def post_form(
        self, path: str, data: dict[str, str], page: str = "/"
    ) -> httpx.Response:
        form = self.client.get(page)
        return self.client.post(
            path, data={"csrf_token": csrf_of(form), **data}, follow_redirects=False
        )

    def send_due_mail(self) -> int:
        return self.runtime.send_due_mail()


@contextmanager
def in_process_practice(
    data_dir: Path, smtp_url: str = "", now: datetime = MONDAY_MORNING
) -> Iterator[InProcessPractice]:
    settings = load_settings(
        {
            "SPRECHZIMMER_DATA_DIR": str(data_dir),
            "SPRECHZIMMER_BASE_URL": "http://testserver",
            "SPRECHZIMMER_SMTP_URL": smtp_url,
            # Set in production mode: a fresh PostgreSQL database per test.
            "SPRECHZIMMER_DATABASE_URL": os.environ.get(
                "SPRECHZIMMER_DATABASE_URL", ""
            ),
        }
    )
    clock = MovableClock(now)
    runtime = Runtime(settings, clock=clock)
    # The test sends mail itself, at the moments it chooses.
    app = create_app(runtime, announce_setup_link=False, send_mail_in_process=False)
    try:
        with TestClient(app, base_url="http://testserver") as client:
            practitioner_id = runtime.consultations.set_up_practice(
                practice_name="Praxis am Markt",
                name="Dr. Anna Weber",
                email="weber@praxis.test",
                password=PASSWORD,
                at=clock(),
            )
            login = client.get("/anmelden")
            client.post(
                "/anmelden",
                data={
                    "csrf_token": csrf_of(login),
                    "email": "weber@praxis.test",
                    "password": PASSWORD,
                },
            )
            yield InProcessPractice(runtime, client, clock, practitioner_id)
    finally:
        runtime.close()
