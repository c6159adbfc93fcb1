"""A practitioner and a patient on two different web processes, whose room
hubs talk through one PostgreSQL database, as two `sprechzimmer serve` would."""

import asyncio
import random
import string
import uuid
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest
from psycopg import sql

from adapters.web.postgres_room_bus import (
    PAYLOAD_TABLE,
    PostgresRoomBus,
    notify_payload,
)
from adapters.web.room_envelopes import SIGNAL, Envelope
from adapters.web.rooms import CLOSE_ENDED, CLOSE_REPLACED, RoomHub
from adapters.web.signal_messages import MAX_SDP_LENGTH, parse_signal
from domain.video_session import Role
from tests.support.fake_sockets import (
    close_code,
    eventually,
    fake_participant,
    socket_of,
)
from tests.support.production import fresh_database

OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"}
ANSWER = {"type": "answer", "sdp": "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\n"}


@pytest.fixture
def database_url() -> Iterator[str]:
    with fresh_database() as url:
        yield url


@pytest.fixture
async def hubs(database_url: str) -> AsyncIterator[tuple[RoomHub, RoomHub]]:
    started = []
    for _ in range(2):
        bus = PostgresRoomBus(database_url, first_retry_seconds=0.05)
        hub = RoomHub(bus, resync_grace_seconds=0.5)
        await bus.start()
        await bus.wait_until_listening(5)
        started.append(hub)
    yield started[0], started[1]
    for hub in started:
        await hub.close()
        await hub.bus.close()


@pytest.fixture
def appointment_id() -> uuid.UUID:
    return uuid.uuid4()


def offer_with_candidates(size: int, compressible: bool) -> dict[str, str]:
    lines = ["v=0", "o=- 4611 2 IN IP4 127.0.0.1", "s=-", "t=0 0"]
    number = 0
    while sum(len(line) + 2 for line in lines) < size:
        number += 1
        if compressible:
            foundation = str(number)
        else:
            foundation = "".join(random.choices(string.ascii_letters, k=32))
        lines.append(
            f"a=candidate:{foundation} 1 udp 2122260223 192.168.{number % 250}.7 "
            f"{50000 + number} typ host generation 0"
        )
    message = {"type": "offer", "sdp": "\r\n".join(lines) + "\r\n"}
    return parse_signal(str(message).replace("'", '"'))


def reconnected(hub: RoomHub) -> bool:
    return isinstance(hub.bus, PostgresRoomBus) and hub.bus.reconnects >= 1


async def meet(first: RoomHub, second: RoomHub, appointment_id: uuid.UUID):
    practitioner = fake_participant(Role.PRACTITIONER, appointment_id)
    patient = fake_participant(Role.PATIENT, appointment_id)
    await first.enter(practitioner, call_allowed=False)
    await second.enter(patient, call_allowed=False)
    await eventually(
        lambda: (
            {"type": "presence", "patientPresent": True, "callAllowed": False}
            in socket_of(practitioner).received
        )
    )
    return practitioner, patient


async def test_the_practitioner_sees_the_patient_waiting_on_the_other_process(
    hubs, appointment_id
):
    first, second = hubs
    practitioner, patient = await meet(first, second, appointment_id)

    await first.allow_call(appointment_id)

    await eventually(lambda: "admitted" in socket_of(patient).types())
    # "waiting" twice when the practitioner's arrival reaches the patient's
    # process after the patient, as on one process when she comes first.
    *before, last = socket_of(patient).types()
    assert last == "admitted" and set(before) == {"waiting"}
    assert socket_of(practitioner).take() == [
        {"type": "presence", "patientPresent": False, "callAllowed": False},
        {"type": "presence", "patientPresent": True, "callAllowed": False},
        {"type": "presence", "patientPresent": True, "callAllowed": True},
        {"type": "start-call"},
    ]


async def test_offer_and_answer_cross_between_the_processes(hubs, appointment_id):
    first, second = hubs
    practitioner, patient = await meet(first, second, appointment_id)
    await first.allow_call(appointment_id)
    await eventually(lambda: "admitted" in socket_of(patient).types())

    assert await first.relay(practitioner, OFFER)
    await eventually(lambda: OFFER in socket_of(patient).received)
    assert await second.relay(patient, ANSWER)
    await eventually(lambda: ANSWER in socket_of(practitioner).received)


