"""The tech check's test call: a real WebRTC peer (aiortc) calls the server's
echo peer through `POST /technikcheck/testanruf` and gets its own picture back,
within the limits a public server needs."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from adapters.media.test_peer import SyntheticCamera, loopback_candidates_only
from tests.support.server import RunningServer

TEST_CALL = "/technikcheck/testanruf"
PLACES = 2
CALL_SECONDS = 4


@pytest.fixture
def echo_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server whose echo peer stays on loopback, with two places for test
    calls that last four seconds at most."""
    running = RunningServer(
        tmp_path / "data",
        SPRECHZIMMER_TECH_CHECK_LOOPBACK_ONLY="1",
        SPRECHZIMMER_TECH_CHECK_CALLS=str(PLACES),
        SPRECHZIMMER_TECH_CHECK_CALL_SECONDS=str(CALL_SECONDS),
    ).start()
    yield running
    running.stop()
    print("---- server output ----\n" + running.log)


def http_from(server: RunningServer, address: str) -> httpx.AsyncClient:
    """Another loopback address counts as another client."""
    return httpx.AsyncClient(
        base_url=server.base_url,
        transport=httpx.AsyncHTTPTransport(local_address=address),
        headers={"Origin": server.base_url},
        timeout=20,
        trust_env=False,
    )


class Caller:
    """A browser's side of the test call: sends a camera (a synthetic one
    unless given) and counts the frames that come back."""

    def __init__(self, camera: MediaStreamTrack | None = None) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTransceiver(
            camera or SyntheticCamera(320, 240), direction="sendrecv"
        )
        self.frames: list[float] = []
        self._counting: asyncio.Task[None] | None = None

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._counting = asyncio.create_task(self._count(track))

    async def offer(self) -> dict[str, str]:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return {"type": "offer", "sdp": self.pc.localDescription.sdp}

    async def call(self, http: httpx.AsyncClient) -> httpx.Response:
        response = await http.post(TEST_CALL, json=await self.offer())
        if response.status_code == 200:
            answer = RTCSessionDescription(sdp=response.json()["sdp"], type="answer")
            await self.pc.setRemoteDescription(answer)
        return response

    async def _count(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                self.frames.append(time.monotonic())

    async def wait_for_frames(self, count: int, timeout: float = 15) -> None:
        async with asyncio.timeout(timeout):
            while len(self.frames) < count:
                await asyncio.sleep(0.05)

    def frame_rate(self, seconds: float) -> float:
        since = time.monotonic() - seconds
        return len([moment for moment in self.frames if moment >= since]) / seconds

    async def hang_up(self) -> None:
        await self.pc.close()
        if self._counting is not None:
            self._counting.cancel()


@contextlib.asynccontextmanager
async def callers(count: int) -> AsyncIterator[list[Caller]]:
    with loopback_candidates_only():
        people = [Caller() for _ in range(count)]
        try:
            yield people
        finally:
            await asyncio.gather(*(person.hang_up() for person in people))


async def test_the_echo_peer_sends_the_callers_picture_back(
    echo_server: RunningServer,
) -> None:
    async with callers(1) as (caller,), http_from(echo_server, "127.0.0.1") as http:
        response = await caller.call(http)
        assert response.status_code == 200, response.text
        assert response.json()["type"] == "answer"
        assert response.json()["maxSeconds"] == CALL_SECONDS

        await caller.wait_for_frames(30)
        await asyncio.sleep(1)
        assert caller.frame_rate(1) >= 15
        assert caller.pc.connectionState == "connected"


async def test_a_full_server_refuses_another_test_call_clearly_until_a_place_frees(
    echo_server: RunningServer,
) -> None:
    async with (
        callers(4) as (first, second, third, later),
        http_from(echo_server, "127.0.0.2") as one,
        http_from(echo_server, "127.0.0.3") as other,
    ):
        assert (await first.call(one)).status_code == 200
        assert (await second.call(other)).status_code == 200
        refused = await third.call(other)
        await first.wait_for_frames(10)
        await second.wait_for_frames(10)

        assert refused.status_code == 503
        assert "zu viele Testanrufe" in refused.json()["error"]
        assert int(refused.headers["retry-after"]) > 0

        # The longest a test call may take frees the places again.
        await asyncio.sleep(CALL_SECONDS + 1)
        frames_at_the_end = len(first.frames)
        await asyncio.sleep(1)
        assert len(first.frames) == frames_at_the_end
        assert (await later.call(one)).status_code == 200
        await later.wait_for_frames(10)

    assert "Test call started (2 of 2 places taken)" in echo_server.log


async def test_one_client_starting_test_call_after_test_call_is_asked_to_wait(
    echo_server: RunningServer,
) -> None:
    garbage = {"type": "offer", "sdp": "v=0\r\nnichts"}
    async with http_from(echo_server, "127.0.0.4") as eager:
        answers = [await eager.post(TEST_CALL, json=garbage) for _ in range(6)]
    async with http_from(echo_server, "127.0.0.5") as neighbour:
        other = await neighbour.post(TEST_CALL, json=garbage)

    assert [answer.status_code for answer in answers] == [400] * 5 + [429]
    assert "warten" in answers[-1].json()["error"]
    assert other.status_code == 400


BAD_OFFERS = [
    ("text/plain", b'{"type": "offer", "sdp": "v=0"}', 415),
    ("application/json", b"", 400),
    ("application/json", b"{nicht json", 400),
    ("application/json", b"[]", 400),
    ("application/json", b'{"type": "answer", "sdp": "v=0\\r\\n"}', 400),
    ("application/json", b'{"type": "offer", "sdp": 42}', 400),
    ("application/json", b'{"type": "offer", "sdp": "v=0", "x": 1}', 400),
    ("application/json", b'{"type": "offer", "sdp": "hallo"}', 400),
    ("application/json", '{"type": "offer", "sdp": "v=0 ü"}'.encode(), 400),
    ("application/json", b'{"type": "offer", "sdp": "v=0\\r\\nm=video"}', 400),
    ("application/json", b'{"type": "offer", "sdp": "' + b"v" * 40_000 + b'"}', 413),
]


@pytest.mark.parametrize(("content_type", "body", "status"), BAD_OFFERS)
async def test_a_bad_offer_is_refused_in_plain_german(
    echo_server: RunningServer, content_type: str, body: bytes, status: int
) -> None:
    async with http_from(echo_server, "127.0.0.6") as tinkerer:
        response = await tinkerer.post(
            TEST_CALL, content=body, headers={"Content-Type": content_type}
        )

    assert response.status_code == status, response.text
    assert response.json()["error"].endswith(".")
    assert " 500 " not in echo_server.log and "Traceback" not in echo_server.log


@pytest.mark.parametrize("origin", [None, "https://evil.example", "null"])
async def test_a_test_call_from_another_site_is_refused(
    echo_server: RunningServer, origin: str | None
) -> None:
    async with callers(1) as (caller,):
        headers = {"Origin": origin} if origin else {}
        async with httpx.AsyncClient(
            base_url=echo_server.base_url, trust_env=False
        ) as http:
            response = await http.post(
                TEST_CALL, json=await caller.offer(), headers=headers
            )

    assert response.status_code == 403
    assert "Technikcheck" in response.json()["error"]
    assert "Test call started" not in echo_server.log
