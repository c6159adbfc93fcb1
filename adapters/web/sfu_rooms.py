"""The SFU as the group rooms of one web process use it.

One SfuPool per web process, started with the first call that reaches the
threshold: aiortc doubles an idle server's memory, and most practices never
hold a group call that large. A room's SFU room is created with its first
offer and closed when the call falls back to a mesh or ends.
"""

import asyncio
import logging
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from adapters.media.sfu import SfuPool

logger = logging.getLogger(__name__)

#: Per participant of an SFU room: which of its receiving mids shows whom,
#: as the browser gets it ({"mid", "kind", "publisher_id"}).
SlotLayout = dict[str, list[dict[str, Any]]]


class SfuRefused(Exception):
    """The SFU could not take a participant's offer."""


class MediaServer(Protocol):
    async def join(
        self, room_id: str, participant: str, offer_sdp: str
    ) -> tuple[str, SlotLayout]: ...

    async def leave(self, room_id: str, participant: str) -> SlotLayout: ...

    async def close_room(self, room_id: str) -> None: ...

    async def close(self) -> None: ...


class PooledSfu:
    def __init__(
        self,
        workers: int,
        ice_servers: list[dict[str, Any]],
        loopback_only: bool,
    ) -> None:
        self._workers = workers
        self._ice_servers = tuple(ice_servers)
        self._loopback_only = loopback_only
        self._pool: SfuPool | None = None
        self._rooms: set[str] = set()
        self._lock = asyncio.Lock()

    async def join(
        self, room_id: str, participant: str, offer_sdp: str
    ) -> tuple[str, SlotLayout]:
        from adapters.media.sfu import SfuError

        try:
            async with self._lock:
                pool = await self._started()
                if room_id not in self._rooms:
                    await pool.create_room(room_id)
                    self._rooms.add(room_id)
                    logger.info("Opened SFU room %s", room_id)
            joined = await pool.join(room_id, participant, offer_sdp)
        except SfuError as error:
            raise SfuRefused(str(error)) from None
        return joined.answer_sdp, _plain(joined.layout)

    async def leave(self, room_id: str, participant: str) -> SlotLayout:
        from adapters.media.sfu import SfuError

        if self._pool is None or room_id not in self._rooms:
            return {}
        try:
            return _plain(await self._pool.leave(room_id, participant))
        except SfuError:
            logger.debug("Nobody of that name was in SFU room %s", room_id)
            return {}

    async def close_room(self, room_id: str) -> None:
        from adapters.media.sfu import SfuError

        if self._pool is None or room_id not in self._rooms:
            return
        self._rooms.discard(room_id)
        try:
            await self._pool.close_room(room_id)
        except SfuError:
            logger.debug("SFU room %s was gone already", room_id)
        logger.info("Closed SFU room %s", room_id)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
            self._rooms.clear()

    async def _started(self) -> "SfuPool":
        if self._pool is None:
            from adapters.media.sfu import SfuPool, SfuSettings

            pool = SfuPool(
                SfuSettings(
                    workers=self._workers,
                    ice_servers=self._ice_servers,
                    loopback_only=self._loopback_only,
                )
            )
            await pool.start()
            self._pool = pool
            logger.info("Started the SFU with %s worker(s)", self._workers)
        return self._pool


def _plain(layout: Any) -> SlotLayout:
    return {
        participant: [asdict(slot) for slot in slots]
        for participant, slots in layout.items()
    }
