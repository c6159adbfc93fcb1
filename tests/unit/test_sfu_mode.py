"""A group call moves to the SFU when the fifth member joins and back to the
mesh when one leaves; the browsers' keys pass through the server sealed."""

import uuid
from pathlib import Path
from typing import cast

import orjson
import pytest
from starlette.websockets import WebSocket

from adapters.web.room_bus import LocalRoomBus
from adapters.web.rooms import Participant, RoomHub, media_mode
from adapters.web.sfu_rooms import SfuRefused, SlotLayout
from adapters.web.signal_messages import (
    MAX_SFU_SDP_LENGTH,
    BadSignal,
    parse_signal,
)
from application.config import ConfigurationError, load_settings
from domain.video_session import Role
from tests.support.fake_sockets import FakeSocket, socket_of

SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"
FIVE = ("practitioner", "p1", "p2", "p3", "p4")
SEALED = {"keyId": 7, "iv": "AAAAAAAAAAAAAAAA", "wrapped": "c2VhbGVk"}


class FakeSfu:
    """Answers every offer; its layout shows every other member in a slot."""

    def __init__(self) -> None:
        self.rooms: dict[str, set[str]] = {}
        self.closed: list[str] = []
        self.refuse = False

    async def join(
        self, room_id: str, participant: str, offer_sdp: str
    ) -> tuple[str, SlotLayout]:
        if self.refuse:
            raise SfuRefused("unusable offer")
        self.rooms.setdefault(room_id, set()).add(participant)
        return "v=0 answer", self._layout(room_id)

    async def leave(self, room_id: str, participant: str) -> SlotLayout:
        self.rooms.get(room_id, set()).discard(participant)
        return self._layout(room_id)

    async def close_room(self, room_id: str) -> None:
        self.rooms.pop(room_id, None)
        self.closed.append(room_id)

    async def close(self) -> None:
        pass

    def _layout(self, room_id: str) -> SlotLayout:
        members = sorted(self.rooms.get(room_id, set()))
        return {
            member: [
                {"mid": str(n), "kind": "video", "publisher_id": other}
                for n, other in enumerate(m for m in members if m != member)
            ]
            for member in members
        }


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


async def call_of(
    hub: RoomHub, appointment_id: uuid.UUID, keys: tuple[str, ...]
) -> dict[str, Participant]:
    members = {key: member(appointment_id, key) for key in keys}
    for participant in members.values():
        await hub.enter(participant, call_allowed=False, admitted=())
    await hub.allow_call(appointment_id, tuple(k for k in keys if k != "practitioner"))
    return members


def test_from_the_threshold_on_media_goes_through_the_sfu() -> None:
    assert media_mode(4) == "p2p"
    assert media_mode(5) == "sfu"
    assert media_mode(9) == "sfu"
    assert media_mode(2, threshold=3) == "p2p"
    assert media_mode(3, threshold=3) == "sfu"


def test_the_threshold_and_the_sfu_are_configured(tmp_path: Path) -> None:
    base = {"SPRECHZIMMER_DATA_DIR": str(tmp_path)}
    settings = load_settings(base)
    assert (settings.sfu_threshold, settings.sfu_workers) == (5, 1)
    assert settings.sfu_loopback_only is False
    settings = load_settings(
        {
            **base,
            "SPRECHZIMMER_SFU_THRESHOLD": "3",
            "SPRECHZIMMER_SFU_WORKERS": "2",
            "SPRECHZIMMER_SFU_LOOPBACK_ONLY": "1",
        }
    )
    assert (settings.sfu_threshold, settings.sfu_workers) == (3, 2)
    assert settings.sfu_loopback_only is True
    with pytest.raises(ConfigurationError, match="SFU_THRESHOLD"):
        load_settings({**base, "SPRECHZIMMER_SFU_THRESHOLD": "fünf"})


