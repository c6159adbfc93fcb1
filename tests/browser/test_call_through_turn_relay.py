"""A consultation whose media must go through the practice's TURN relay, as for
a patient whom no direct path reaches: a real coturn with a shared secret, the
server handing each signaling connection credentials of its own, and two real
browsers forced to use nothing but the relay."""

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aioice import stun
from aioice.turn import create_turn_endpoint
from playwright.sync_api import Page, expect

from application.ice_servers import turn_credential
from tests.browser.test_consultation_in_browsers import (
    frames_rise_for,
    wait_for_frames,
)
from tests.support.browser import chromium, screenshot, screenshots_on_failure
from tests.support.coturn import TurnServer
from tests.support.mailbox import Mailbox
from tests.support.practice import (
    PASSWORD,
    PracticeClient,
    give_consent,
    join_link_in,
    soon,
)
from tests.support.server import RunningServer

APPOINTMENT_LINK = re.compile(r'href="/termine/([0-9a-f-]{36})"')
OPAQUE_USERNAME = re.compile(r"([0-9]+):[0-9a-f]{16}")

SELECTED_PATH = """
async () => {
  const pc = window.sprechzimmer && window.sprechzimmer.peerConnection;
  if (!pc) return null;
  const stats = await pc.getStats();
  let pairId = null;
  stats.forEach((report) => {
    if (report.type === "transport" && report.selectedCandidatePairId) {
      pairId = report.selectedCandidatePairId;
    }
  });
  const pair = pairId ? stats.get(pairId) : null;
  if (!pair) return null;
  return {
    local: stats.get(pair.localCandidateId).candidateType,
    remote: stats.get(pair.remoteCandidateId).candidateType,
  };
}
"""

TURN_ENTRY = """
() => (window.sprechzimmer.iceServers || []).find(
  (server) => [].concat(server.urls).some((url) => url.startsWith("turn:"))
) || null
"""


@pytest.fixture
def turn_server(tmp_path: Path) -> Iterator[TurnServer]:
    relay = TurnServer(tmp_path / "turn").start()
    yield relay
    relay.stop()
    print("---- turnserver log ----\n" + relay.log)


@pytest.fixture
def relayed_server(
    tmp_path: Path, mailbox: Mailbox, turn_server: TurnServer
) -> Iterator[RunningServer]:
    running = RunningServer(
        tmp_path / "data",
        smtp_url=mailbox.url,
        SPRECHZIMMER_TURN_URLS=turn_server.url,
        SPRECHZIMMER_TURN_SECRET=turn_server.secret,
        SPRECHZIMMER_TURN_CREDENTIAL_SECONDS="3600",
        SPRECHZIMMER_ICE_TRANSPORT_POLICY="relay",
    ).start()
    yield running
    running.stop()
    print("---- server output ----\n" + running.log)


def selected_path(page: Page, timeout: float = 20) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        path = page.evaluate(SELECTED_PATH)
        if path:
            return path
        time.sleep(0.25)
    raise AssertionError("no candidate pair was selected")