@pytest.mark.parametrize("compressible", [True, False], ids=["zlib", "stored"])
async def test_an_offer_larger_than_a_notification_arrives_whole(
    hubs, appointment_id, database_url, compressible
):
    first, second = hubs
    practitioner, patient = await meet(first, second, appointment_id)
    await first.allow_call(appointment_id)
    await eventually(lambda: "admitted" in socket_of(patient).types())
    big_offer = offer_with_candidates(MAX_SDP_LENGTH - 200, compressible)
    assert len(big_offer["sdp"]) > 8000
    as_sent = Envelope(SIGNAL, appointment_id, "origin", message=big_offer)
    assert (notify_payload(as_sent) is not None) is compressible

    for _ in range(3):
        assert await first.relay(practitioner, big_offer)
        assert await first.relay(practitioner, OFFER)

    await eventually(lambda: socket_of(patient).received[-6:] == [big_offer, OFFER] * 3)
    if not compressible:
        with psycopg.connect(database_url) as connection:
            left = connection.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(PAYLOAD_TABLE))
            )
            assert left.fetchone() == (0,)


async def test_the_patient_opening_the_link_on_the_other_process_replaces_the_first(
    hubs, appointment_id
):
    first, second = hubs
    practitioner, first_tab = await meet(first, second, appointment_id)
    await second.allow_call(appointment_id)
    await eventually(lambda: "start-call" in socket_of(practitioner).types())
    socket_of(practitioner).take()

    second_tab = fake_participant(Role.PATIENT, appointment_id)
    await first.enter(second_tab, call_allowed=True)

    await eventually(lambda: socket_of(first_tab).closed_with is not None)
    assert close_code(first_tab) == CLOSE_REPLACED
    assert not await second.leave(first_tab)
    assert await first.relay(practitioner, OFFER)
    assert socket_of(second_tab).received[-1] == OFFER
    assert "peer-left" not in socket_of(practitioner).types()


async def test_ending_on_one_process_closes_everyone_everywhere(hubs, appointment_id):
    first, second = hubs
    practitioner, patient = await meet(first, second, appointment_id)

    await first.end(appointment_id)

    await eventually(lambda: socket_of(patient).closed_with is not None)
    for participant in (practitioner, patient):
        assert socket_of(participant).types()[-1] == "ended"
        assert close_code(participant) == CLOSE_ENDED
    assert first.room(appointment_id) is None
    assert second.room(appointment_id) is None


async def test_the_bus_reconnects_after_postgres_drops_its_listener(
    hubs, appointment_id, database_url
):
    first, second = hubs
    practitioner, patient = await meet(first, second, appointment_id)
    await first.allow_call(appointment_id)
    await eventually(lambda: "admitted" in socket_of(patient).types())
    bus = first.bus
    assert isinstance(bus, PostgresRoomBus)
    dropped_pid = bus.listener_backend_pid
    socket_of(practitioner).take()

    database = database_url.rsplit("/", 1)[1]
    with psycopg.connect(database_url, autocommit=True) as connection:
        own_backends = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,)
        ).fetchall()
        assert (dropped_pid,) in own_backends
        connection.execute("SELECT pg_terminate_backend(%s)", (dropped_pid,))

    # While the practitioner's process is deaf, the patient reloads the page.
    assert await second.leave(patient)
    returning = fake_participant(Role.PATIENT, appointment_id)
    await second.enter(returning, call_allowed=True)

    await eventually(
        lambda: bus.reconnects >= 1 and bus.listener_backend_pid != dropped_pid
    )
    await eventually(lambda: "start-call" in socket_of(practitioner).types())
    assert await first.relay(practitioner, OFFER)
    await eventually(lambda: OFFER in socket_of(returning).received)
    assert await second.relay(returning, ANSWER)
    await eventually(lambda: ANSWER in socket_of(practitioner).received)


async def test_the_rooms_recover_when_postgres_drops_every_connection(
    hubs, appointment_id, database_url
):
    first, second = hubs
    practitioner, patient = await meet(first, second, appointment_id)
    await first.allow_call(appointment_id)
    await eventually(lambda: "admitted" in socket_of(patient).types())
    socket_of(practitioner).take()
    socket_of(patient).take()

    # As in a restart of PostgreSQL, but only for this test's own database.
    database = database_url.rsplit("/", 1)[1]
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        )

    await eventually(lambda: all(reconnected(hub) for hub in hubs))
    # Each side announces its member again; the call goes on undisturbed.
    await asyncio.sleep(1.0)
    assert "start-call" not in socket_of(practitioner).types()
    assert "peer-left" not in socket_of(practitioner).types()
    assert "peer-left" not in socket_of(patient).types()
    assert await first.relay(practitioner, OFFER)
    await eventually(lambda: OFFER in socket_of(patient).received)
    assert await second.relay(patient, ANSWER)
    await eventually(lambda: ANSWER in socket_of(practitioner).received)
