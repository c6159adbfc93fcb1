"""A patient runs the tech check in a real browser with a fake camera and
microphone: every check ends in a verdict, a slow line is called slow, and the
waiting room gives its short verdict on the connection."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.browser import (
    CHROMIUM_ARGS,
    chromium,
    chromium_path,
    screenshot,
    screenshots_on_failure,
)
from tests.support.mailbox import Mailbox
from tests.support.practice import PracticeClient, join_link_in
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser

CHECKS = ["browser", "camera", "microphone", "speaker", "download", "upload", "call"]
ONE_MBIT_IN_BYTES_PER_SECOND = 1_000_000 / 8


@pytest.fixture
def echo_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server whose echo peer offers and answers loopback addresses only."""
    running = RunningServer(
        tmp_path / "data", SPRECHZIMMER_TECH_CHECK_LOOPBACK_ONLY="1"
    ).start()
    yield running
    running.stop()
    print("---- server output ----\n" + running.log)


@contextmanager
def chromium_on_loopback() -> Iterator[Browser]:
    """Chromium as tests/support/browser.py starts it, but also offering its
    loopback addresses for WebRTC, so that the test call stays on this host."""
    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            args=[*CHROMIUM_ARGS, "--allow-loopback-in-peer-connection"],
            headless=True,
        )
        try:
            yield browser
        finally:
            browser.close()


def open_tech_check(browser: Browser, server: RunningServer) -> Page:
    context = browser.new_context(locale="de-DE")
    context.grant_permissions(
        ["camera", "microphone", "clipboard-read", "clipboard-write"],
        origin=server.base_url,
    )
    page = context.new_page()
    page.goto(server.base_url + "/technikcheck")
    return page


def run_all_checks(page: Page) -> None:
    page.get_by_role("button", name="Technikcheck starten").click()
    # The speaker check asks once the test tone has played.
    page.get_by_role("button", name="Ja, gehört").click(timeout=30_000)
    expect(page.locator("#check-summary")).to_be_visible(timeout=90_000)


def verdict_of(page: Page, check: str) -> tuple[str, str]:
    row = page.locator(f"#check-{check}")
    return (
        str(row.get_attribute("data-state")),
        row.locator(".check-result").inner_text(),
    )


def test_the_whole_check_gives_every_verdict_and_a_summary_to_copy(
    echo_server: RunningServer,
) -> None:
    with chromium_on_loopback() as browser:
        page = open_tech_check(browser, echo_server)
        with screenshots_on_failure("tech-check", patient=page):
            run_all_checks(page)
            screenshot(page, "tech-check-done")
            verdicts = {check: verdict_of(page, check) for check in CHECKS}
            summary = page.locator("#summary-text").inner_text()

            page.get_by_role("button", name="Zusammenfassung kopieren").click()
            expect(page.locator("#copy-status")).to_contain_text("Kopiert")
            copied = page.evaluate("navigator.clipboard.readText()")

    for check in CHECKS[:-1]:
        assert verdicts[check][0] == "ok", verdicts
    # A busy machine may return fewer frames: a hint then, but a connection.
    assert verdicts["call"][0] in ("ok", "warn"), verdicts
    assert "Chrome" in verdicts["browser"][1]
    assert "Ihre Kamera liefert ein Bild" in verdicts["camera"][1]
    assert "Empfehlung von 20 Mbit/s erreicht" in verdicts["download"][1]
    assert "Empfehlung von 5 Mbit/s erreicht" in verdicts["upload"][1]
    assert "Verbunden. Weg: direkt (Host)" in verdicts["call"][1]
    assert "Umlaufzeit:" in verdicts["call"][1]
    assert "Paketverlust: 0,0 %" in verdicts["call"][1]
    assert "Bilder/s" in verdicts["call"][1]

    lines = summary.splitlines()
    assert lines[0].startswith("Sprechzimmer – Technikcheck vom")
    assert [line.split(":")[0] for line in lines[1:]] == [
        "Browser",
        "Kamera",
        "Mikrofon",
        "Lautsprecher",
        "Download",
        "Upload",
        "Testanruf",
        "Ergebnis",
    ]
    assert "empfohlen erreicht" in lines[5]
    assert "127.0.0.1" not in summary and "fake" not in summary.lower()
    assert copied == summary


def test_a_line_of_one_megabit_is_called_below_the_minimum(
    echo_server: RunningServer,
) -> None:
    with chromium_on_loopback() as browser:
        page = open_tech_check(browser, echo_server)
        throttle = page.context.new_cdp_session(page)
        throttle.send("Network.enable")
        throttle.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": 0,
                "downloadThroughput": ONE_MBIT_IN_BYTES_PER_SECOND,
                "uploadThroughput": ONE_MBIT_IN_BYTES_PER_SECOND,
            },
        )
        with screenshots_on_failure("tech-check-slow", patient=page):
            run_all_checks(page)
            screenshot(page, "tech-check-one-megabit")
            download = verdict_of(page, "download")
            upload = verdict_of(page, "upload")
            summary = page.locator("#summary-text").inner_text()

    assert download[0] == "fail", download
    assert "unter dem Minimum von 4 Mbit/s" in download[1]
    assert upload[0] == "fail", upload
    assert "unter dem Minimum von 2 Mbit/s" in upload[1]
    measured = float(download[1].split(": ")[1].split(" ")[0].replace(",", "."))
    assert 0.5 <= measured <= 1.5, download
    assert "Download:" in summary and "unter dem Minimum" in summary
    assert "Ergebnis: Es gibt Probleme" in summary


def test_the_waiting_room_gives_a_short_verdict_on_the_connection(
    server: RunningServer, mailbox: Mailbox
) -> None:
    practice = PracticeClient(server)
    practice.set_up()
    assert practice.schedule().status_code == 303
    join_link = join_link_in(
        mailbox.wait_for(lambda m: "erika@example.test" in str(m["To"]))
    )

    with chromium() as browser:
        context = browser.new_context(locale="de-DE")
        context.grant_permissions(["camera", "microphone"], origin=server.base_url)
        patient = context.new_page()
        with screenshots_on_failure("tech-check-waiting-room", patient=patient):
            patient.goto(join_link)
            patient.get_by_text("Ich bin Erika Mustermann").click()
            patient.get_by_text("Ich habe die").locator("..").locator("input").check()
            patient.get_by_role("button", name="Weiter zu Kamera und Mikrofon").click()
            patient.get_by_role("button", name="Kamera und Mikrofon freigeben").click()
            patient.get_by_role("button", name="Ins Wartezimmer").click()

            line = patient.locator("#quick-check")
            expect(line).to_contain_text("Ihre Verbindung:", timeout=20_000)
            expect(line).to_contain_text("Mbit/s Download")
            expect(line).to_contain_text("Empfehlung erreicht")
            expect(line).to_have_attribute("data-state", "ok")
            screenshot(patient, "tech-check-waiting-room")
