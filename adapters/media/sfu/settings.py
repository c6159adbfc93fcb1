"""How an SFU pool runs; plain data, so it can be handed to worker processes."""

from dataclasses import dataclass, field
from typing import Any

from adapters.media.sfu.bandwidth import BandwidthBudget
from adapters.media.sfu.keyframe_requests import KEYFRAME_REQUEST_INTERVAL_SECONDS

#: Group psychotherapy by video: up to 9 people in one call.
ROOM_CAPACITY = 9


@dataclass(frozen=True)
class SfuSettings:
    #: Worker processes; each room runs in one, so rooms use several cores.
    workers: int = 2
    capacity: int = ROOM_CAPACITY
    #: STUN/TURN servers as the web layer configures them: dicts with
    #: ``urls``, ``username``, ``credential``. None at all by default: aiortc
    #: would otherwise ask a public STUN server.
    ice_servers: tuple[dict[str, Any], ...] = ()
    #: Gather and accept ICE candidates on loopback only (tests, development).
    loopback_only: bool = False
    keyframe_interval: float = KEYFRAME_REQUEST_INTERVAL_SECONDS
    budget: BandwidthBudget = field(default_factory=BandwidthBudget)
    #: Seconds an offer may take to be answered.
    negotiation_timeout: float = 10.0
