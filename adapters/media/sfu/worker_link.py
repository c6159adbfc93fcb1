"""The pool's side of one SFU worker process: start it, ask it, stop it.

The pipe to the worker stays a blocking one, read by a thread of its own and
written from a thread under a lock: an event loop that watches a descriptor
(uvloop does so for add_reader) makes it non-blocking, and then a large offer
sent while the worker is busy, or an answer read before all of it arrived,
fails half-way.
"""

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import threading
from typing import Any

from adapters.media.sfu.errors import ERRORS_BY_NAME, SfuError, WorkerGone
from adapters.media.sfu.settings import SfuSettings
from adapters.media.sfu.worker import SHUTDOWN, run_worker

logger = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 10.0


class WorkerLink:
    def __init__(self, index: int, settings: SfuSettings) -> None:
        self.index = index
        self.rooms: set[str] = set()
        # Spawned, not forked: the parent runs an event loop and threads.
        context = multiprocessing.get_context("spawn")
        self._connection, child_end = context.Pipe()
        self.process = context.Process(
            target=run_worker,
            args=(child_end, settings),
            name=f"sfu-worker-{index}",
            daemon=True,
        )
        self._child_end = child_end
        self._pending: dict[int | None, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._gone = False
        self._send_lock = asyncio.Lock()
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        self.process.start()
        self._child_end.close()
        self._reader = threading.Thread(
            target=self._read,
            args=(asyncio.get_running_loop(),),
            name=f"sfu-worker-{self.index}-reader",
            daemon=True,
        )
        self._reader.start()
        logger.info("SFU worker %s started (pid %s)", self.index, self.process.pid)

    async def request(self, command: str, *args: Any) -> Any:
        if self._gone:
            raise WorkerGone(f"SFU worker {self.index} has ended")
        request_id = next(self._ids)
        answer = asyncio.get_running_loop().create_future()
        self._pending[request_id] = answer
        try:
            async with self._send_lock:
                await asyncio.to_thread(
                    self._connection.send, (request_id, command, args)
                )
        except OSError as error:
            self._pending.pop(request_id, None)
            raise WorkerGone(f"SFU worker {self.index} has ended") from error
        return await answer

    async def stop(self) -> None:
        if not self._gone:
            closed = asyncio.get_running_loop().create_future()
            self._pending[None] = closed
            with contextlib.suppress(OSError):
                async with self._send_lock:
                    await asyncio.to_thread(self._connection.send, (0, SHUTDOWN, ()))
            with contextlib.suppress(TimeoutError, SfuError):
                async with asyncio.timeout(STOP_TIMEOUT_SECONDS):
                    await closed
        self._end()
        await asyncio.to_thread(self.process.join, STOP_TIMEOUT_SECONDS)
        if self.process.is_alive():
            self.process.kill()
            await asyncio.to_thread(self.process.join)
        # The worker's end is closed now: the reader thread has read its EOF.
        if self._reader is not None:
            await asyncio.to_thread(self._reader.join, STOP_TIMEOUT_SECONDS)
        self._connection.close()

    def _read(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            try:
                message = self._connection.recv()
            except (EOFError, OSError):
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self._ended)
                return
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._deliver, message)

    def _deliver(self, message: tuple[Any, bool, Any]) -> None:
        request_id, ok, payload = message
        answer = self._pending.pop(request_id, None)
        if answer is None or answer.done():
            return
        if ok:
            answer.set_result(payload)
        else:
            name, text = payload
            answer.set_exception(ERRORS_BY_NAME.get(name, SfuError)(text))

    def _ended(self) -> None:
        if not self._gone:
            logger.warning("SFU worker %s has ended", self.index)
        self._end()

    def _end(self) -> None:
        self._gone = True
        for answer in self._pending.values():
            if not answer.done():
                answer.set_exception(WorkerGone(f"SFU worker {self.index} has ended"))
        self._pending.clear()
