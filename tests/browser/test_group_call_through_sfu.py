"""A group of five in real browsers: four talk in a mesh; when the fifth is
let in, everyone moves to the SFU on the same page, with every frame
encrypted end to end and the same security code on every screen; when one
hangs up, the four go back to the mesh."""

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.browser.test_sfu_e2ee import REFUSAL, WITHOUT_FRAME_ACCESS
from tests.support.browser import chromium, screenshot, screenshots_on_failure
from tests.support.mailbox import Mailbox
from tests.support.practice import PASSWORD, PracticeClient, join_link_in, soon
from tests.support.production import fresh_database
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser

PATIENTS = {
    "p1": ("Erika Mustermann", "erika@example.test"),
    "p2": ("Jonas Beispiel", "jonas@example.test"),
    "p3": ("Mira Muster", "mira@example.test"),
    "p4": ("Paul Probe", "paul@example.test"),
}
P2P_BADGE = "Peer-to-Peer · Ende-zu-Ende-verschlüsselt"
SFU_BADGE = "SFU · Ende-zu-Ende-verschlüsselt"
SECURITY_CODE = re.compile(r"^\d{5}( \d{5}){5}$")

# Five pages share two cores: the fake camera at a small size.
SMALL_CAMERA = """
const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = (constraints) => {
  if (constraints && constraints.video) {
    const chosen = typeof constraints.video === "object" ? constraints.video : {};
    constraints = {
      ...constraints,
      video: { ...chosen, width: 320, height: 240, frameRate: 15 },
    };
  }
  return original(constraints);
};
"""


def frames(page: Page) -> dict[str, int]:
    found: dict[str, Any] = page.evaluate(
        "() => window.sprechzimmerMesh ? window.sprechzimmerMesh.framesDecoded() : {}"
    )
    return {key: int(value) for key, value in found.items()}


def mode_of(page: Page) -> str:
    return str(page.evaluate("() => window.sprechzimmerMesh.mode"))


def wait_until_everyone_is_seen(
    pages: dict[str, Page], mode: str, timeout: float = 60
) -> dict[str, dict[str, int]]:
    """Waits until every page, in this mode, decodes video from every other."""
    deadline = time.monotonic() + timeout
    seen: dict[str, dict[str, int]] = {}
    while time.monotonic() < deadline:
        seen = {who: frames(page) for who, page in pages.items()}
        if all(mode_of(page) == mode for page in pages.values()) and all(
            set(seen[who]) == set(pages) - {who}
            and all(count > 0 for count in seen[who].values())
            for who in pages
        ):
            return seen
        time.sleep(0.5)
    raise AssertionError(f"not everyone sees everyone in {mode}: {seen}")


def assert_video_keeps_flowing(
    pages: dict[str, Page], seen: dict[str, dict[str, int]]
) -> None:
    time.sleep(2)
    later = {who: frames(page) for who, page in pages.items()}
    for who in pages:
        for other, count in seen[who].items():
            assert later[who][other] > count, (who, other, seen, later)


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


def server_with_threshold(
    tmp_path: Path, mailbox: Mailbox, threshold: int, **env: str
) -> Any:
    return RunningServer(
        tmp_path / "data",
        smtp_url=mailbox.url,
        SPRECHZIMMER_SFU_LOOPBACK_ONLY="1",
        SPRECHZIMMER_SFU_THRESHOLD=str(threshold),
        **env,
    )


@contextmanager
def five_in_the_waiting_room(
    server: RunningServer,
    mailbox: Mailbox,
    patients_server: dict[str, RunningServer] | None = None,
    init_scripts: dict[str, str] | None = None,
) -> Iterator[tuple[dict[str, Page], Locator]]:
    """The practitioner at the group's room, four patients waiting (each on
    the server named for it, or the practitioner's); yields the pages and the
    practitioner's patient list."""
    served_by = {who: server for who in ("practitioner", *PATIENTS)}
    served_by.update(patients_server or {})
    practice = PracticeClient(server)
    practice.set_up()
    fields: dict[str, str] = {}
    for number, key in enumerate(("p2", "p3", "p4"), start=2):
        fields[f"patient_name_{number}"] = PATIENTS[key][0]
        fields[f"patient_email_{number}"] = PATIENTS[key][1]
    response = practice.schedule(
        patient_name=PATIENTS["p1"][0],
        patient_email=PATIENTS["p1"][1],
        starts=soon(minutes=5),
        duration=60,
        **fields,
    )
    assert response.status_code == 303
    links = {
        key: served_by[key].base_url
        + urlsplit(join_link_in(mail_to(mailbox, address))).path
        for key, (_, address) in PATIENTS.items()
    }

    with chromium() as browser:
        contexts = {}
        for who in ("practitioner", *PATIENTS):
            contexts[who] = browser.new_context(
                locale="de-DE", viewport={"width": 800, "height": 700}
            )
            contexts[who].grant_permissions(
                ["camera", "microphone"], origin=served_by[who].base_url
            )
            contexts[who].add_init_script(SMALL_CAMERA)
            if init_scripts and who in init_scripts:
                contexts[who].add_init_script(init_scripts[who])
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
        with screenshots_on_failure("group-call-sfu", **pages):
            waiting = doctor.locator("#waiting-list")
            for name, _ in PATIENTS.values():
                expect(waiting).to_contain_text(name, timeout=10_000)
            waiting.get_by_role("link").first.click()
            rows = doctor.locator("#group-patients")
            for key in PATIENTS:
                expect(
                    rows.locator(f"tr[data-patient={key}] .patient-state")
                ).to_have_text("wartet", timeout=10_000)
            yield pages, rows