@pytest.mark.browser
def test_when_the_relay_is_forced_the_call_runs_through_turn_with_fresh_credentials(
    relayed_server: RunningServer, mailbox: Mailbox, turn_server: TurnServer
) -> None:
    server = relayed_server
    practice = PracticeClient(server)
    practice.set_up()
    starts = soon()
    assert practice.schedule(starts=starts).status_code == 303
    invitation = mailbox.wait_for(lambda m: "erika@example.test" in str(m["To"]))
    join_link = join_link_in(invitation)
    give_consent(join_link)
    calendar = practice.http.get("/", params={"datum": starts.date().isoformat()})
    appointment_id = APPOINTMENT_LINK.findall(calendar.text)[0]

    with chromium() as browser:
        practice_context = browser.new_context(locale="de-DE")
        practice_context.grant_permissions(
            ["camera", "microphone"], origin=server.base_url
        )
        doctor = practice_context.new_page()
        patient_context = browser.new_context(locale="de-DE")
        patient_context.grant_permissions(
            ["camera", "microphone"], origin=server.base_url
        )
        patient = patient_context.new_page()

        with screenshots_on_failure("relay", doctor=doctor, patient=patient):
            doctor.goto(server.base_url + "/anmelden")
            doctor.get_by_label("E-Mail-Adresse").fill("weber@praxis.test")
            doctor.get_by_label("Passwort").fill(PASSWORD)
            doctor.get_by_role("button", name="Anmelden").click()
            expect(
                doctor.get_by_role("heading", name="Videotermin planen")
            ).to_be_visible()

            patient.goto(join_link)
            patient.get_by_role("button", name="Kamera und Mikrofon freigeben").click()
            patient.get_by_role("button", name="Ins Wartezimmer").click()
            expect(
                patient.get_by_role("heading", name="Sie sind im Wartezimmer")
            ).to_be_visible()

            doctor.goto(f"{server.base_url}/termine/{appointment_id}")
            admit = doctor.get_by_role(
                "button", name="Eintreten lassen und Gespräch starten"
            )
            expect(admit).to_be_enabled(timeout=10_000)
            admit.click()

            # Both see the relay in the badge, and the statistics agree.
            for page in (doctor, patient):
                expect(page.locator("#security-badge")).to_be_visible(timeout=20_000)
                expect(page.locator("#security-text")).to_contain_text("Relay-Server")
                assert selected_path(page) == {"local": "relay", "remote": "relay"}
            wait_for_frames(doctor)
            wait_for_frames(patient)
            doctor_frames = frames_rise_for(doctor, 3.0)
            patient_frames = frames_rise_for(patient, 3.0)
            screenshot(doctor, "practitioner-in-relayed-call")
            screenshot(patient, "patient-in-relayed-call")
            assert doctor_frames[-1] > doctor_frames[0] > 0, doctor_frames
            assert patient_frames[-1] > patient_frames[0] > 0, patient_frames

            # Each connection got a credential of its own, for an hour, with
            # nothing in its name but the expiry and a random part.
            entries = [page.evaluate(TURN_ENTRY) for page in (doctor, patient)]
            usernames = [entry["username"] for entry in entries]
            assert usernames[0] != usernames[1]
            for entry in entries:
                assert entry["urls"] == [turn_server.url]
                found = OPAQUE_USERNAME.fullmatch(entry["username"])
                assert found, entry["username"]
                assert abs(int(found.group(1)) - (time.time() + 3600)) < 120
                assert entry["username"] in turn_server.log

            # Neither the pages nor the server's log hold the secret or a
            # credential: they travelled only over the signaling sockets.
            secrets_seen = [turn_server.secret] + [e["credential"] for e in entries]
            with httpx.Client(timeout=20, trust_env=False) as visitor:
                join_page = visitor.get(join_link).text
            room_page = practice.http.get(f"/termine/{appointment_id}").text
            for page_text in (join_page, room_page, server.log):
                assert f"127.0.0.1:{turn_server.port}" not in page_text
                for secret in secrets_seen:
                    assert secret not in page_text


def forged(credential: str) -> str:
    first = "B" if credential[0] == "A" else "A"
    return first + credential[1:]


async def allocation(relay: TurnServer, username: str, password: str) -> str:
    """Allocates a relayed address as a browser would and gives it up again;
    tells whether the relay allowed it or with which error it refused."""
    try:
        transport, _ = await asyncio.wait_for(
            create_turn_endpoint(
                asyncio.DatagramProtocol, relay.address, username, password
            ),
            timeout=10,
        )
    except stun.TransactionFailed as refused:
        return f"refused {refused.response.error_code}"
    transport.close()
    return "allocated"


async def test_the_relay_takes_a_fresh_credential_and_refuses_forged_or_expired_ones(
    turn_server: TurnServer,
) -> None:
    now = time.time()
    fresh = turn_credential(turn_server.secret, now, 3600)
    foreign = turn_credential("ein-anderes-geheimnis-12345", now, 3600)
    expired = turn_credential(turn_server.secret, now - 3600, 600)
    # A longer validity written into the name does not match the signature.
    stretched = f"{int(now) + 86_400}:{fresh.username.split(':', 1)[1]}"

    attempts = {
        "fresh": (fresh.username, fresh.credential),
        "forged signature": (fresh.username, forged(fresh.credential)),
        "other secret": (foreign.username, foreign.credential),
        "expired": (expired.username, expired.credential),
        "stretched expiry": (stretched, fresh.credential),
    }
    outcomes = {
        name: await allocation(turn_server, username, password)
        for name, (username, password) in attempts.items()
    }

    assert outcomes == {
        "fresh": "allocated",
        "forged signature": "refused 401",
        "other secret": "refused 401",
        "expired": "refused 401",
        "stretched expiry": "refused 401",
    }
