"""The video room of a group appointment: members by participant, messages
addressed from one member to another, on one process and across two."""

import uuid
from typing import cast

import orjson
import pytest
from starlette.websockets import WebSocket

from adapters.web.room_bus import LocalRoomBus
from adapters.web.rooms import (
    CLOSE_REMOVED,
    CLOSE_TOO_MANY,
    MAX_MEMBERS,
    Participant,
    RoomHub,
)
from adapters.web.signal_messages import BadSignal, parse_signal
from domain.video_session import Role
from tests.support.fake_sockets import FakeSocket, close_code, socket_of

OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"}


@pytest.fixture
def appointment_id() -> uuid.UUID:
    return uuid.uuid4()


def member(appointment_id: uuid.UUID, key: str) -> Participant:
    role = Role.PRACTITIONER if key == "practitioner" else Role.PATIENT
    return Participant(
        cast(WebSocket, FakeSocket()),
        role,
        appointment_id,
        patient_id=key if role is Role.PATIENT else "p1",
        group=True,
    )


def last_of(participant: Participant, kind: str) -> dict:
    found = [m for m in socket_of(participant).received if m["type"] == kind]
    assert found, f"no {kind} message"
    return found[-1]


async def test_the_practitioner_sees_everyone_waiting_and_admits_some(appointment_id):
    hub = RoomHub()
    doctor = member(appointment_id, "practitioner")
    patients = {key: member(appointment_id, key) for key in ("p1", "p2", "p3")}
    await hub.enter(doctor, call_allowed=False, admitted=())
    for patient in patients.values():
        await hub.enter(patient, call_allowed=False, admitted=())

    roster = last_of(doctor, "roster")
    assert roster == {"type": "roster", "present": ["p1", "p2", "p3"], "admitted": []}
    assert socket_of(patients["p2"]).received[-1] == {"type": "waiting"}

    await hub.allow_call(appointment_id, ("p1", "p3"))
    assert last_of(doctor, "roster")["admitted"] == ["p1", "p3"]
    assert socket_of(patients["p1"]).received[-2:][0] == {"type": "admitted"}
    assert socket_of(patients["p2"]).received[-1] == {"type": "waiting"}
    peers = last_of(patients["p3"], "peers")
    assert peers["self"] == "p3"
    assert peers["mode"] == "p2p"
    assert [peer["id"] for peer in peers["peers"]] == ["practitioner", "p1"]
    assert "peers" not in socket_of(patients["p2"]).types()


async def test_messages_go_to_the_member_named_and_say_who_sent_them(appointment_id):
    hub = RoomHub()
    doctor = member(appointment_id, "practitioner")
    first, second = member(appointment_id, "p1"), member(appointment_id, "p2")
    waiting = member(appointment_id, "p3")
    for participant in (doctor, first, second, waiting):
        await hub.enter(participant, call_allowed=False, admitted=())
    await hub.allow_call(appointment_id, ("p1", "p2"))
    for participant in (doctor, first, second, waiting):
        socket_of(participant).take()

    assert await hub.relay(first, {**OFFER, "to": "p2"})
    assert socket_of(second).take() == [{**OFFER, "from": "p1"}]
    assert socket_of(doctor).received == []

    # Nobody in the call talks to someone still waiting, or to nobody.
    assert not await hub.relay(first, {**OFFER, "to": "p3"})
    assert not await hub.relay(first, {**OFFER, "to": "p7"})
    assert not await hub.relay(waiting, {**OFFER, "to": "p1"})
    assert socket_of(waiting).received == []


