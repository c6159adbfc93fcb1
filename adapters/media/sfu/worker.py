"""An SFU worker process: runs the rooms the pool gives it, on its own core.

It reads commands from its end of a pipe, ``(request_id, command, args)``,
runs each as a task (a slow negotiation in one room holds up no other), and
answers ``(request_id, True, result)`` or ``(request_id, False, (error class
name, message))``. The pipe closing ends the worker.

The worker refuses aiortc any decoder or encoder (see aiortc_hooks.CodecGuard):
if a hook stopped working after an upgrade, media would fail loudly instead of
being decoded on the server.
"""

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine
from multiprocessing.connection import Connection
from typing import Any

from adapters.media.sfu.aiortc_hooks import CodecGuard
from adapters.media.sfu.errors import RoomExists, SfuError, UnknownRoom
from adapters.media.sfu.room import Room, SlotAssignment, check_id
from adapters.media.sfu.settings import SfuSettings
from adapters.media.sfu.traffic import Traffic

logger = logging.getLogger(__name__)

SHUTDOWN = "shutdown"


def run_worker(connection: Connection, settings: SfuSettings) -> None:
    """The worker process's main function."""
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_serve(connection, settings))


class SfuWorker:
    """The rooms of one worker process and the commands on them."""

    def __init__(self, settings: SfuSettings, guard: CodecGuard) -> None:
        self.settings = settings
        self.rooms: dict[str, Room] = {}
        self.traffic = Traffic()
        self._guard = guard

    async def create_room(self, room_id: str) -> None:
        check_id("room", room_id)
        if room_id in self.rooms:
            raise RoomExists(f"the SFU room {room_id!r} exists already")
        self.rooms[room_id] = Room(room_id, self.settings, self.traffic)

    async def close_room(self, room_id: str) -> None:
        room = self._room(room_id)
        del self.rooms[room_id]
        await room.close()

    async def join(
        self, room_id: str, participant_id: str, offer_sdp: str
    ) -> tuple[str, dict[str, list[SlotAssignment]]]:
        room = self._room(room_id)
        answer = await room.join(participant_id, offer_sdp)
        return answer, room.layout()

    async def leave(
        self, room_id: str, participant_id: str
    ) -> dict[str, list[SlotAssignment]]:
        room = self._room(room_id)
        await room.leave(participant_id)
        return room.layout()

    async def layout(self, room_id: str) -> dict[str, list[SlotAssignment]]:
        return self._room(room_id).layout()

    async def bitrate_targets(self, room_id: str) -> dict[str, int]:
        return self._room(room_id).bitrate_targets()

    async def stats(self) -> dict[str, int]:
        return {
            "rooms": len(self.rooms),
            "participants": sum(len(r.participants) for r in self.rooms.values()),
            "codecs_refused": self._guard.refused,
            "decoder_threads": sum(
                "decoder" in thread.name for thread in threading.enumerate()
            ),
            **self.traffic.as_dict(),
        }

    async def close(self) -> None:
        rooms = list(self.rooms.values())
        self.rooms.clear()
        await asyncio.gather(*(room.close() for room in rooms))

    def command(self, name: str) -> Callable[..., Coroutine[Any, Any, Any]]:
        if name not in COMMANDS:
            raise SfuError(f"unknown SFU command {name!r}")
        command: Callable[..., Coroutine[Any, Any, Any]] = getattr(self, name)
        return command

    def _room(self, room_id: str) -> Room:
        room = self.rooms.get(room_id) if isinstance(room_id, str) else None
        if room is None:
            raise UnknownRoom(f"there is no SFU room {room_id!r}")
        return room


COMMANDS = frozenset(
    ("create_room", "close_room", "join", "leave", "layout", "bitrate_targets", "stats")
)


async def _serve(connection: Connection, settings: SfuSettings) -> None:
    guard = CodecGuard()
    guard.install()
    with contextlib.ExitStack() as patches:
        if settings.loopback_only:
            from adapters.media.test_peer import loopback_candidates_only

            patches.enter_context(loopback_candidates_only())
        worker = SfuWorker(settings, guard)
        messages = _messages_of(connection)
        tasks: set[asyncio.Task[None]] = set()
        while (message := await messages.get()) is not None:
            request_id, name, args = message
            if name == SHUTDOWN:
                break
            task = asyncio.create_task(_run(worker, connection, request_id, name, args))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        for task in tasks:
            task.cancel()
        await worker.close()
        _answer(connection, (None, True, None))  # the pool's sign that all is closed


def _messages_of(connection: Connection) -> "asyncio.Queue[Any]":
    """Puts what arrives on the pipe into a queue; None when it closed."""
    loop = asyncio.get_running_loop()
    messages: asyncio.Queue[Any] = asyncio.Queue()

    def readable() -> None:
        try:
            while connection.poll():
                messages.put_nowait(connection.recv())
        except (EOFError, OSError):
            loop.remove_reader(connection.fileno())
            messages.put_nowait(None)

    loop.add_reader(connection.fileno(), readable)
    return messages


async def _run(
    worker: SfuWorker, connection: Connection, request_id: int, name: str, args: Any
) -> None:
    try:
        result = await worker.command(name)(*args)
    except SfuError as error:
        _answer(connection, (request_id, False, (type(error).__name__, str(error))))
    except Exception as error:
        logger.exception("SFU command %s failed", name)
        _answer(connection, (request_id, False, ("SfuError", type(error).__name__)))
    else:
        _answer(connection, (request_id, True, result))


def _answer(connection: Connection, message: tuple[Any, bool, Any]) -> None:
    with contextlib.suppress(OSError):
        connection.send(message)
