"""What the SFU accepts in a participant's offer."""

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.rtcconfiguration import RTCBundlePolicy

from adapters.media.sfu.errors import UnusableOffer
from adapters.media.sfu.offer import read_offer
from adapters.media.test_peer import loopback_candidates_only


async def offer_of(send: dict[str, int], receive: int) -> str:
    pc = RTCPeerConnection(
        RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
    )
    for kind, count in send.items():
        for _ in range(count):
            pc.addTransceiver(kind, direction="sendonly")
    for kind in ("audio", "video"):
        for _ in range(receive):
            pc.addTransceiver(kind, direction="recvonly")
    with loopback_candidates_only():
        await pc.setLocalDescription(await pc.createOffer())
    sdp = str(pc.localDescription.sdp)
    await pc.close()
    return sdp


async def test_an_offer_names_its_published_tracks_and_its_slots():
    offer = read_offer(
        await offer_of({"audio": 1, "video": 1}, 4), max_slots=8, loopback_only=True
    )
    assert offer.published("audio") is not None
    assert offer.published("video") is not None
    assert len(offer.slots("video")) == len(offer.slots("audio")) == 4


async def test_only_vp8_and_opus_stay_in_the_offer():
    offer = read_offer(
        await offer_of({"audio": 1, "video": 1}, 1), max_slots=8, loopback_only=True
    )
    assert "H264" not in offer.sdp and "PCMU" not in offer.sdp
    assert "VP8/90000" in offer.sdp and "opus/48000" in offer.sdp
    assert "rtx/90000" in offer.sdp


async def test_publishing_more_than_one_track_of_a_kind_is_refused():
    with pytest.raises(UnusableOffer, match="2 video tracks"):
        read_offer(
            await offer_of({"audio": 1, "video": 2}, 1), max_slots=8, loopback_only=True
        )


async def test_asking_for_more_slots_than_the_room_has_others_is_refused():
    with pytest.raises(UnusableOffer, match="slots"):
        read_offer(await offer_of({}, 9), max_slots=8, loopback_only=True)


async def test_loopback_only_drops_candidates_elsewhere():
    sdp = await offer_of({"video": 1}, 0)
    sdp = sdp.replace(
        "a=end-of-candidates",
        "a=candidate:9 1 udp 1 192.0.2.7 9 typ host\r\na=end-of-candidates",
    )
    assert "192.0.2.7" not in read_offer(sdp, max_slots=8, loopback_only=True).sdp


@pytest.mark.parametrize(
    "garbage",
    ["", "hello", "v=0\r\nm=audio 9 RTP/AVP\r\n", "v=0\r\nm=application 9 x 5000\r\n"],
)
def test_garbage_is_refused_as_an_unusable_offer(garbage):
    with pytest.raises(UnusableOffer):
        read_offer(garbage, max_slots=8, loopback_only=True)
