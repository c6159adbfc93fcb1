"""Stand-ins for signaling sockets: they keep what the hub sends them."""

import asyncio
import time
from collections.abc import Callable
from typing import Any, cast
from uuid import UUID

import orjson
from starlette.websockets import WebSocket, WebSocketState

from adapters.web.rooms import Participant
from domain.video_session import Role


class FakeSocket:
    def __init__(self) -> None:
        self.application_state = WebSocketState.CONNECTED
        self.received: list[dict[str, Any]] = []
        self.closed_with: tuple[int, str] | None = None
        self.arrived = asyncio.Event()

    async def send_text(self, text: str) -> None:
        self.received.append(orjson.loads(text))
        self.arrived.set()

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed_with = (code, reason or "")
        self.application_state = WebSocketState.DISCONNECTED
        self.arrived.set()

    def types(self) -> list[str]:
        return [message["type"] for message in self.received]

    def take(self) -> list[dict[str, Any]]:
        taken, self.received = self.received, []
        return taken


def fake_participant(role: Role, appointment_id: UUID) -> Participant:
    return Participant(cast(WebSocket, FakeSocket()), role, appointment_id)


def socket_of(participant: Participant) -> FakeSocket:
    return cast(FakeSocket, participant.websocket)


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Waits for envelopes that travel through the database."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def close_code(participant: Participant) -> int | None:
    closed_with = socket_of(participant).closed_with
    return closed_with[0] if closed_with else None