async def test_only_the_practitioner_mutes_someone_for_everyone(appointment_id):
    hub = RoomHub()
    doctor = member(appointment_id, "practitioner")
    first, second = member(appointment_id, "p1"), member(appointment_id, "p2")
    for participant in (doctor, first, second):
        await hub.enter(participant, call_allowed=False, admitted=("p1", "p2"))
    socket_of(second).take()

    assert not await hub.relay(first, {"type": "mute", "to": "p2"})
    assert await hub.relay(doctor, {"type": "mute", "to": "p2"})
    assert socket_of(second).take() == [{"type": "mute", "from": "practitioner"}]

    # The muted one's state goes to everyone else.
    assert await hub.relay(
        second, {"type": "media-state", "audio": False, "video": True}
    )
    assert last_of(first, "media-state") == {
        "type": "media-state",
        "audio": False,
        "video": True,
        "from": "p2",
    }
    assert last_of(doctor, "media-state")["from"] == "p2"


async def test_a_removed_patient_is_closed_out_and_the_others_told(appointment_id):
    bus = LocalRoomBus()
    here, there = RoomHub(bus), RoomHub(bus)
    doctor = member(appointment_id, "practitioner")
    first, second = member(appointment_id, "p1"), member(appointment_id, "p2")
    await here.enter(doctor, call_allowed=False, admitted=("p1", "p2"))
    await here.enter(first, call_allowed=False, admitted=("p1", "p2"))
    await there.enter(second, call_allowed=False, admitted=("p1", "p2"))

    await here.remove(appointment_id, "p2")

    assert close_code(second) == CLOSE_REMOVED
    assert {"type": "removed"} in socket_of(second).received
    assert last_of(first, "peer-left")["from"] == "p2"
    assert [peer["id"] for peer in last_of(first, "peers")["peers"]] == ["practitioner"]


async def test_a_call_across_two_processes_passes_addressed_messages(appointment_id):
    bus = LocalRoomBus()
    here, there = RoomHub(bus), RoomHub(bus)
    doctor = member(appointment_id, "practitioner")
    first, second = member(appointment_id, "p1"), member(appointment_id, "p2")
    await here.enter(doctor, call_allowed=False, admitted=())
    await here.enter(first, call_allowed=False, admitted=())
    await there.enter(second, call_allowed=False, admitted=())
    await here.allow_call(appointment_id, ("p1", "p2"))

    peers = last_of(second, "peers")
    assert [peer["id"] for peer in peers["peers"]] == ["practitioner", "p1"]
    socket_of(second).take()
    assert await here.relay(first, {**OFFER, "to": "p2"})
    assert socket_of(second).take() == [{**OFFER, "from": "p1"}]


async def test_a_tenth_member_is_refused(appointment_id):
    hub = RoomHub()
    everyone = [member(appointment_id, "practitioner")] + [
        member(appointment_id, f"p{number}") for number in range(1, MAX_MEMBERS)
    ]
    for participant in everyone:
        assert await hub.enter(participant, call_allowed=False, admitted=())

    tenth = member(appointment_id, "p9")
    assert not await hub.enter(tenth, call_allowed=False, admitted=())
    assert close_code(tenth) == CLOSE_TOO_MANY
    assert not await hub.relay(tenth, {**OFFER, "to": "p1"})
    assert all(close_code(participant) is None for participant in everyone)


@pytest.mark.parametrize(
    "message",
    [
        {**OFFER, "from": "practitioner"},
        {**OFFER, "to": "p1", "from": "p2"},
        {"type": "mute", "to": "p1", "from": "practitioner"},
    ],
)
def test_a_message_naming_its_own_sender_is_refused(message):
    with pytest.raises(BadSignal, match="unerlaubte Felder"):
        parse_signal(orjson.dumps(message))


@pytest.mark.parametrize("receiver", ["p0", "p10", "doctor", "", 3, None])
def test_a_message_to_no_possible_member_is_refused(receiver):
    with pytest.raises(BadSignal, match="Empfänger"):
        parse_signal(orjson.dumps({**OFFER, "to": receiver}))


def test_mute_needs_a_receiver():
    with pytest.raises(BadSignal, match="keinen Empfänger"):
        parse_signal('{"type": "mute"}')
