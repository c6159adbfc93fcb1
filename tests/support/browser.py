"""Debian's Chromium, driven by Playwright, with a fake camera and microphone."""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.required import missing_part

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

CHROMIUM_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    # The tests run where loopback is the only network; calls must use it.
    "--allow-loopback-in-peer-connection",
]


def chromium_path() -> str:
    for candidate in ("chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    missing_part("Chromium (apt-get install chromium)")
    raise AssertionError("unreachable")


@contextmanager
def chromium() -> Iterator[Browser]:
    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


FRAMES_DECODED = """
async () => {
  const pc = window.sprechzimmer && window.sprechzimmer.peerConnection;
  if (!pc) return -1;
  const stats = await pc.getStats();
  let frames = -1;
  stats.forEach((report) => {
    if (report.type === "inbound-rtp" && report.kind === "video") {
      frames = report.framesDecoded || 0;
    }
  });
  return frames;
}
"""


@contextmanager
def screenshots_on_failure(name: str, **pages: Page) -> Iterator[None]:
    """Saves what each page showed when a step failed, to look at later."""
    try:
        yield
    except Exception:
        for role, page in pages.items():
            # The original failure matters more than a missing picture.
            with suppress(Exception):
                screenshot(page, f"FAILED-{name}-{role}")
        raise


def enter_waiting_room(patient: Page, join_link: str) -> None:
    """The patient's way in, as Erika Mustermann: the join link, consent,
    camera and microphone, then the waiting room."""
    from playwright.sync_api import expect

    patient.goto(join_link)
    patient.get_by_text("Ich bin Erika Mustermann").click()
    patient.get_by_text("Ich habe die").locator("..").locator("input").check()
    patient.get_by_role("button", name="Weiter zu Kamera und Mikrofon").click()
    patient.get_by_role("button", name="Kamera und Mikrofon freigeben").click()
    patient.get_by_role("button", name="Ins Wartezimmer").click()
    expect(
        patient.get_by_role("heading", name="Sie sind im Wartezimmer")
    ).to_be_visible()