def assert_one_security_code(pages: dict[str, Page]) -> str:
    for page in pages.values():
        expect(page.locator("#security-code")).to_be_visible()
        expect(page.locator("#fingerprint")).to_have_text(SECURITY_CODE, timeout=10_000)
    codes: set[str] = set()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        codes = {page.locator("#fingerprint").inner_text() for page in pages.values()}
        if len(codes) == 1:
            break
        time.sleep(0.3)
    assert len(codes) == 1, codes
    return codes.pop()


def sending_key_id(page: Page) -> int:
    return int(page.evaluate("() => window.sprechzimmerMesh.frames.sendingKeyInUse.id"))


def test_the_fifth_member_moves_the_call_to_the_sfu_and_a_leave_moves_it_back(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    server = server_with_threshold(tmp_path, mailbox, threshold=5).start()
    try:
        with five_in_the_waiting_room(server, mailbox) as (pages, rows):
            doctor = pages["practitioner"]

            # Four in the call: a mesh.
            for key in ("p1", "p2", "p3"):
                rows.locator(f"tr[data-patient={key}] .admit-choice").check()
            doctor.get_by_role("button", name="Ausgewählte eintreten lassen").click()
            four = {who: page for who, page in pages.items() if who != "p4"}
            wait_until_everyone_is_seen(four, "p2p")
            for page in four.values():
                expect(page.locator("#security-text")).to_have_text(P2P_BADGE)
                # Marks this very page: a reload or a new page would lose it.
                page.evaluate("() => { window.sameCallPage = true; }")

            # The fifth comes in: everyone on the same page goes through the SFU.
            doctor.get_by_role("button", name="Alle Wartenden eintreten lassen").click()
            seen = wait_until_everyone_is_seen(pages, "sfu", timeout=90)
            assert_video_keeps_flowing(pages, seen)
            for who, page in pages.items():
                expect(page.locator("#security-text")).to_have_text(SFU_BADGE)
                expect(page.locator("#tiles .tile")).to_have_count(5)
                if who != "p4":
                    assert page.evaluate("() => window.sameCallPage === true")
                assert page.evaluate(
                    "() => window.sprechzimmerMesh.sfu.encryptsWhatIsSent()"
                )
            assert_one_security_code(pages)
            screenshot(doctor, "group-sfu-practitioner")
            screenshot(pages["p1"], "group-sfu-patient")

            # Paul hangs up: four again, a mesh again, video again.
            pages["p4"].get_by_role("button", name="Auflegen").click()
            seen = wait_until_everyone_is_seen(four, "p2p", timeout=60)
            assert_video_keeps_flowing(four, seen)
            for page in four.values():
                expect(page.locator("#security-text")).to_have_text(P2P_BADGE)
                expect(page.locator("#security-code")).to_be_hidden()
                expect(page.locator("#tiles .tile")).to_have_count(4)
                assert page.evaluate("() => window.sameCallPage === true")
    finally:
        server.stop()
        print("---- server output ----\n" + server.log)


def test_in_the_sfu_a_newcomer_gets_the_keys_and_who_leaves_is_locked_out(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    server = server_with_threshold(tmp_path, mailbox, threshold=4).start()
    try:
        with five_in_the_waiting_room(server, mailbox) as (pages, rows):
            doctor = pages["practitioner"]
            four = {who: page for who, page in pages.items() if who != "p1"}

            # Four are enough for the SFU here; the fifth joins it directly.
            for key in ("p2", "p3", "p4"):
                rows.locator(f"tr[data-patient={key}] .admit-choice").check()
            doctor.get_by_role("button", name="Ausgewählte eintreten lassen").click()
            wait_until_everyone_is_seen(four, "sfu", timeout=90)
            doctor.get_by_role("button", name="Alle Wartenden eintreten lassen").click()
            seen = wait_until_everyone_is_seen(pages, "sfu", timeout=90)
            assert_video_keeps_flowing(pages, seen)
            code_of_five = assert_one_security_code(pages)
            keys_before = {who: sending_key_id(page) for who, page in four.items()}

            # Erika leaves: the four stay in the SFU and take new keys.
            pages["p1"].get_by_role("button", name="Auflegen").click()
            seen = wait_until_everyone_is_seen(four, "sfu", timeout=60)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                keys_after = {who: sending_key_id(p) for who, p in four.items()}
                if all(keys_after[who] != keys_before[who] for who in four):
                    break
                time.sleep(0.3)
            assert all(keys_after[who] != keys_before[who] for who in four)
            assert_video_keeps_flowing(four, seen)
            for page in four.values():
                expect(page.locator("#security-text")).to_have_text(SFU_BADGE)
                expect(page.locator("#tiles .tile")).to_have_count(4)
            assert assert_one_security_code(four) != code_of_five
    finally:
        server.stop()
        print("---- server output ----\n" + server.log)


def test_members_on_two_web_processes_meet_in_one_sfu(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    with fresh_database() as database_url:
        servers = [
            server_with_threshold(
                tmp_path, mailbox, threshold=5, SPRECHZIMMER_DATABASE_URL=database_url
            ).start()
            for _ in range(2)
        ]
        try:
            first, second = servers
            elsewhere = {key: second for key in ("p2", "p3", "p4")}
            with five_in_the_waiting_room(first, mailbox, elsewhere) as (pages, _rows):
                pages["practitioner"].get_by_role(
                    "button", name="Alle Wartenden eintreten lassen"
                ).click()
                seen = wait_until_everyone_is_seen(pages, "sfu", timeout=90)
                assert_video_keeps_flowing(pages, seen)
                assert_one_security_code(pages)
                # One SFU for the call, on one of the two processes.
                opened = [s for s in servers if "Opened SFU room" in s.log]
                assert len(opened) == 1, [s.log for s in servers]

                pages["p4"].get_by_role("button", name="Auflegen").click()
                four = {who: page for who, page in pages.items() if who != "p4"}
                seen = wait_until_everyone_is_seen(four, "p2p", timeout=60)
                assert_video_keeps_flowing(four, seen)
        finally:
            for server in servers:
                server.stop()
                print(f"---- {server.base_url} ----\n{server.log}")
        for server in servers:
            assert "Traceback" not in server.log, server.log


def test_a_browser_that_cannot_encrypt_is_told_so_and_sends_nothing_to_the_sfu(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    server = server_with_threshold(tmp_path, mailbox, threshold=3).start()
    try:
        scripts = {"p1": WITHOUT_FRAME_ACCESS}
        with five_in_the_waiting_room(server, mailbox, init_scripts=scripts) as (
            pages,
            rows,
        ):
            for key in ("p1", "p2"):
                rows.locator(f"tr[data-patient={key}] .admit-choice").check()
            pages["practitioner"].get_by_role(
                "button", name="Ausgewählte eintreten lassen"
            ).click()
            refused = pages["p1"]
            expect(refused.locator("#e2ee-refusal")).to_have_text(REFUSAL)
            expect(refused.locator("#security-text")).to_have_text(SFU_BADGE)
            assert refused.evaluate("() => window.sprechzimmerMesh.sfu.pc") is None

            # The two who can encrypt see each other; nobody sees Erika.
            two = {who: pages[who] for who in ("practitioner", "p2")}
            deadline = time.monotonic() + 60
            seen: dict[str, dict[str, int]] = {}
            while time.monotonic() < deadline:
                seen = {who: frames(page) for who, page in two.items()}
                if seen["practitioner"].get("p2", 0) > 0 and (
                    seen["p2"].get("practitioner", 0) > 0
                ):
                    break
                time.sleep(0.5)
            assert seen["practitioner"]["p2"] > 0 and seen["p2"]["practitioner"] > 0
            assert seen["practitioner"]["p1"] <= 0 and seen["p2"]["p1"] <= 0, seen
            screenshot(refused, "group-sfu-refused")
    finally:
        server.stop()
        print("---- server output ----\n" + server.log)
