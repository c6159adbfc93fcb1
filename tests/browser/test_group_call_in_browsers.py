"""A group consultation in four real browsers: the practitioner and three
patients, each connected to each other (a full mesh). The practitioner admits
one patient, then all who wait, mutes one for everyone and removes another."""

import time
from email.message import EmailMessage
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.support.browser import chromium, screenshot, screenshots_on_failure
from tests.support.mailbox import Mailbox
from tests.support.practice import PASSWORD, PracticeClient, join_link_in, soon
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser

PATIENTS = {
    "p1": ("Erika Mustermann", "erika@example.test"),
    "p2": ("Jonas Beispiel", "jonas@example.test"),
    "p3": ("Mira Muster", "mira@example.test"),
}

FRAMES_PER_TILE = """
async () => {
  const mesh = window.sprechzimmerMesh;
  const frames = {};
  if (!mesh) return frames;
  for (const [id, peer] of mesh.peers) {
    frames[id] = -1;
    if (!peer.pc) continue;
    const stats = await peer.pc.getStats();
    stats.forEach((report) => {
      if (report.type === "inbound-rtp" && report.kind === "video") {
        frames[id] = report.framesDecoded || 0;
      }
    });
  }
  return frames;
}
"""


def frames(page: Page) -> dict[str, int]:
    found: dict[str, Any] = page.evaluate(FRAMES_PER_TILE)
    return {key: int(value) for key, value in found.items()}


def wait_until_everyone_is_seen(
    pages: dict[str, Page], timeout: float = 60
) -> dict[str, dict[str, int]]:
    """Waits until every page decodes video from every other member."""
    deadline = time.monotonic() + timeout
    seen: dict[str, dict[str, int]] = {}
    while time.monotonic() < deadline:
        seen = {who: frames(page) for who, page in pages.items()}
        if all(
            set(seen[who]) == set(pages) - {who}
            and all(count > 0 for count in seen[who].values())
            for who in pages
        ):
            return seen
        time.sleep(0.5)
    raise AssertionError(f"not everyone sees everyone: {seen}")


def mail_to(mailbox: Mailbox, address: str) -> EmailMessage:
    return mailbox.wait_for(lambda m: address in str(m["To"]))


def patient_joins(context: BrowserContext, link: str, name: str) -> Page:
    page = context.new_page()
    page.goto(link)
    page.get_by_text(f"Ich bin {name}").click()
    page.get_by_text("Ich habe die").locator("..").locator("input").check()
    page.get_by_role("button", name="Weiter zu Kamera und Mikrofon").click()
    page.get_by_role("button", name="Kamera und Mikrofon freigeben").click()
    page.get_by_role("button", name="Ins Wartezimmer").click()
    expect(page.get_by_role("heading", name="Sie sind im Wartezimmer")).to_be_visible()
    return page


def test_a_group_of_four_sees_and_hears_each_other_and_the_practitioner_leads(
    server: RunningServer, mailbox: Mailbox
) -> None:
    practice = PracticeClient(server)
    practice.set_up()
    starts = soon(minutes=5)
    response = practice.schedule(
        patient_name=PATIENTS["p1"][0],
        patient_email=PATIENTS["p1"][1],
        starts=starts,
        duration=60,
        patient_name_2=PATIENTS["p2"][0],
        patient_email_2=PATIENTS["p2"][1],
        patient_name_3=PATIENTS["p3"][0],
        patient_email_3=PATIENTS["p3"][1],
    )
    assert response.status_code == 303
    links = {
        key: join_link_in(mail_to(mailbox, address))
        for key, (_, address) in PATIENTS.items()
    }

    with chromium() as browser:
        contexts = {}
        for who in ("practitioner", *PATIENTS):
            contexts[who] = browser.new_context(locale="de-DE")
            contexts[who].grant_permissions(
                ["camera", "microphone"], origin=server.base_url
            )
        doctor = contexts["practitioner"].new_page()
        doctor.goto(f"{server.base_url}/anmelden")
        doctor.get_by_label("E-Mail-Adresse").fill("weber@praxis.test")
        doctor.get_by_label("Passwort").fill(PASSWORD)
        doctor.get_by_role("button", name="Anmelden").click()
        expect(doctor.get_by_role("heading", name="Videotermin planen")).to_be_visible()

        patients = {
            key: patient_joins(contexts[key], links[key], name)
            for key, (name, _) in PATIENTS.items()
        }
        pages = {"practitioner": doctor, **patients}
        with screenshots_on_failure("group-call", **pages):
            # The waiting room lists all three.
            waiting = doctor.locator("#waiting-list")
            for name, _ in PATIENTS.values():
                expect(waiting).to_contain_text(name, timeout=10_000)
            waiting.get_by_role("link").first.click()
            rows = doctor.locator("#group-patients")
            for key in PATIENTS:
                expect(
                    rows.locator(f"tr[data-patient={key}] .patient-state")
                ).to_have_text("wartet", timeout=10_000)

            # One first, by checkbox; then everyone else who waits.
            rows.locator("tr[data-patient=p2] .admit-choice").check()
            doctor.get_by_role("button", name="Ausgewählte eintreten lassen").click()
            expect(rows.locator("tr[data-patient=p2] .patient-state")).to_have_text(
                "im Gespräch"
            )
            expect(
                patients["p1"].get_by_role("heading", name="Sie sind im Wartezimmer")
            ).to_be_visible()
            doctor.get_by_role("button", name="Alle Wartenden eintreten lassen").click()

            seen = wait_until_everyone_is_seen(pages)
            for page in pages.values():
                expect(page.locator("#security-text")).to_have_text(
                    "Peer-to-Peer · Ende-zu-Ende-verschlüsselt"
                )
                expect(page.locator("#tiles .tile")).to_have_count(4)
            time.sleep(2)
            later = {who: frames(page) for who, page in pages.items()}
            for who in pages:
                for other, count in seen[who].items():
                    assert later[who][other] > count, (who, other, seen, later)
            screenshot(doctor, "group-practitioner-in-call")
            screenshot(patients["p1"], "group-patient-in-call")

            # Muted for everyone: Jonas is told and his tile says so elsewhere.
            doctor.locator("#tiles [data-peer=p2] .mute-for-all").click()
            expect(patients["p2"].locator("#muted-by-practice")).to_be_visible()
            expect(patients["p2"].locator("#toggle-audio")).to_have_text("Mikrofon an")
            expect(
                patients["p1"].locator("#tiles [data-peer=p2] .muted-badge")
            ).to_be_visible()
            expect(
                patients["p3"].locator("#tiles [data-peer=p2] .muted-badge")
            ).to_be_visible()

            # Removed: Mira is sent out and cannot come back.
            doctor.once("dialog", lambda dialog: dialog.accept())
            doctor.locator("#tiles [data-peer=p3] .remove-participant").click()
            expect(
                patients["p3"].get_by_role(
                    "heading", name="Sie wurden aus der Sprechstunde entfernt"
                )
            ).to_be_visible()
            for who in ("practitioner", "p1", "p2"):
                expect(pages[who].locator("#tiles .tile")).to_have_count(3)
            expect(rows.locator("tr[data-patient=p3] .patient-state")).to_have_text(
                "entfernt"
            )
            again = patients["p3"].goto(links["p3"])
            assert again is not None and again.status == 403
            expect(patients["p3"].get_by_text("nicht wieder beitreten")).to_be_visible()
