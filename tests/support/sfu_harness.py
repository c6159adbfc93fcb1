"""A stand-in for the product's group-call signaling, to try end-to-end
encryption through the SFU in real browsers before the call pages use it.

It serves a test page that loads the product's e2ee.js, answers each page's
offer through an SfuPool, tells every page which of its slots shows whom, and
relays the encryption's messages between the pages over a WebSocket: public
ECDH keys and sending keys sealed for one recipient. It keeps a record of all
it relayed, so a test can show that no media key passed through it in the
clear. A page that closes its socket has left: the SFU lets it go, and the
others hear of it and rotate their keys.

Run it as ``python -m tests.support.sfu_harness --port 8123``; RunningHarness
does that for a test.
"""

import argparse
import asyncio
import contextlib
import logging
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from socket import socket as new_socket
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from adapters.media.sfu import Layout, SfuError, SfuPool, SfuSettings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PRODUCT_STATIC = PROJECT_ROOT / "adapters" / "web" / "static"
HARNESS_STATIC = Path(__file__).resolve().parent / "static"
#: Only these travel through the relay, between participants.
RELAYED_TYPES = {"key"}


class Relay:
    """Who is in which room with which public key, and their sockets."""

    def __init__(self) -> None:
        self.sockets: dict[str, dict[str, WebSocket]] = {}
        self.public_keys: dict[str, dict[str, str]] = {}
        self.record: list[dict[str, Any]] = []

    async def arrive(self, room: str, participant: str, socket: WebSocket) -> bool:
        hello = await socket.receive_json()
        public_key = hello.get("publicKey")
        if hello.get("type") != "hello" or not isinstance(public_key, str):
            await socket.close(code=4400)
            return False
        self.record.append({"type": "hello", "from": participant, **hello})
        others = self.public_keys.setdefault(room, {})
        await socket.send_json(
            {
                "type": "welcome",
                "participants": [
                    {"id": other, "publicKey": key} for other, key in others.items()
                ],
            }
        )
        others[participant] = public_key
        await self.send_others(
            room,
            participant,
            {"type": "joined", "id": participant, "publicKey": public_key},
        )
        self.sockets.setdefault(room, {})[participant] = socket
        return True

    async def forward(self, room: str, sender: str, message: dict[str, Any]) -> None:
        if message.get("type") not in RELAYED_TYPES:
            return
        # The relay says who sent it; a page cannot speak for another.
        message = {**message, "from": sender}
        self.record.append(message)
        target = self.sockets.get(room, {}).get(str(message.get("to")))
        if target is not None:
            with contextlib.suppress(Exception):
                await target.send_json(message)

    async def depart(self, room: str, participant: str) -> None:
        self.sockets.get(room, {}).pop(participant, None)
        self.public_keys.get(room, {}).pop(participant, None)
        await self.send_others(room, participant, {"type": "left", "id": participant})

    async def send_others(
        self, room: str, participant: str, message: dict[str, Any]
    ) -> None:
        for other, socket in list(self.sockets.get(room, {}).items()):
            if other != participant:
                with contextlib.suppress(Exception):
                    await socket.send_json(message)

    async def send_layout(self, room: str, layout: Layout) -> None:
        for participant, socket in list(self.sockets.get(room, {}).items()):
            with contextlib.suppress(Exception):
                await socket.send_json(
                    {"type": "layout", "slots": slots_of(layout, participant)}
                )


def slots_of(layout: Layout, participant: str) -> list[dict[str, Any]]:
    return [asdict(slot) for slot in layout.get(participant, [])]


def create_app(sfu_settings: SfuSettings) -> Starlette:
    relay = Relay()
    rooms: set[str] = set()
    pool = SfuPool(sfu_settings)
    room_lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with pool:
            yield

    async def page(request: Request) -> Response:
        return FileResponse(HARNESS_STATIC / "sfu-e2ee.html")

    async def join(request: Request) -> Response:
        room = request.path_params["room"]
        body = await request.json()
        async with room_lock:
            if room not in rooms:
                await pool.create_room(room)
                rooms.add(room)
        try:
            joined = await pool.join(room, body["participant"], body["offer"])
        except SfuError as error:
            return JSONResponse({"error": str(error)}, status_code=409)
        await relay.send_layout(room, joined.layout)
        return JSONResponse(
            {
                "answer": joined.answer_sdp,
                "slots": slots_of(joined.layout, body["participant"]),
            }
        )

    async def signaling(socket: WebSocket) -> None:
        room = socket.path_params["room"]
        participant = socket.path_params["participant"]
        await socket.accept()
        try:
            if not await relay.arrive(room, participant, socket):
                return
            while True:
                await relay.forward(room, participant, await socket.receive_json())
        except WebSocketDisconnect:
            pass
        finally:
            await relay.depart(room, participant)
            with contextlib.suppress(SfuError):
                await relay.send_layout(room, await pool.leave(room, participant))

    async def relayed(request: Request) -> Response:
        return JSONResponse(relay.record)

    async def healthz(request: Request) -> Response:
        return Response("ok")

    return Starlette(
        routes=[
            Route("/", page),
            Route("/healthz", healthz),
            Route("/relayed", relayed),
            Route("/rooms/{room}/join", join, methods=["POST"]),
            WebSocketRoute("/rooms/{room}/signaling/{participant}", signaling),
            Mount("/static", StaticFiles(directory=PRODUCT_STATIC)),
            Mount("/harness", StaticFiles(directory=HARNESS_STATIC)),
        ],
        lifespan=lifespan,
    )


class RunningHarness:
    """The harness in a process of its own on 127.0.0.1."""

    def __init__(self) -> None:
        with new_socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.output: list[str] = []
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> "RunningHarness":
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__, "--port", str(self.port)],
            cwd=PROJECT_ROOT,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        threading.Thread(target=self._collect_output, daemon=True).start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError("harness exited:\n" + self.log)
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        raise RuntimeError("harness did not start:\n" + self.log)

    def page_url(self, room: str, participant: str, **options: str) -> str:
        query = httpx.QueryParams({"room": room, "participant": participant, **options})
        return f"{self.base_url}/?{query}"

    def relayed(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = httpx.get(self.base_url + "/relayed").json()
        return messages

    @property
    def log(self) -> str:
        return "".join(self.output)

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def _collect_output(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            self.output.append(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    settings = SfuSettings(workers=1, ice_servers=(), loopback_only=True)
    uvicorn.run(
        create_app(settings),
        host="127.0.0.1",
        port=arguments.port,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
