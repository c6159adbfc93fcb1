"""Practitioners' open pages, told live who is waiting."""

from collections import defaultdict
from typing import Any
from uuid import UUID

import orjson
from starlette.websockets import WebSocket


class PracticeFeed:
    """Pushes 'someone is waiting' updates to each practitioner's open pages."""

    def __init__(self) -> None:
        self._sockets: dict[UUID, set[WebSocket]] = defaultdict(set)

    def subscribe(self, practitioner_id: UUID, websocket: WebSocket) -> None:
        self._sockets[practitioner_id].add(websocket)

    def unsubscribe(self, practitioner_id: UUID, websocket: WebSocket) -> None:
        self._sockets[practitioner_id].discard(websocket)
        if not self._sockets[practitioner_id]:
            del self._sockets[practitioner_id]

    async def publish(self, practitioner_id: UUID, message: dict[str, Any]) -> None:
        payload = orjson.dumps(message).decode()
        for websocket in list(self._sockets.get(practitioner_id, ())):
            try:
                await websocket.send_text(payload)
            except (RuntimeError, OSError):
                self.unsubscribe(practitioner_id, websocket)
