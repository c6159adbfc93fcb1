"""Counters of what an SFU worker did with packets, for tests and operators."""

from dataclasses import asdict, dataclass


@dataclass
class Traffic:
    #: Media packets taken from publishers (retransmitted duplicates not counted).
    received: int = 0
    #: Packets sent on to subscribers, one per subscriber.
    forwarded: int = 0
    #: Packets sent again from the SFU's history after a subscriber's NACK.
    retransmitted: int = 0
    #: Subscribers' keyframe requests (PLI, FIR) received.
    keyframe_requests: int = 0
    #: Packets refused: wrong SSRC or payload type, broken retransmissions.
    refused: int = 0
    #: Packets that raised while being forwarded (a bug; logged).
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)
