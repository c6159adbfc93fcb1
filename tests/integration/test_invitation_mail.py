"""The invitation e-mail, received by a real SMTP server, as the patient gets it."""

import time
from datetime import UTC, timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx

from tests.support.ical import calendar_entry_of
from tests.support.mailbox import Mailbox
from tests.support.practice import (
    PracticeClient,
    cancel_link_in,
    join_link_in,
    soon,
    text_of,
)
from tests.support.server import RunningServer


def test_the_invitation_carries_time_links_preparation_and_a_calendar_entry(
    server: RunningServer, mailbox: Mailbox
) -> None:
    practice = PracticeClient(server)
    practice.set_up()
    starts = soon(minutes=10)
    response = practice.schedule(
        patient_name="Erika Mustermann",
        patient_email="erika@example.test",
        starts=starts,
        duration=20,
        note="Bitte halten Sie Ihren Medikationsplan bereit.",
    )
    assert response.status_code == 303

    mail = mailbox.wait_for(lambda m: "erika@example.test" in str(m["To"]))
    assert mailbox.recipients[0] == ["erika@example.test"]
    assert mail["From"].addresses[0].display_name == "Praxis am Markt"
    assert mail["Message-ID"].endswith("@sprechzimmer>")
    assert f"{starts:%d.%m.%Y}" in mail["Subject"]

    text = text_of(mail)
    for expected in (
        f"{starts:%d.%m.%Y}, {starts:%H:%M} Uhr",
        "Dauer:  20 Minuten",
        "Dr. Anna Weber",
        "Medikationsplan",
        "15 Minuten vor Beginn",
        "ruhigen",
        "Kamera",
        "Versichertenkarte",
        "Chrome, Firefox oder Safari",
        "Spam-Ordner",
        "/technikcheck",
    ):
        assert expected in text, expected
    html = mail.get_body(preferencelist=("html",))
    assert html is not None and "Zur Videosprechstunde" in html.get_content()

    join_link = join_link_in(mail)
    cancel_link = cancel_link_in(mail)
    assert "erika" not in join_link.lower() and "erika" not in cancel_link.lower()
    assert join_link != cancel_link

    entry = calendar_entry_of(mail)
    assert entry.method == "REQUEST"
    assert entry.uid.endswith("@sprechzimmer")
    assert entry.sequence == 0
    assert entry.starts == starts.astimezone(UTC)
    assert entry.ends == starts.astimezone(UTC) + timedelta(minutes=20)
    assert join_link in entry.description

    patient = httpx.Client(timeout=10)
    join_page = patient.get(join_link)
    assert join_page.status_code == 200
    assert "Ich bin <strong>Erika Mustermann</strong>" in join_page.text
    assert join_page.headers["referrer-policy"] == "no-referrer"
    cancel_page = patient.get(cancel_link)
    assert cancel_page.status_code == 200
    assert "Termin absagen" in cancel_page.text

    calendar = practice.http.get("/", params={"datum": starts.date().isoformat()})
    assert "versendet" in calendar.text


def test_without_a_mail_server_invitations_land_in_the_outbox_and_logs_stay_clean(
    tmp_path: Path,
) -> None:
    server = RunningServer(tmp_path / "data").start()
    try:
        practice = PracticeClient(server)
        practice.set_up()
        practice.schedule(patient_name="Jonas Beispiel", patient_email="jonas@ex.test")
        outbox = tmp_path / "data" / "outbox"
        eml = wait_for_file(outbox, "*.eml")
        assert "jonas@ex.test" in eml.read_text()
        join_link = join_link_in_file(eml)
        token = join_link.rsplit("/", 1)[-1]
        wait_for_text(server, eml.with_suffix(".html").name)
        assert httpx.get(join_link).status_code == 200
        wait_for_text(server, "GET /j/… 200")
    finally:
        server.stop()
    for secret in ("Jonas", "jonas@ex.test", "weber@praxis.test", token):
        assert secret not in server.log


def wait_for_file(folder: Path, pattern: str) -> Path:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"nothing like {pattern} in {folder}")


def wait_for_text(server: RunningServer, text: str) -> None:
    deadline = time.monotonic() + 10
    while text not in server.log:
        assert time.monotonic() < deadline, f"{text!r} never logged"
        time.sleep(0.05)


def join_link_in_file(eml: Path) -> str:
    import email
    import email.policy

    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return join_link_in(message)
