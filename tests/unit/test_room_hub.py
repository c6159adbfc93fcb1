"""The video room of one appointment, as the browsers see it, on one web
process and on two processes joined by a bus (played here in memory)."""

import uuid

import pytest

from adapters.web.room_bus import LocalRoomBus
from adapters.web.rooms import CLOSE_ENDED, CLOSE_REPLACED, RoomHub
from domain.video_session import Role
from tests.support.fake_sockets import close_code, fake_participant, socket_of

OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"}
ANSWER = {"type": "answer", "sdp": "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\n"}


@pytest.fixture
def appointment_id() -> uuid.UUID:
    return uuid.uuid4()


# One web process


async def test_a_waiting_patient_is_admitted_and_the_call_starts(appointment_id):
    hub = RoomHub()
    practitioner = fake_participant(Role.PRACTITIONER, appointment_id)
    patient = fake_participant(Role.PATIENT, appointment_id)

    await hub.enter(practitioner, call_allowed=False)
    await hub.enter(patient, call_allowed=False)
    assert socket_of(patient).take() == [{"type": "waiting"}]
    assert socket_of(practitioner).take() == [
        {"type": "presence", "patientPresent": False, "callAllowed": False},
        {"type": "presence", "patientPresent": True, "callAllowed": False},
    ]

    await hub.allow_call(appointment_id)
    assert socket_of(patient).take() == [{"type": "admitted"}]
    assert socket_of(practitioner).take() == [
        {"type": "presence", "patientPresent": True, "callAllowed": True},
        {"type": "start-call"},
    ]


async def test_call_messages_pass_only_once_the_patient_is_admitted(appointment_id):
    hub = RoomHub()
    practitioner = fake_participant(Role.PRACTITIONER, appointment_id)
    patient = fake_participant(Role.PATIENT, appointment_id)
    await hub.enter(practitioner, call_allowed=False)
    await hub.enter(patient, call_allowed=False)
    socket_of(patient).take()

    assert not await hub.relay(practitioner, OFFER)
    assert socket_of(patient).received == []

    await hub.allow_call(appointment_id)
    socket_of(patient).take()
    assert await hub.relay(practitioner, OFFER)
    assert await hub.relay(patient, ANSWER)
    assert socket_of(patient).take() == [OFFER]
    assert socket_of(practitioner).received[-1] == ANSWER


async def test_a_second_tab_of_the_patient_takes_over_quietly(appointment_id):
    hub = RoomHub()
    practitioner = fake_participant(Role.PRACTITIONER, appointment_id)
    first_tab = fake_participant(Role.PATIENT, appointment_id)
    second_tab = fake_participant(Role.PATIENT, appointment_id)
    await hub.enter(practitioner, call_allowed=True)
    await hub.enter(first_tab, call_allowed=True)

    await hub.enter(second_tab, call_allowed=True)
    socket_of(practitioner).take()

    assert close_code(first_tab) == CLOSE_REPLACED
    assert not await hub.leave(first_tab)
    assert not await hub.relay(first_tab, ANSWER)
    assert socket_of(practitioner).received == []
    assert await hub.relay(second_tab, ANSWER)


async def test_the_practitioner_learns_when_the_patient_leaves(appointment_id):
    hub = RoomHub()
    practitioner = fake_participant(Role.PRACTITIONER, appointment_id)
    patient = fake_participant(Role.PATIENT, appointment_id)
    await hub.enter(practitioner, call_allowed=True)
    await hub.enter(patient, call_allowed=True)
    socket_of(practitioner).take()

    assert await hub.leave(patient)

    assert socket_of(practitioner).take() == [{"type": "peer-left", "role": "patient"}]
    assert await hub.leave(practitioner)
    assert hub.room(appointment_id) is None


async def test_ending_the_appointment_closes_both_sockets(appointment_id):
    hub = RoomHub()
    practitioner = fake_participant(Role.PRACTITIONER, appointment_id)
    patient = fake_participant(Role.PATIENT, appointment_id)
    await hub.enter(practitioner, call_allowed=True)
    await hub.enter(patient, call_allowed=True)

    await hub.end(appointment_id)

    for participant in (practitioner, patient):
        assert socket_of(participant).types()[-1] == "ended"
        assert socket_of(participant).closed_with == (
            CLOSE_ENDED,
            "Die Sprechstunde ist beendet.",
        )
    assert hub.room(appointment_id) is None


# Two web processes


def two_processes() -> tuple[RoomHub, RoomHub]:
    bus = LocalRoomBus()
    return RoomHub(bus), RoomHub(bus)


async def test_the_patient_on_another_process_is_greeted_once(appointment_id):
    first, second = two_processes()
    practitioner = fake_participant(Role.PRACTITIONER, appointment_id)
    patient = fake_participant(Role.PATIENT, appointment_id)

    await first.enter(practitioner, call_allowed=True)
    await second.enter(patient, call_allowed=True)

    assert socket_of(patient).take() == [{"type": "admitted"}]
    assert socket_of(practitioner).take() == [
        {"type": "presence", "patientPresent": False, "callAllowed": True},
        {"type": "presence", "patientPresent": True, "callAllowed": True},
        {"type": "start-call"},
    ]


