"""A call set up through the real server's signaling sockets by two real WebRTC
peers (aiortc), one for the patient and one for the practitioner."""

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from adapters.media.test_peer import (
    SESSION_COOKIE,
    HeadlessPeer,
    loopback_candidates_only,
)
from tests.support.mailbox import Mailbox
from tests.support.practice import (
    PracticeClient,
    csrf_of,
    give_consent,
    join_link_in,
    soon,
)
from tests.support.server import RunningServer

APPOINTMENT_LINK = re.compile(r'href="/termine/([0-9a-f-]{36})"')
FRAMES = 20
PATIENT_CAMERA = (320, 240)
PRACTITIONER_CAMERA = (352, 288)


@dataclass
class Invitation:
    practice: PracticeClient
    appointment_id: str
    join_link: str


@pytest.fixture
def invitation(server: RunningServer, mailbox: Mailbox) -> Iterator[Invitation]:
    """A practice set up, its practitioner logged in, a patient invited."""
    first_start = PracticeClient(server)
    first_start.set_up()
    first_start.http.close()
    practice = PracticeClient(server)  # A fresh login, as on any other morning.
    assert practice.log_in("weber@praxis.test").status_code == 303
    starts = soon()
    assert practice.schedule(starts=starts).status_code == 303
    mail = mailbox.wait_for(lambda m: "erika@example.test" in str(m["To"]))
    calendar = practice.http.get("/", params={"datum": starts.date().isoformat()})
    ids = APPOINTMENT_LINK.findall(calendar.text)
    assert len(set(ids)) == 1, ids
    yield Invitation(practice, ids[0], join_link_in(mail))
    practice.http.close()


def admit(invitation: Invitation) -> None:
    http = invitation.practice.http
    response = http.post(
        f"/termine/{invitation.appointment_id}/einlassen",
        headers={"X-CSRF-Token": csrf_of(http.get("/"))},
    )
    assert response.json() == {"ok": True}, response.text


async def test_two_browsers_worth_of_peers_exchange_video_through_the_signaling_socket(
    server: RunningServer, invitation: Invitation
) -> None:
    give_consent(invitation.join_link)
    token = urlsplit(invitation.join_link).path.rsplit("/", 1)[-1]
    ws_base = "ws://" + urlsplit(server.base_url).netloc
    session = invitation.practice.http.cookies[SESSION_COOKIE]

    with loopback_candidates_only():
        async with (
            HeadlessPeer(
                f"{ws_base}/ws/j/{token}",
                origin=server.base_url,
                video_size=PATIENT_CAMERA,
                audio=True,
            ) as patient,
            HeadlessPeer(
                f"{ws_base}/ws/termine/{invitation.appointment_id}",
                origin=server.base_url,
                cookies={SESSION_COOKIE: session},
                video_size=PRACTITIONER_CAMERA,
                audio=True,
            ) as practitioner,
        ):
            await patient.wait_for_message("waiting")
            await practitioner.wait_for_message(
                "presence", patientPresent=True, callAllowed=False
            )
            assert not practitioner.frames and not patient.frames

            await asyncio.to_thread(admit, invitation)
            await patient.wait_for_message("admitted")
            await practitioner.wait_for_message("start-call")
            await asyncio.gather(
                patient.wait_for_frames(FRAMES, timeout=30),
                practitioner.wait_for_frames(FRAMES, timeout=30),
            )

            assert patient.last_video_size == PRACTITIONER_CAMERA
            assert practitioner.last_video_size == PATIENT_CAMERA
            assert patient.frames["audio"] > 0 and practitioner.frames["audio"] > 0
            assert patient.connection_state == "connected"
            assert practitioner.connection_state == "connected"
            assert patient.close_code is None and practitioner.close_code is None