async def test_the_fifth_member_moves_everyone_to_the_sfu_and_a_leave_moves_back():
    appointment_id = uuid.uuid4()
    sfu = FakeSfu()
    hub = RoomHub(sfu=sfu)
    members = await call_of(hub, appointment_id, FIVE[:4])
    assert all(last_of(m, "peers")["mode"] == "p2p" for m in members.values())

    fifth = member(appointment_id, "p4")
    await hub.enter(fifth, call_allowed=False, admitted=("p4",))
    members["p4"] = fifth
    assert all(last_of(m, "peers")["mode"] == "sfu" for m in members.values())

    for key in FIVE:
        assert await hub.relay(members[key], {"type": "sfu-offer", "sdp": SDP})
    answer = last_of(members["p4"], "sfu-answer")
    assert answer["sdp"] == "v=0 answer"
    assert {s["publisher_id"] for s in answer["slots"]} == set(FIVE) - {"p4"}
    layout = last_of(members["practitioner"], "layout")
    assert {s["publisher_id"] for s in layout["slots"]} == set(FIVE) - {"practitioner"}
    assert layout["seq"] == answer["seq"]

    await hub.leave(members["p2"])
    assert sfu.closed == [str(appointment_id)]
    for key in ("practitioner", "p1", "p3", "p4"):
        assert last_of(members[key], "peers")["mode"] == "p2p"


async def test_a_member_leaving_an_sfu_call_above_the_threshold_changes_the_layout():
    appointment_id = uuid.uuid4()
    sfu = FakeSfu()
    hub = RoomHub(sfu=sfu, sfu_threshold=3)
    members = await call_of(hub, appointment_id, FIVE[:4])
    for participant in members.values():
        await hub.relay(participant, {"type": "sfu-offer", "sdp": SDP})

    await hub.leave(members["p3"])
    layout = last_of(members["p1"], "layout")
    assert {s["publisher_id"] for s in layout["slots"]} == {"practitioner", "p2"}
    assert sfu.rooms[str(appointment_id)] == {"practitioner", "p1", "p2"}
    assert last_of(members["p1"], "peers")["mode"] == "sfu"


async def test_an_sfu_offer_in_a_mesh_call_or_a_refused_one_is_answered_by_nobody():
    appointment_id = uuid.uuid4()
    sfu = FakeSfu()
    hub = RoomHub(sfu=sfu)
    members = await call_of(hub, appointment_id, FIVE[:3])
    assert not await hub.relay(members["p1"], {"type": "sfu-offer", "sdp": SDP})
    assert sfu.rooms == {}

    hub.sfu_threshold = 2
    await hub.allow_call(appointment_id, ("p1",))
    sfu.refuse = True
    assert not await hub.relay(members["p1"], {"type": "sfu-offer", "sdp": SDP})
    assert "sfu-answer" not in socket_of(members["p1"]).types()


async def test_without_an_sfu_a_large_call_stays_a_mesh():
    appointment_id = uuid.uuid4()
    hub = RoomHub()
    members = await call_of(hub, appointment_id, FIVE)
    assert last_of(members["p1"], "peers")["mode"] == "p2p"


async def test_members_on_another_process_join_the_sfu_of_the_first_process():
    appointment_id = uuid.uuid4()
    bus = LocalRoomBus()
    sfus = {"here": FakeSfu(), "there": FakeSfu()}
    hubs = {name: RoomHub(bus, sfu=sfu) for name, sfu in sfus.items()}
    first = min(hubs, key=lambda name: hubs[name].process_id)
    second = "there" if first == "here" else "here"
    members = await call_of(hubs[first], appointment_id, FIVE[:3])
    for key in ("p3", "p4"):
        members[key] = member(appointment_id, key)
        await hubs[second].enter(members[key], call_allowed=False, admitted=(key,))
    peers = {key: last_of(m, "peers") for key, m in members.items()}
    assert {p["mode"] for p in peers.values()} == {"sfu"}
    assert len({p["sfu"] for p in peers.values()}) == 1

    for participant in members.values():
        await (hubs[first] if participant.key in FIVE[:3] else hubs[second]).relay(
            participant, {"type": "sfu-offer", "sdp": SDP}
        )
    room_id = str(appointment_id)
    assert sfus[first].rooms[room_id] == set(FIVE)
    assert room_id not in sfus[second].rooms
    answer = last_of(members["p4"], "sfu-answer")
    assert {s["publisher_id"] for s in answer["slots"]} == set(FIVE) - {"p4"}
    assert len(last_of(members["p3"], "layout")["slots"]) == 4

    # Everyone on the first process leaves but one: the second takes over.
    await hubs[first].leave(members["p1"])
    await hubs[first].leave(members["p2"])
    for key in ("p5", "p6", "p7"):
        await hubs[second].enter(
            member(appointment_id, key), call_allowed=False, admitted=(key,)
        )
    assert last_of(members["p3"], "peers")["sfu"] == peers["p3"]["sfu"]
    await hubs[first].leave(members["practitioner"])
    moved = last_of(members["p3"], "peers")
    assert moved["mode"] == "sfu" and moved["sfu"] != peers["p3"]["sfu"]
    assert room_id not in sfus[first].rooms
    await hubs[second].relay(members["p3"], {"type": "sfu-offer", "sdp": SDP})
    assert sfus[second].rooms[room_id] == {"p3"}


