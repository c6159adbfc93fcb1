"""How much video each publisher may send, so every participant's downlink
holds everyone else's streams.

The SFU forwards what it gets without re-encoding, and no publisher sends
several qualities (no simulcast), so the only lever is each publisher's own
encoder: the room tells it a maximum bitrate. With ``n`` participants every
subscriber receives ``n - 1`` video and ``n - 1`` audio streams, which must fit
the downlink the tech check asks of a patient (4 Mbit/s); a publisher sends
one stream, which must fit the uplink it asks (2 Mbit/s).

Receiver estimates (REMB) from subscribers lower a publisher's target further,
down to a floor: one subscriber on a weak line would otherwise pull everyone's
picture down to what it can take.
"""

from collections.abc import Iterable
from dataclasses import dataclass

KBIT = 1000


@dataclass(frozen=True)
class BandwidthBudget:
    downlink_bps: int = 4000 * KBIT
    uplink_bps: int = 2000 * KBIT
    #: What one Opus stream takes, with packet overhead.
    audio_bps: int = 50 * KBIT
    #: Room left for RTCP, retransmissions and packet overhead.
    headroom: float = 0.85
    #: Never ask a publisher for more than this (a consultation picture).
    max_video_bps: int = 1500 * KBIT
    #: Never ask less, whatever a single subscriber reports.
    min_video_bps: int = 150 * KBIT

    def video_target_bps(self, participants: int) -> int:
        """The maximum video bitrate for each publisher in a room this size."""
        others = max(participants - 1, 1)
        downlink_share = (self.downlink_bps * self.headroom) / others - self.audio_bps
        uplink_share = self.uplink_bps * self.headroom - self.audio_bps
        target = min(downlink_share, uplink_share, self.max_video_bps)
        return max(int(target), self.min_video_bps)

    def with_estimates(self, target_bps: int, estimates_bps: Iterable[int]) -> int:
        """The target lowered to the weakest subscriber's estimate, not below
        the floor."""
        lowest = min(estimates_bps, default=target_bps)
        return max(min(target_bps, lowest), min(self.min_video_bps, target_bps))