async def test_a_practitioner_arriving_later_elsewhere_starts_the_call(
    appointment_id,
):
    first, second = two_processes()
    practitioner = fake_participant(Role.PRACTITIONER, appointment_id)
    patient = fake_participant(Role.PATIENT, appointment_id)

    await second.enter(patient, call_allowed=False)
    await first.enter(practitioner, call_allowed=False)
    await first.allow_call(appointment_id)

    # As on one process: the practitioner's arrival repeats "waiting".
    assert socket_of(patient).take() == [
        {"type": "waiting"},
        {"type": "waiting"},
        {"type": "admitted"},
    ]
    assert socket_of(practitioner).types().count("start-call") == 1
    assert await first.relay(practitioner, OFFER)
    assert await second.relay(patient, ANSWER)
    assert socket_of(patient).take() == [OFFER]
    assert socket_of(practitioner).received[-1] == ANSWER


async def test_admitting_from_a_process_without_sockets_reaches_the_room(
    appointment_id,
):
    bus = LocalRoomBus()
    first, second, pages_only = RoomHub(bus), RoomHub(bus), RoomHub(bus)
    practitioner = fake_participant(Role.PRACTITIONER, appointment_id)
    patient = fake_participant(Role.PATIENT, appointment_id)
    await first.enter(practitioner, call_allowed=False)
    await second.enter(patient, call_allowed=False)
    socket_of(practitioner).take()

    await pages_only.allow_call(appointment_id)

    assert socket_of(patient).received[-1] == {"type": "admitted"}
    assert socket_of(practitioner).take() == [
        {"type": "presence", "patientPresent": True, "callAllowed": True},
        {"type": "start-call"},
    ]


async def test_the_patient_opening_the_link_on_another_process_replaces_the_first(
    appointment_id,
):
    first, second = two_processes()
    practitioner = fake_participant(Role.PRACTITIONER, appointment_id)
    first_tab = fake_participant(Role.PATIENT, appointment_id)
    second_tab = fake_participant(Role.PATIENT, appointment_id)
    await first.enter(practitioner, call_allowed=True)
    await first.enter(first_tab, call_allowed=True)
    socket_of(practitioner).take()

    await second.enter(second_tab, call_allowed=True)

    assert close_code(first_tab) == CLOSE_REPLACED
    assert not await first.leave(first_tab)
    assert socket_of(practitioner).take() == [
        {"type": "presence", "patientPresent": True, "callAllowed": True},
        {"type": "start-call"},
    ]
    assert await first.relay(practitioner, OFFER)
    assert socket_of(second_tab).received[-1] == OFFER


async def test_leaving_and_ending_reach_the_other_process(appointment_id):
    first, second = two_processes()
    practitioner = fake_participant(Role.PRACTITIONER, appointment_id)
    patient = fake_participant(Role.PATIENT, appointment_id)
    await first.enter(practitioner, call_allowed=True)
    await second.enter(patient, call_allowed=True)
    socket_of(practitioner).take()

    assert await second.leave(patient)
    assert socket_of(practitioner).take() == [{"type": "peer-left", "role": "patient"}]
    assert not await first.relay(practitioner, OFFER)

    returning = fake_participant(Role.PATIENT, appointment_id)
    await second.enter(returning, call_allowed=True)
    await second.end(appointment_id)

    for participant in (practitioner, returning):
        assert socket_of(participant).types()[-1] == "ended"
        assert close_code(participant) == CLOSE_ENDED
    assert first.room(appointment_id) is None


class CuttableBus(LocalRoomBus):
    """A bus whose envelopes can be lost, as while PostgreSQL restarts."""

    def __init__(self) -> None:
        super().__init__()
        self.cut = False

    async def publish(self, envelope):
        if not self.cut:
            await super().publish(envelope)


async def test_after_lost_envelopes_a_member_nobody_confirms_counts_as_gone(
    appointment_id,
):
    bus = CuttableBus()
    first = RoomHub(bus, resync_grace_seconds=0.01)
    second = RoomHub(bus, resync_grace_seconds=0.01)
    practitioner = fake_participant(Role.PRACTITIONER, appointment_id)
    patient = fake_participant(Role.PATIENT, appointment_id)
    await first.enter(practitioner, call_allowed=True)
    await second.enter(patient, call_allowed=True)
    socket_of(practitioner).take()

    bus.cut = True
    await second.leave(patient)
    assert socket_of(practitioner).received == []
    bus.cut = False
    await first.resync()
    assert first._sweep is not None
    await first._sweep

    assert socket_of(practitioner).take() == [{"type": "peer-left", "role": "patient"}]
    assert not await first.relay(practitioner, OFFER)


async def test_announcing_again_after_lost_envelopes_does_not_restart_the_call(
    appointment_id,
):
    bus = LocalRoomBus()
    first = RoomHub(bus, resync_grace_seconds=0.01)
    second = RoomHub(bus, resync_grace_seconds=0.01)
    practitioner = fake_participant(Role.PRACTITIONER, appointment_id)
    patient = fake_participant(Role.PATIENT, appointment_id)
    await first.enter(practitioner, call_allowed=True)
    await second.enter(patient, call_allowed=True)
    socket_of(practitioner).take()
    socket_of(patient).take()

    await first.resync()
    await second.resync()
    assert first._sweep is not None and second._sweep is not None
    await first._sweep
    await second._sweep

    assert socket_of(practitioner).received == []
    assert socket_of(patient).received == []
    assert await first.relay(practitioner, OFFER)
    assert socket_of(patient).received == [OFFER]