async def test_keys_go_sealed_to_the_member_named_and_say_who_sent_them():
    appointment_id = uuid.uuid4()
    hub = RoomHub(sfu=FakeSfu())
    members = await call_of(hub, appointment_id, FIVE)
    for participant in members.values():
        socket_of(participant).take()

    public = parse_signal(
        '{"type": "e2ee-public-key", "to": "p2", "publicKey": "BAAA+/=="}'
    )
    assert await hub.relay(members["p1"], public)
    sealed = {"type": "e2ee-key", "to": "p3", **SEALED}
    assert await hub.relay(members["p1"], parse_signal(_json(sealed)))

    assert socket_of(members["p2"]).received == [
        {"type": "e2ee-public-key", "publicKey": "BAAA+/==", "from": "p1"}
    ]
    assert socket_of(members["p3"]).received == [
        {"type": "e2ee-key", **SEALED, "from": "p1"}
    ]
    assert socket_of(members["p4"]).received == []


@pytest.mark.parametrize(
    "message",
    [
        {"type": "sfu-offer", "sdp": "v=0" + "a" * MAX_SFU_SDP_LENGTH},
        {"type": "sfu-offer", "sdp": "no session"},
        {"type": "sfu-offer", "sdp": SDP, "to": "p2"},
        {"type": "sfu-answer", "sdp": SDP},
        {"type": "layout", "slots": []},
        {"type": "e2ee-key", **SEALED},
        {"type": "e2ee-key", "to": "p10", **SEALED},
        {"type": "e2ee-key", "to": "admin", **SEALED},
        {"type": "e2ee-key", "to": "p2", "from": "practitioner", **SEALED},
        {"type": "e2ee-key", "to": "p2", **{**SEALED, "keyId": 2**32}},
        {"type": "e2ee-key", "to": "p2", **{**SEALED, "keyId": True}},
        {"type": "e2ee-key", "to": "p2", **{**SEALED, "wrapped": "x" * 200}},
        {"type": "e2ee-key", "to": "p2", **{**SEALED, "iv": "not base64!"}},
        {"type": "e2ee-public-key", "publicKey": "BAAA"},
        {"type": "e2ee-public-key", "to": "p2", "publicKey": 12},
        {"type": "e2ee-public-key", "to": "p2", "publicKey": "<script>"},
    ],
)
def test_sfu_and_key_messages_of_the_wrong_shape_are_refused(message: dict) -> None:
    with pytest.raises(BadSignal):
        parse_signal(_json(message))


def test_an_sfu_offer_may_be_larger_than_a_peer_offer() -> None:
    sdp = SDP + "a=x\r\n" * 12_000
    assert parse_signal(_json({"type": "sfu-offer", "sdp": sdp}))["sdp"] == sdp
    with pytest.raises(BadSignal):
        parse_signal(_json({"type": "offer", "sdp": sdp}))


def _json(message: dict) -> str:
    return orjson.dumps(message).decode()
