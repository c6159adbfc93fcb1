"""The public tech check: its page, throughput probes, and the test call.

Anyone may use these routes without a link, so each has its limits: a
transfer moves at most ``MAX_TRANSFER_BYTES``, every client address has a
budget of bytes and of test calls that refills over time (429 when spent), and
the server runs only so many transfers and test calls at once (503 when full).
Every refusal is JSON with a German ``error`` for the page to show.
"""

import asyncio
import logging
import math
import os
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from adapters.media.echo_refusals import EchoBusy, UnusableOffer
from adapters.web.context import web_context
from adapters.web.pages import page
from adapters.web.security import AttemptLimit, same_origin

logger = logging.getLogger(__name__)

MAX_TRANSFER_BYTES = 25_000_000
MAX_PARALLEL_TRANSFERS = 32
UPLOAD_SECONDS = 30.0
CHUNK_BYTES = 256 * 1024
#: What any transfer costs from a client's budget, however small it is.
SMALLEST_COST_BYTES = 64 * 1024
MAX_OFFER_BYTES = 32 * 1024
MAX_SDP_CHARACTERS = 24_000
WHOLE_NUMBER = re.compile(r"[0-9]{1,12}")

BUSY = (
    "Der Server ist gerade stark ausgelastet. Bitte versuchen Sie es in einer "
    "Minute noch einmal."
)
FOREIGN = "Diese Anfrage kam nicht von der Seite des Technikchecks."


class ByteBudgets:
    """Per client address a budget of ``capacity`` bytes that refills at
    ``per_second``; every transfer is paid from its client's budget."""

    def __init__(self, capacity: float, per_second: float) -> None:
        self.capacity = capacity
        self.per_second = per_second
        self._buckets: dict[str, tuple[float, float]] = {}

    def spend(self, client: str, amount: float) -> float:
        """Takes ``amount`` and returns 0, or takes nothing and returns the
        seconds until the bucket would hold enough."""
        now = time.monotonic()
        level, then = self._buckets.get(client, (self.capacity, now))
        level = min(self.capacity, level + (now - then) * self.per_second)
        if amount > level:
            self._buckets[client] = (level, now)
            return (amount - level) / self.per_second
        self._buckets[client] = (level - amount, now)
        if len(self._buckets) > 10_000:
            self._forget_full_buckets(now)
        return 0.0

    def _forget_full_buckets(self, now: float) -> None:
        refilled = [
            client
            for client, (level, then) in self._buckets.items()
            if level + (now - then) * self.per_second >= self.capacity
        ]
        for client in refilled:
            del self._buckets[client]
        if len(self._buckets) > 10_000:
            # Under a flood from many addresses memory wins over fairness.
            self._buckets.clear()


@dataclass
class TechCheckLimits:
    #: Bytes each client may move: 120 MB at once, then 0.5 MB/s (4 Mbit/s).
    #: A whole check moves about 42 MB, the waiting room's probe 14 MB.
    transfer_bytes: ByteBudgets = field(
        default_factory=lambda: ByteBudgets(120_000_000, 500_000)
    )
    #: Test calls each client may start within two and a half minutes.
    test_calls: AttemptLimit = field(
        default_factory=lambda: AttemptLimit(max_attempts=5, window_seconds=150)
    )
    transfers_running: int = 0


def _limits(request: Request) -> TechCheckLimits:
    # One set of limits per application, made when the first check arrives.
    limits = getattr(request.app.state, "tech_check_limits", None)
    if limits is None:
        limits = request.app.state.tech_check_limits = TechCheckLimits()
    return limits


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _refusal(status: int, message: str, retry_after: float = 0) -> Response:
    headers = {"Retry-After": str(math.ceil(retry_after))} if retry_after else None
    return Response(
        orjson.dumps({"error": message}),
        status,
        headers=headers,
        media_type="application/json",
    )


def _json(data: dict[str, object]) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


def _foreign_origin(request: Request) -> Response | None:
    if same_origin(request, web_context(request).runtime.settings.base_url):
        return None
    return _refusal(403, FOREIGN)


def _transfer_refused(request: Request, size: int) -> Response | None:
    limits = _limits(request)
    wait = limits.transfer_bytes.spend(_client(request), max(size, SMALLEST_COST_BYTES))
    if wait:
        return _refusal(
            429,
            "Sie haben in kurzer Zeit sehr viele Daten übertragen. Bitte warten "
            f"Sie etwa {math.ceil(wait)} Sekunden.",
            wait,
        )
    if limits.transfers_running >= MAX_PARALLEL_TRANSFERS:
        return _refusal(503, BUSY, 30)
    return None


def _size_problem(raw: str | None, what: str) -> Response | None:
    if raw is None or not WHOLE_NUMBER.fullmatch(raw) or int(raw) < 1:
        return _refusal(
            400, f"{what} muss eine ganze Zahl von 1 bis {MAX_TRANSFER_BYTES} sein."
        )
    if int(raw) > MAX_TRANSFER_BYTES:
        return _refusal(413, f"Höchstens {MAX_TRANSFER_BYTES} Bytes je Übertragung.")
    return None


