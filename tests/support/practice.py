"""A practice's day driven over HTTP, as a browser would, without one."""

import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import httpx

from domain.local_time import in_practice_time
from tests.support.server import RunningServer

PASSWORD = "Sprechstunde-2026!"
JOIN_LINK = re.compile(r"https?://[^\s\"<>]+/j/[A-Za-z0-9_-]{32}")
CANCEL_LINK = re.compile(r"https?://[^\s\"<>]+/c/[A-Za-z0-9_-]{32}")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(response: httpx.Response) -> str:
    found = CSRF.search(response.text)
    assert found, f"no CSRF token on {response.url}"
    return found.group(1)


def soon(minutes: int = 5) -> datetime:
    """A start time a few whole minutes from now, in practice time."""
    start = datetime.now(UTC) + timedelta(minutes=minutes)
    return in_practice_time(start).replace(second=0, microsecond=0) + timedelta(
        minutes=1
    )


class PracticeClient:
    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.base_url, timeout=20)

    def set_up(
        self, email: str = "weber@praxis.test", name: str = "Dr. Anna Weber"
    ) -> None:
        link = self.server.setup_link()
        form = self.http.get(link)
        response = self.http.post(
            link,
            data={
                "csrf_token": csrf_of(form),
                "practice_name": "Praxis am Markt",
                "name": name,
                "email": email,
                "password": PASSWORD,
            },
        )
        assert response.status_code == 303, response.text

    def log_in(self, email: str, password: str = PASSWORD) -> httpx.Response:
        form = self.http.get("/anmelden")
        return self.http.post(
            "/anmelden",
            data={"csrf_token": csrf_of(form), "email": email, "password": password},
        )

    def schedule(
        self,
        patient_name: str = "Erika Mustermann",
        patient_email: str = "erika@example.test",
        starts: datetime | None = None,
        duration: int = 15,
        note: str = "",
        **overrides: str,
    ) -> httpx.Response:
        starts = starts or soon()
        calendar = self.http.get("/")
        data = {
            "csrf_token": csrf_of(calendar),
            "patient_name": patient_name,
            "patient_email": patient_email,
            "day": starts.date().isoformat(),
            "clock": f"{starts:%H:%M}",
            "duration": str(duration),
            "note": note,
            **overrides,
        }
        return self.http.post("/termine", data=data)


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def join_link_in(message: EmailMessage) -> str:
    found = JOIN_LINK.search(text_of(message))
    assert found, "no join link in the mail"
    return found.group(0)


def cancel_link_in(message: EmailMessage) -> str:
    found = CANCEL_LINK.search(text_of(message))
    assert found, "no cancellation link in the mail"
    return found.group(0)


TERMS_VERSION = re.compile(r'name="terms_version" value="([^"]+)"')


def give_consent(join_link: str) -> None:
    """Agrees to the terms as a patient's browser would, with its own session."""
    with httpx.Client(timeout=20, trust_env=False) as patient:
        form = patient.get(join_link)
        assert form.status_code == 200, form.text
        version = TERMS_VERSION.search(form.text)
        assert version, "no terms version on the consent page"
        response = patient.post(
            join_link + "/einwilligung",
            data={
                "csrf_token": csrf_of(form),
                "terms_version": version.group(1),
                "name_confirmed": "on",
                "terms_accepted": "on",
            },
        )
        assert response.status_code == 303, response.text
