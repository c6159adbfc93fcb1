"""A group therapy session through the SFU in real browsers, end-to-end
encrypted: every browser encrypts its frames before they leave it, the SFU
forwards ciphertext, and only the participants hold the keys.

The pages come from tests/support/sfu_harness, which stands in for the
product's signaling until the call pages use e2ee.js.
"""

import re
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import chromium, screenshot, screenshots_on_failure
from tests.support.sfu_harness import RunningHarness

pytestmark = pytest.mark.browser

#: Older Chromium, Edge and Opera offer only createEncodedStreams.
WITHOUT_SCRIPT_TRANSFORM = "delete window.RTCRtpScriptTransform;"
WITHOUT_FRAME_ACCESS = (
    WITHOUT_SCRIPT_TRANSFORM + "delete RTCRtpSender.prototype.createEncodedStreams;"
    "delete RTCRtpReceiver.prototype.createEncodedStreams;"
)
REFUSAL = (
    "Ihr Browser kann Gruppengespräche nicht Ende-zu-Ende verschlüsseln. "
    "Bitte verwenden Sie eine aktuelle Version von Chrome, Edge, Firefox oder Safari."
)
FINGERPRINT = re.compile(r"\d{5}( \d{5}){5}")


@dataclass
class Participant:
    name: str
    page: Page

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.page.evaluate("window.harness.state")
        return state

    def inbound(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Per publisher and kind: inbound-rtp statistics and the worker's
        counters of the slot that shows the publisher."""
        found: dict[str, dict[str, dict[str, Any]]] = self.page.evaluate(
            "window.harness.inbound()"
        )
        return found

    def fingerprint(self) -> str:
        return str(self.page.evaluate("window.harness.fingerprint()"))

    def shown_fingerprint(self) -> str:
        return self.page.locator("#fingerprint").inner_text()


@pytest.fixture(scope="module")
def harness() -> Iterator[RunningHarness]:
    running = RunningHarness().start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


@pytest.fixture
def call(
    browser: Browser, harness: RunningHarness
) -> Iterator[Callable[..., list[Participant]]]:
    """Opens a page per participant in a room; closes them all at the end."""
    with ExitStack() as contexts:

        def open_call(
            room: str,
            names: list[str],
            init_scripts: dict[str, str] | None = None,
            **options: dict[str, str],
        ) -> list[Participant]:
            participants = []
            for name in names:
                context = browser.new_context(locale="de-DE")
                contexts.callback(context.close)
                if init_scripts and name in init_scripts:
                    context.add_init_script(init_scripts[name])
                page = context.new_page()
                page.goto(harness.page_url(room, name, **options.get(name, {})))
                participants.append(Participant(name, page))
            return participants

        yield open_call


def wait_until(what: str, done: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(1)
    raise AssertionError(f"not within {timeout} s: {what}")


def everyone_decodes_everyone(group: list[Participant], frames: int) -> bool:
    for me in group:
        inbound = me.inbound()
        for other in group:
            if other is me:
                continue
            received = inbound.get(other.name, {})
            if received.get("video", {}).get("framesDecoded", 0) < frames:
                return False
            if received.get("audio", {}).get("totalAudioEnergy", 0) <= 0:
                return False
    return True


def test_five_participants_see_and_hear_each_other_through_encrypted_frames(
    call: Callable[..., list[Participant]], harness: RunningHarness
) -> None:
    names = ["anna", "ben", "carla", "dieter", "emine"]
    group = call("gruppe-montag", names)
    with screenshots_on_failure("sfu-e2ee-five", **{p.name: p.page for p in group}):
        wait_until(
            "everyone decodes everyone's video and hears them",
            lambda: everyone_decodes_everyone(group, frames=10),
            timeout=45,
        )
        before = {me.name: me.inbound() for me in group}
        time.sleep(2)
        for me in group:
            now = me.inbound()
            for other in group:
                if other is me:
                    continue
                video, audio = now[other.name]["video"], now[other.name]["audio"]
                earlier = before[me.name][other.name]
                assert video["framesDecoded"] > earlier["video"]["framesDecoded"]
                assert audio["totalAudioEnergy"] > earlier["audio"]["totalAudioEnergy"]
                # Each slot's frames were opened with that publisher's key.
                assert video["worker"]["publisherId"] == other.name
                assert audio["worker"]["publisherId"] == other.name
                assert video["worker"]["keyId"] == other.state()["sentKeyIds"][-1]

        assert all(
            p.page.evaluate("window.harness.encryptsWhatIsSent()") for p in group
        )
        fingerprints = {p.fingerprint() for p in group}
        assert len(fingerprints) == 1
        [fingerprint] = fingerprints
        assert FINGERPRINT.fullmatch(fingerprint)
        assert group[0].shown_fingerprint() == fingerprint

        # The relay carried public keys and sealed keys, never a media key.
        relayed = harness.relayed()
        assert {m["type"] for m in relayed} == {"hello", "key"}
        assert len([m for m in relayed if m["type"] == "key"]) >= 5 * 4
        text = repr(relayed)
        for participant in group:
            for raw_key in participant.page.evaluate("window.harness.rawSendingKeys()"):
                assert raw_key not in text
    screenshot(group[0].page, "sfu-e2ee-five-participants")


def test_a_participant_with_a_wrong_key_receives_ciphertext_and_decodes_nothing(
    call: Callable[..., list[Participant]],
) -> None:
    anna, _ben, carla = call(
        "gruppe-dienstag",
        ["anna", "ben", "carla"],
        carla={"wrong-key-from": "ben", "slots": "2"},
        anna={"slots": "2"},
        ben={"slots": "2"},
    )
    with screenshots_on_failure("sfu-e2ee-wrong-key", anna=anna.page, carla=carla.page):
        wait_until(
            "carla decodes anna, anna decodes ben",
            lambda: (
                carla.inbound().get("anna", {}).get("video", {}).get("framesDecoded", 0)
                >= 10
                and anna.inbound()
                .get("ben", {})
                .get("video", {})
                .get("framesDecoded", 0)
                >= 10
            ),
        )
        first = carla.inbound()["ben"]
        time.sleep(2)
        later = carla.inbound()["ben"]
        for kind in ("video", "audio"):
            # Ben's frames arrive, and keep arriving...
            assert later[kind]["packetsReceived"] > first[kind]["packetsReceived"]
            worker = later[kind]["worker"]
            assert worker["received"] > first[kind]["worker"]["received"] > 0
            # ...but none opens: the SFU forwarded ciphertext, and the worker
            # drops it before the decoder. (Chromium counts framesReceived
            # after the transform, so it stays at zero as well.)
            assert worker["decrypted"] == 0
            assert worker["failed"] == worker["received"]
        assert later["video"]["framesDecoded"] == 0
        assert later["audio"]["totalAudioEnergy"] == 0
        assert anna.inbound()["ben"]["video"]["framesDecoded"] >= 10
    screenshot(carla.page, "sfu-e2ee-wrong-key")


def test_when_someone_leaves_the_others_rotate_their_keys_and_go_on(
    call: Callable[..., list[Participant]], harness: RunningHarness
) -> None:
    two_slots = {"slots": "2"}
    anna, ben, carla = call(
        "gruppe-mittwoch",
        ["anna", "ben", "carla"],
        # Ben's browser has only the older API; the call is the same for him.
        init_scripts={"ben": WITHOUT_SCRIPT_TRANSFORM},
        anna=two_slots,
        ben=two_slots,
        carla=two_slots,
    )
    with screenshots_on_failure("sfu-e2ee-rotation", anna=anna.page, ben=ben.page):
        wait_until(
            "all three decode each other",
            lambda: everyone_decodes_everyone([anna, ben, carla], frames=5),
        )
        assert anna.page.evaluate("window.harness.support()") == "script-transform"
        assert ben.page.evaluate("window.harness.support()") == "encoded-streams"
        fingerprint_of_three = anna.fingerprint()
        first_keys = {p.name: p.state()["sentKeyIds"][-1] for p in (anna, ben)}

        carla.page.context.close()

        wait_until(
            "anna and ben took new sending keys",
            lambda: all(len(p.state()["sentKeyIds"]) == 2 for p in (anna, ben)),
            timeout=15,
        )
        new_keys = {p.name: p.state()["sentKeyIds"][-1] for p in (anna, ben)}
        assert all(new_keys[name] != first_keys[name] for name in new_keys)

        def decodes_under_new_key(me: Participant, other: Participant) -> bool:
            video = me.inbound().get(other.name, {}).get("video", {})
            return (video.get("worker") or {}).get("keyId") == new_keys[other.name]

        wait_until(
            "the frames come under the new keys",
            lambda: (
                decodes_under_new_key(anna, ben) and decodes_under_new_key(ben, anna)
            ),
            timeout=15,
        )
        before = {p.name: p.inbound() for p in (anna, ben)}
        time.sleep(2)
        for me, other in ((anna, ben), (ben, anna)):
            now = me.inbound()[other.name]
            earlier = before[me.name][other.name]
            assert now["video"]["framesDecoded"] > earlier["video"]["framesDecoded"] + 5
            assert (
                now["audio"]["totalAudioEnergy"] > earlier["audio"]["totalAudioEnergy"]
            )

        assert anna.fingerprint() == ben.fingerprint() != fingerprint_of_three
        # Carla never got the new keys.
        sealed = [m for m in harness.relayed() if m["type"] == "key"]
        assert {m["to"] for m in sealed if m["keyId"] in new_keys.values()} == {
            "anna",
            "ben",
        }
    screenshot(anna.page, "sfu-e2ee-after-rotation")


def test_a_browser_that_cannot_encrypt_frames_is_refused_and_sends_no_offer(
    call: Callable[..., list[Participant]], browser: Browser, harness: RunningHarness
) -> None:
    context = browser.new_context(locale="de-DE")
    try:
        context.add_init_script(WITHOUT_FRAME_ACCESS)
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(harness.page_url("gruppe-donnerstag", "franz"))

        expect(page.get_by_role("alert")).to_have_text(REFUSAL)
        screenshot(page, "sfu-e2ee-refused")
        time.sleep(1)
        assert page.evaluate("window.harness.state.refused") is True
        assert page.evaluate("window.harness.state.offerSent") is False
        assert not [url for url in requests if "/rooms/" in url]
        assert "franz" not in {m.get("from") for m in harness.relayed()}
    finally:
        context.close()
