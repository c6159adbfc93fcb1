"""How a room hub reaches the hubs of the other web processes.

The embedded default runs one web process: its bus has nobody else to tell.
With a PostgreSQL database the processes share, they talk through it (see
adapters.web.postgres_room_bus).
"""

import logging
from typing import Protocol

from adapters.web.room_envelopes import Envelope
from application.config import Settings

logger = logging.getLogger(__name__)


class RoomListener(Protocol):
    """The receiving side of a bus: this process's room hub."""

    process_id: str

    async def receive(self, envelope: Envelope) -> None: ...

    async def resync(self) -> None:
        """Called after the bus lost envelopes: tell the others again."""


class RoomBus(Protocol):
    def attach(self, listener: RoomListener) -> None: ...

    async def start(self) -> None: ...

    async def publish(self, envelope: Envelope) -> None: ...

    async def close(self) -> None: ...


class LocalRoomBus:
    """Hubs in this one process. A web process has one hub, so in production
    nothing travels; tests attach two hubs to play two processes."""

    def __init__(self) -> None:
        self._listeners: list[RoomListener] = []

    def attach(self, listener: RoomListener) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        pass

    async def publish(self, envelope: Envelope) -> None:
        for listener in list(self._listeners):
            if listener.process_id == envelope.origin:
                continue
            if envelope.target not in (None, listener.process_id):
                continue
            try:
                await listener.receive(envelope)
            except Exception:
                logger.exception("Room hub failed on a %s envelope", envelope.kind)

    async def close(self) -> None:
        self._listeners.clear()


def room_bus_for(settings: Settings) -> RoomBus:
    if settings.database_url is None:
        return LocalRoomBus()
    from adapters.web.postgres_room_bus import PostgresRoomBus

    return PostgresRoomBus(settings.database_url)
