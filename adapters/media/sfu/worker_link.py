"""The pool's side of one SFU worker process: start it, ask it, stop it."""

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
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

    def start(self) -> None:
        self.process.start()
        self._child_end.close()
        asyncio.get_running_loop().add_reader(self._connection.fileno(), self._read)
        logger.info("SFU worker %s started (pid %s)", self.index, self.process.pid)

    async def request(self, command: str, *args: Any) -> Any:
        if self._gone:
            raise WorkerGone(f"SFU worker {self.index} has ended")
        request_id = next(self._ids)
        answer = asyncio.get_running_loop().create_future()
        self._pending[request_id] = answer
        try:
            self._connection.send((request_id, command, args))
        except OSError as error:
            self._pending.pop(request_id, None)
            raise WorkerGone(f"SFU worker {self.index} has ended") from error
        return await answer

    async def stop(self) -> None:
        if not self._gone:
            closed = asyncio.get_running_loop().create_future()
            self._pending[None] = closed
            with contextlib.suppress(OSError):
                self._connection.send((0, SHUTDOWN, ()))
            with contextlib.suppress(TimeoutError, SfuError):
                async with asyncio.timeout(STOP_TIMEOUT_SECONDS):
                    await closed
        self._end()
        await asyncio.to_thread(self.process.join, STOP_TIMEOUT_SECONDS)
        if self.process.is_alive():
            self.process.kill()
            await asyncio.to_thread(self.process.join)

    def _read(self) -> None:
        try:
            while self._connection.poll():
                request_id, ok, payload = self._connection.recv()
                answer = self._pending.pop(request_id, None)
                if answer is None or answer.done():
                    continue
                if ok:
                    answer.set_result(payload)
                else:
                    name, message = payload
                    answer.set_exception(ERRORS_BY_NAME.get(name, SfuError)(message))
        except (EOFError, OSError):
            logger.warning("SFU worker %s has ended", self.index)
            self._end()

    def _end(self) -> None:
        if not self._gone:
            self._gone = True
            with contextlib.suppress(ValueError, OSError):
                asyncio.get_running_loop().remove_reader(self._connection.fileno())
        for answer in self._pending.values():
            if not answer.done():
                answer.set_exception(WorkerGone(f"SFU worker {self.index} has ended"))
        self._pending.clear()
        self._connection.close()
