"""A patient cancels from the link in the invitation, in a real browser; the
practice and the patient both get their e-mail."""

import pytest
from playwright.sync_api import expect

from tests.support.browser import chromium, screenshot
from tests.support.ical import calendar_entry_of
from tests.support.mailbox import Mailbox
from tests.support.practice import (
    PracticeClient,
    cancel_link_in,
    csrf_of,
    soon,
    text_of,
)
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser


def test_a_patient_cancels_from_the_email_and_everyone_is_told(
    server: RunningServer, mailbox: Mailbox
) -> None:
    practice = PracticeClient(server)
    practice.set_up()
    settings_form = practice.http.get("/praxis/einstellungen")

    practice.http.post(
        "/praxis/einstellungen",
        data={
            "csrf_token": csrf_of(settings_form),
            "name": "Praxis am Markt",
            "address": "Marktplatz 1, 12345 Musterstadt",
            "notification_email": "empfang@praxis.test",
            "cancellation_deadline_hours": "24",
            "fee_note": "Bei kurzfristiger Absage kann eine Ausfallgebühr anfallen.",
            "reminder_lead_hours": "0",
        },
    )
    starts = soon(minutes=90)
    practice.schedule(starts=starts)
    invitation = mailbox.wait_for(lambda m: "Ihre Videosprechstunde" in m["Subject"])

    with chromium() as browser:
        patient = browser.new_page(locale="de-DE")
        patient.goto(cancel_link_in(invitation))
        expect(patient.get_by_role("heading", name="Termin absagen")).to_be_visible()
        expect(patient.locator(".fee-note")).to_contain_text("Ausfallgebühr")
        expect(
            patient.get_by_text("diese Frist ist bereits abgelaufen")
        ).to_be_visible()
        screenshot(patient, "patient-cancellation-page")
        patient.get_by_text("Ja, ich möchte diesen Termin absagen.").click()
        patient.get_by_role("button", name="Termin absagen").click()
        expect(
            patient.get_by_role("heading", name="Ihr Termin ist abgesagt")
        ).to_be_visible()
        patient.reload()
        expect(
            patient.get_by_role("heading", name="Ihr Termin ist abgesagt")
        ).to_be_visible()
        screenshot(patient, "patient-cancelled")

    confirmation = mailbox.wait_for(lambda m: m["Subject"].startswith("Abgesagt"))
    notice = mailbox.wait_for(lambda m: "Absage durch Patient/in" in m["Subject"])
    assert "Ausfallgebühr" in text_of(confirmation)
    assert "Marktplatz 1" in text_of(confirmation)
    assert calendar_entry_of(confirmation).method == "CANCEL"
    assert calendar_entry_of(confirmation).uid == calendar_entry_of(invitation).uid
    assert "empfang@praxis.test" in str(notice["To"])
    assert "Erika Mustermann" in text_of(notice)

    calendar = practice.http.get("/", params={"datum": starts.date().isoformat()})
    assert "abgesagt von Patient/in" in calendar.text
    assert "Absagebestätigung: versendet" in calendar.text or (
        "Absagebestätigung: wird versendet" in calendar.text
    )
