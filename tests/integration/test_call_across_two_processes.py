"""Two `sprechzimmer serve` sharing one PostgreSQL for their rooms: the
practitioner's browser talks to one, the patient's to the other, and the call
still comes about, video and all.

Until the event store itself moves to PostgreSQL, both processes also share
one data folder (the SQLite event store) so that they know the same
appointments.
"""

import asyncio
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from adapters.media.test_peer import (
    SESSION_COOKIE,
    HeadlessPeer,
    loopback_candidates_only,
)
from tests.integration.test_signaling_with_aiortc_peers import (
    FRAMES,
    PATIENT_CAMERA,
    PRACTITIONER_CAMERA,
    Invitation,
    admit,
    invitation,  # noqa: F401 (the fixture, on the first server)
)
from tests.support.mailbox import Mailbox
from tests.support.practice import give_consent
from tests.support.production import fresh_database
from tests.support.server import RunningServer


@pytest.fixture
def database_url() -> Iterator[str]:
    with fresh_database() as url:
        yield url


@pytest.fixture
def server(
    tmp_path: Path, mailbox: Mailbox, database_url: str
) -> Iterator[RunningServer]:
    running = RunningServer(
        tmp_path / "data",
        smtp_url=mailbox.url,
        SPRECHZIMMER_DATABASE_URL=database_url,
    ).start()
    yield running
    running.stop()
    print("---- practitioner's server output ----\n" + running.log)


@pytest.fixture
def second_server(
    server: RunningServer, mailbox: Mailbox, database_url: str
) -> Iterator[RunningServer]:
    running = RunningServer(
        server.data_dir,
        smtp_url=mailbox.url,
        SPRECHZIMMER_DATABASE_URL=database_url,
    ).start()
    yield running
    running.stop()
    print("---- patient's server output ----\n" + running.log)


async def test_a_call_between_browsers_on_two_web_processes(
    server: RunningServer,
    second_server: RunningServer,
    invitation: Invitation,  # noqa: F811 (the fixture imported above)
) -> None:
    give_consent(invitation.join_link)
    token = urlsplit(invitation.join_link).path.rsplit("/", 1)[-1]
    practitioner_ws = "ws://" + urlsplit(server.base_url).netloc
    patient_ws = "ws://" + urlsplit(second_server.base_url).netloc
    session = invitation.practice.http.cookies[SESSION_COOKIE]

    with loopback_candidates_only():
        async with (
            HeadlessPeer(
                f"{patient_ws}/ws/j/{token}",
                origin=second_server.base_url,
                video_size=PATIENT_CAMERA,
                audio=True,
            ) as patient,
            HeadlessPeer(
                f"{practitioner_ws}/ws/termine/{invitation.appointment_id}",
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

            await asyncio.to_thread(admit, invitation)
            await patient.wait_for_message("admitted")
            await practitioner.wait_for_message("start-call")
            await asyncio.gather(
                patient.wait_for_frames(FRAMES, timeout=30),
                practitioner.wait_for_frames(FRAMES, timeout=30),
            )

            assert patient.last_video_size == PRACTITIONER_CAMERA
            assert practitioner.last_video_size == PATIENT_CAMERA
            assert patient.connection_state == "connected"
            assert practitioner.connection_state == "connected"