def _public_ice_servers(servers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """STUN servers only: TURN credentials on a page without a link would
    make the practice's relay server open to anyone."""
    public = []
    for server in servers:
        urls = server["urls"] if isinstance(server["urls"], list) else [server["urls"]]
        if all(str(url).startswith(("stun:", "stuns:")) for url in urls):
            public.append({"urls": server["urls"]})
    return public


async def tech_check_page(request: Request) -> Response:
    context = web_context(request)
    return page(
        request,
        "tech_check.html",
        ice_servers=_public_ice_servers(context.runtime.settings.ice_servers),
        max_transfer_bytes=MAX_TRANSFER_BYTES,
    )


async def download(request: Request) -> Response:
    """``bytes`` random bytes, different on every request, so that nothing on
    the way can compress or cache them."""
    if request.headers.get("sec-fetch-site", "same-origin") not in (
        "same-origin",
        "none",
    ):
        # Another site's page may not spend its visitors' budget here.
        return _refusal(403, FOREIGN)
    raw = request.query_params.get("bytes")
    problem = _size_problem(raw, "Die Größe")
    if problem is None:
        problem = _transfer_refused(request, int(str(raw)))
    if problem is not None:
        return problem
    size = int(str(raw))
    return StreamingResponse(
        _random_bytes(size, _limits(request)),
        media_type="application/octet-stream",
        headers={
            "Content-Length": str(size),
            "Cache-Control": "no-store, no-transform",
        },
    )


async def _random_bytes(size: int, limits: TechCheckLimits) -> AsyncIterator[bytes]:
    # AES-CTR over zeros: a keystream far faster than os.urandom.
    keystream = Cipher(algorithms.AES(os.urandom(16)), modes.CTR(os.urandom(16)))
    encryptor = keystream.encryptor()
    zeros = bytes(CHUNK_BYTES)
    # Counted from the first chunk: a stream never started never ends either.
    limits.transfers_running += 1
    try:
        left = size
        while left > 0:
            chunk = encryptor.update(zeros[: min(left, CHUNK_BYTES)])
            left -= len(chunk)
            yield chunk
    finally:
        limits.transfers_running -= 1


async def upload(request: Request) -> Response:
    """Counts the body's bytes as they arrive, keeping none of them."""
    declared = request.headers.get("content-length")
    problem = _foreign_origin(request)
    if problem is None and declared is None:
        problem = _refusal(411, "Bitte senden Sie die Länge der Daten mit.")
    problem = problem or _size_problem(declared, "Content-Length")
    if problem is None:
        problem = _transfer_refused(request, int(str(declared)))
    if problem is not None:
        return problem
    expected = int(str(declared))
    limits = _limits(request)
    limits.transfers_running += 1
    started = time.perf_counter()
    received = 0
    try:
        async with asyncio.timeout(UPLOAD_SECONDS):
            async for chunk in request.stream():
                received += len(chunk)
    except ClientDisconnect:
        return _refusal(400, "Die Übertragung wurde abgebrochen.")
    except TimeoutError:
        return _refusal(408, "Die Übertragung hat zu lange gedauert.")
    finally:
        limits.transfers_running -= 1
    if received != expected:
        return _refusal(400, "Es kamen nicht so viele Bytes an wie angekündigt.")
    return _json({"received": received, "seconds": time.perf_counter() - started})


async def test_call(request: Request) -> Response:
    """Answers a browser's offer with the server's echo peer. The browser
    sends its offer once ICE gathering is complete; the answer carries all of
    the server's candidates, so one request sets the call up."""
    problem = _foreign_origin(request)
    if problem is not None:
        return problem
    test_calls = _limits(request).test_calls
    if test_calls.exceeded(_client(request)):
        return _refusal(
            429,
            "Sie haben in kurzer Zeit viele Testanrufe gestartet. Bitte warten Sie "
            "ein paar Minuten.",
            test_calls.window_seconds,
        )
    test_calls.record(_client(request))
    offer = await _offer_sdp(request)
    if isinstance(offer, Response):
        return offer

    echo_peers = web_context(request).echo_peers
    try:
        answer = await echo_peers.answer(offer)
    except EchoBusy:
        logger.info("Test call refused: all %s places taken", echo_peers.active)
        return _refusal(
            503,
            "Gerade laufen zu viele Testanrufe. Bitte versuchen Sie es in einer "
            "Minute noch einmal.",
            60,
        )
    except UnusableOffer as error:
        logger.info("Test call offer unusable: %s", error)
        return _refusal(
            400,
            "Ihr Browser hat ein Verbindungsangebot geschickt, mit dem der Server "
            "nichts anfangen kann. Bitte nutzen Sie einen aktuellen Browser.",
        )
    return _json(
        {
            "type": "answer",
            "sdp": answer,
            "maxSeconds": echo_peers.limits.max_seconds,
        }
    )


async def _offer_sdp(request: Request) -> str | Response:
    if request.headers.get("content-type", "").split(";")[0] != "application/json":
        return _refusal(415, "Bitte senden Sie das Angebot als JSON.")
    body = b""
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_OFFER_BYTES:
                return _refusal(413, "Das Verbindungsangebot ist zu groß.")
    except ClientDisconnect:
        return _refusal(400, "Die Übertragung wurde abgebrochen.")
    try:
        offer = orjson.loads(body)
    except orjson.JSONDecodeError:
        offer = None
    if (
        not isinstance(offer, dict)
        or set(offer) != {"type", "sdp"}
        or offer["type"] != "offer"
        or not isinstance(offer["sdp"], str)
        or not offer["sdp"].startswith("v=0")
        or not offer["sdp"].isascii()
        or len(offer["sdp"]) > MAX_SDP_CHARACTERS
    ):
        return _refusal(
            400,
            'Erwartet wird ein JSON-Objekt mit "type": "offer" und einem '
            'SDP-Angebot in "sdp".',
        )
    return str(offer["sdp"])


routes = [
    Route("/technikcheck", tech_check_page, methods=["GET"]),
    Route("/technikcheck/download", download, methods=["GET"]),
    Route("/technikcheck/upload", upload, methods=["POST"]),
    Route("/technikcheck/testanruf", test_call, methods=["POST"]),
]
