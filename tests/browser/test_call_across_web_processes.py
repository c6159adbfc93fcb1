"""Production mode with two web processes behind one address, as a load
balancer spreads them: the practitioner's browser is served by one, the
patient's by the other. The waiting room, the call and its end still reach
across, through PostgreSQL."""

import itertools
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.test_consultation_in_browsers import frames_rise_for, wait_for_frames
from tests.support.browser import (
    chromium,
    enter_waiting_room,
    screenshot,
    screenshots_on_failure,
)
from tests.support.mailbox import Mailbox
from tests.support.practice import PASSWORD, PracticeClient, join_link_in, soon
from tests.support.production import fresh_database
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser


@pytest.fixture
def two_servers(tmp_path: Path, mailbox: Mailbox) -> Iterator[list[RunningServer]]:
    with fresh_database() as database_url:
        servers = [
            # One data folder for the generated keys both must share; every
            # event, key and room message goes through PostgreSQL.
            RunningServer(
                tmp_path / "data",
                smtp_url=mailbox.url,
                SPRECHZIMMER_DATABASE_URL=database_url,
            ).start()
            for _ in range(2)
        ]
        try:
            yield servers
        finally:
            for server in servers:
                server.stop()
                print(f"---- {server.base_url} ----\n{server.log}")


def test_practitioner_and_patient_on_different_web_processes(
    two_servers: list[RunningServer], mailbox: Mailbox
) -> None:
    practitioners_server, patients_server = two_servers
    PracticeClient(practitioners_server).set_up()
    with chromium() as browser:
        practice = browser.new_context(locale="de-DE")
        practice.grant_permissions(
            ["camera", "microphone"], origin=practitioners_server.base_url
        )
        doctor = practice.new_page()
        doctor.goto(practitioners_server.base_url + "/anmelden")
        doctor.get_by_label("E-Mail-Adresse").fill("weber@praxis.test")
        doctor.get_by_label("Passwort").fill(PASSWORD)
        doctor.get_by_role("button", name="Anmelden").click()
        starts = soon(minutes=5)
        doctor.get_by_label("Name der Patientin / des Patienten").fill(
            "Erika Mustermann"
        )
        doctor.locator("input[name=patient_email]").fill("erika@example.test")
        doctor.get_by_label("Datum").fill(starts.date().isoformat())
        doctor.get_by_label("Beginn").fill(f"{starts:%H:%M}")
        doctor.get_by_role("button", name="Planen und Einladung senden").click()
        expect(doctor.get_by_role("status")).to_contain_text("geplant")

        invitation = mailbox.wait_for(lambda m: "erika@example.test" in str(m["To"]))
        # The same link, answered by the other process.
        link = urlsplit(join_link_in(invitation))
        join_link = patients_server.base_url + link.path

        patient_context = browser.new_context(locale="de-DE")
        patient_context.grant_permissions(
            ["camera", "microphone"], origin=patients_server.base_url
        )
        patient = patient_context.new_page()
        with screenshots_on_failure("two-processes", doctor=doctor, patient=patient):
            enter_waiting_room(patient, join_link)

            # The other process recorded the arrival; this one shows it live.
            waiting = doctor.locator("#waiting-list")
            expect(waiting).to_contain_text("Erika Mustermann", timeout=10_000)
            waiting.get_by_role("link").first.click()
            admit = doctor.get_by_role(
                "button", name="Eintreten lassen und Gespräch starten"
            )
            expect(admit).to_be_enabled(timeout=10_000)
            admit.click()

            expect(doctor.locator("#security-badge")).to_be_visible(timeout=20_000)
            expect(patient.locator("#security-badge")).to_be_visible(timeout=20_000)
            wait_for_frames(doctor)
            wait_for_frames(patient)
            doctor_frames = frames_rise_for(doctor, 3.0)
            patient_frames = frames_rise_for(patient, 3.0)
            screenshot(doctor, "two-processes-practitioner-in-call")
            screenshot(patient, "two-processes-patient-in-call")
            assert doctor_frames[-1] > doctor_frames[0] > 0, doctor_frames
            assert all(b >= a for a, b in itertools.pairwise(doctor_frames))
            assert patient_frames[-1] > patient_frames[0] > 0, patient_frames

            # Ending on one process closes the call on the other.
            doctor.once("dialog", lambda dialog: dialog.accept())
            doctor.get_by_role("button", name="Termin beenden").click()
            expect(
                patient.get_by_role("heading", name="Die Videosprechstunde ist beendet")
            ).to_be_visible()
    for server in two_servers:
        assert "Traceback" not in server.log, server.log
