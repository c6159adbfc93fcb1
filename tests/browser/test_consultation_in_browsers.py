"""A whole consultation as the practitioner and the patient live it, in two
real browsers with fake cameras, and the invitation from a real mail server."""

import itertools
import time

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import (
    FRAMES_DECODED,
    chromium,
    enter_waiting_room,
    screenshot,
    screenshots_on_failure,
)
from tests.support.mailbox import Mailbox
from tests.support.practice import PASSWORD, join_link_in, soon
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser


def frames_rise_for(page: Page, seconds: float) -> list[int]:
    samples = [page.evaluate(FRAMES_DECODED)]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.5)
        samples.append(page.evaluate(FRAMES_DECODED))
    return samples


def wait_for_frames(page: Page, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.evaluate(FRAMES_DECODED) > 0:
            return
        time.sleep(0.25)
    raise AssertionError("no video frames were decoded")


def test_patient_is_invited_waits_is_admitted_and_both_see_each_other(
    server: RunningServer, mailbox: Mailbox
) -> None:
    with chromium() as browser:
        practice = browser.new_context(locale="de-DE")
        practice.grant_permissions(["camera", "microphone"], origin=server.base_url)
        doctor = practice.new_page()

        # First start: the one-time link sets up the practice.
        doctor.goto(server.setup_link())
        doctor.get_by_label("Name der Praxis").fill("Praxis am Markt")
        doctor.get_by_label("Ihr Name").fill("Dr. Anna Weber")
        doctor.get_by_label("E-Mail-Adresse").fill("weber@praxis.test")
        doctor.get_by_label("Passwort").fill(PASSWORD)
        doctor.get_by_role("button", name="Praxis anlegen").click()
        expect(doctor.get_by_role("heading", name="Videotermin planen")).to_be_visible()

        # Log out and in again, as on any other morning.
        doctor.get_by_role("button", name="Abmelden").click()
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
        screenshot(doctor, "practitioner-calendar")

        invitation = mailbox.wait_for(lambda m: "erika@example.test" in str(m["To"]))
        join_link = join_link_in(invitation)

        patient_context = browser.new_context(locale="de-DE")
        patient_context.grant_permissions(
            ["camera", "microphone"], origin=server.base_url
        )
        patient = patient_context.new_page()
        with screenshots_on_failure("consultation", doctor=doctor, patient=patient):
            enter_waiting_room(patient, join_link)
            screenshot(patient, "patient-waiting-room")

            # The calendar shows the waiting patient without a reload.
            waiting = doctor.locator("#waiting-list")
            expect(waiting).to_contain_text("Erika Mustermann", timeout=10_000)
            expect(doctor).to_have_title("(1) Wartezimmer · Kalender · Sprechzimmer")
            # The agenda's status follows without a reload too.
            expect(doctor.locator(".agenda .badge.waiting")).to_have_text(
                "wartet jetzt"
            )
            waiting.get_by_role("link").first.click()

            admit = doctor.get_by_role(
                "button", name="Eintreten lassen und Gespräch starten"
            )
            expect(admit).to_be_enabled(timeout=10_000)
            admit.click()

            expect(doctor.locator("#security-badge")).to_be_visible(timeout=20_000)
            expect(patient.locator("#security-badge")).to_be_visible(timeout=20_000)
            expect(patient.locator("#security-text")).to_contain_text("Peer-to-Peer")
            wait_for_frames(doctor)
            wait_for_frames(patient)

            doctor_frames = frames_rise_for(doctor, 3.5)
            patient_frames = frames_rise_for(patient, 0.5)
            patient_frames += frames_rise_for(patient, 3.0)
            screenshot(doctor, "practitioner-in-call")
            screenshot(patient, "patient-in-call")
            assert doctor_frames[-1] > doctor_frames[0] > 0, doctor_frames
            assert all(b >= a for a, b in itertools.pairwise(doctor_frames))
            assert patient_frames[-1] > patient_frames[0] > 0, patient_frames

            # The practitioner ends the appointment; the patient is told.
            doctor.once("dialog", lambda dialog: dialog.accept())
            doctor.get_by_role("button", name="Termin beenden").click()
            expect(doctor.locator("#room-state")).to_have_text(
                "Dieser Termin ist abgeschlossen."
            )
            expect(
                patient.get_by_role("heading", name="Die Videosprechstunde ist beendet")
            ).to_be_visible()
            screenshot(patient, "patient-after-end")

            # The link is dead now.
            patient.goto(join_link)
            expect(patient.get_by_role("heading")).to_contain_text("Nicht möglich")
