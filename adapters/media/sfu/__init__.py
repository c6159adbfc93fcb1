"""A selective forwarding unit for group calls: it forwards each participant's
RTP packets to the others without decoding them (see pool for the API)."""

from adapters.media.sfu.errors import (
    InvalidId,
    ParticipantExists,
    RoomExists,
    RoomFull,
    SfuError,
    UnknownParticipant,
    UnknownRoom,
    UnusableOffer,
    WorkerGone,
)
from adapters.media.sfu.pool import Joined, Layout, SfuPool
from adapters.media.sfu.room import SlotAssignment
from adapters.media.sfu.settings import SfuSettings

__all__ = [
    "InvalidId",
    "Joined",
    "Layout",
    "ParticipantExists",
    "RoomExists",
    "RoomFull",
    "SfuError",
    "SfuPool",
    "SfuSettings",
    "SlotAssignment",
    "UnknownParticipant",
    "UnknownRoom",
    "UnusableOffer",
    "WorkerGone",
]
