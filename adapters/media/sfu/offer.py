"""Reading a participant's offer: what it publishes, where it wants to receive.

A participant offers one m-line per track it sends (at most one audio and one
video, sendonly or sendrecv) and one per *slot* in which it wants to receive
another participant's track (recvonly or sendrecv). The SFU answers every
offer itself, so no renegotiation is needed when others come and go: it
points a slot at another publisher instead.

Only VP8 (with its RTX) and Opus stay in the offer, so every publisher's
packets fit every subscriber's slot without translation beyond the payload
type number.
"""

import ipaddress
from collections import Counter
from dataclasses import dataclass

from aiortc import sdp

from adapters.media.sfu.errors import UnusableOffer

FORWARDED_CODECS = {"video": "VP8", "audio": "opus"}
SENDING = ("sendonly", "sendrecv")
RECEIVING = ("recvonly", "sendrecv")
MAX_PUBLISHED_PER_KIND = 1


@dataclass(frozen=True)
class OfferedMedia:
    mid: str
    kind: str
    publishes: bool
    receives: bool


@dataclass(frozen=True)
class ReadOffer:
    sdp: str
    media: tuple[OfferedMedia, ...]

    def published(self, kind: str) -> OfferedMedia | None:
        return next((m for m in self.media if m.kind == kind and m.publishes), None)

    def slots(self, kind: str) -> list[OfferedMedia]:
        return [m for m in self.media if m.kind == kind and m.receives]


def read_offer(offer_sdp: str, max_slots: int, loopback_only: bool) -> ReadOffer:
    """The offer as the SFU answers it, or UnusableOffer saying why not."""
    try:
        description = sdp.SessionDescription.parse(offer_sdp)
    except Exception as error:
        raise UnusableOffer("the offer is not valid SDP") from error

    if not description.media:
        raise UnusableOffer("the offer has no media")
    offered = []
    for media in description.media:
        if media.kind not in FORWARDED_CODECS:
            raise UnusableOffer(f"the SFU forwards no {media.kind} media")
        _keep_forwarded_codecs(media)
        if loopback_only:
            media.ice_candidates = [
                candidate
                for candidate in media.ice_candidates
                if _is_loopback(candidate.ip)
            ]
        direction = media.direction or "sendrecv"
        offered.append(
            OfferedMedia(
                mid=str(media.rtp.muxId),
                kind=media.kind,
                publishes=direction in SENDING,
                receives=direction in RECEIVING,
            )
        )

    published = Counter(m.kind for m in offered if m.publishes)
    slots = Counter(m.kind for m in offered if m.receives)
    for kind, count in published.items():
        if count > MAX_PUBLISHED_PER_KIND:
            raise UnusableOffer(
                f"the offer sends {count} {kind} tracks; "
                f"{MAX_PUBLISHED_PER_KIND} is allowed"
            )
    for kind, count in slots.items():
        if count > max_slots:
            raise UnusableOffer(
                f"the offer asks for {count} {kind} slots; {max_slots} is the most"
            )
    if len({m.mid for m in offered}) != len(offered):
        raise UnusableOffer("the offer repeats a mid")
    return ReadOffer(sdp=str(description), media=tuple(offered))


def _keep_forwarded_codecs(media: sdp.MediaDescription) -> None:
    wanted = FORWARDED_CODECS[media.kind].lower()
    primary = [c for c in media.rtp.codecs if c.name.lower() == wanted]
    if not primary:
        raise UnusableOffer(
            f"the offer's {media.kind} has no {FORWARDED_CODECS[media.kind]}"
        )
    kept_types = {c.payloadType for c in primary}
    repairs = [
        c
        for c in media.rtp.codecs
        if c.name.lower() == "rtx" and c.parameters.get("apt") in kept_types
    ]
    media.rtp.codecs = primary + repairs
    media.fmt = [c.payloadType for c in media.rtp.codecs]


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
