"""`sprechzimmer worker`: takes jobs from Redis and keeps the mailroom
following the consultations' log.

arq's own worker ends when Redis goes away. Here it is restarted with growing
pauses instead, while the mailroom keeps deciding mail from the log; the
sweep that runs at each restart queues whatever fell due meanwhile.

A job whose worker died mid-run stays in the queue, marked as in progress
until the job timeout plus arq's ten seconds have passed since it started;
then a worker runs it again.
SPRECHZIMMER_JOB_TIMEOUT_SECONDS therefore sets both how long one job may take
and how soon a crashed job is retried. A delivery run twice finds its mail
sent, or at a newer version, and does nothing.
"""

import asyncio
import contextlib
import logging
import signal
from typing import Any

import redis
from arq.worker import Worker, func

from adapters.jobs.connection import (
    JobQueueUnavailable,
    decode_job,
    encode_job,
    open_pool,
    redis_address,
)
from adapters.jobs.queue import DELIVER_MAIL, JobQueue
from adapters.jobs.schedule import scheduled_jobs
from adapters.jobs.tasks import WorkerServices, deliver_mail
from application.config import ConfigurationError, Settings
from application.persistence import is_database_error
from application.runtime import Runtime
from projections.follower import LogSubscriber

logger = logging.getLogger(__name__)

FOLLOW_INTERVAL_SECONDS = 0.5
FIRST_RECONNECT_PAUSE_SECONDS = 1.0
LONGEST_RECONNECT_PAUSE_SECONDS = 15.0
# A worker that ran this long was connected: the next pause starts short again.
STEADY_RUN_SECONDS = 30.0
# arq counts every start of a job, one cut short by a crash included; after
# this many it gives the job up, and the sweep queues the mail afresh.
MAX_DELIVERY_TRIES = 5
# arq logs every job's start and end; these run every few seconds.
HOUSEKEEPING = (":enqueue_due_mail", ":seal_event_logs")


def run_worker(settings: Settings) -> int:
    if settings.redis_url is None:
        raise ConfigurationError(
            "SPRECHZIMMER_REDIS_URL is not set: the worker takes its jobs from "
            "Redis, e.g. redis://127.0.0.1:6379/0"
        )
    asyncio.run(_check_reachable(settings.redis_url, settings.job_queue))
    logging.getLogger("arq.worker").addFilter(_quiet_housekeeping)
    runtime = Runtime(settings)
    # The worker writes the links into the mails: the web process's address.
    logger.info("Links in mail point to %s", settings.base_url)
    try:
        asyncio.run(JobWorker(runtime).run())
    finally:
        runtime.close()
    return 0


async def _check_reachable(url: str, queue_name: str) -> None:
    try:
        pool = await open_pool(url, queue_name)
    except JobQueueUnavailable as error:
        raise ConfigurationError(
            f"SPRECHZIMMER_REDIS_URL: {error}; start Redis or correct the address"
        ) from None
    await pool.aclose(close_connection_pool=True)


def _quiet_housekeeping(record: logging.LogRecord) -> bool:
    if record.levelno > logging.INFO or not isinstance(record.args, tuple):
        return True
    return not any(
        str(arg).startswith("cron:") and str(arg).endswith(HOUSEKEEPING)
        for arg in record.args
    )


class JobWorker:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        assert self.settings.redis_url is not None
        self.redis_url = self.settings.redis_url
        self.services = WorkerServices(runtime, JobQueue(self.settings))
        self._arq_worker: Worker | None = None
        self._log_moved = asyncio.Event()

    async def run(self) -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        await self.services.bookkeeping(self.runtime.start)
        self._log_moved = asyncio.Event()
        subscribers = self._follow_live(loop)
        tasks = [
            asyncio.create_task(self._follow_the_log()),
            asyncio.create_task(self._take_jobs()),
        ]
        try:
            await stopping.wait()
            logger.info("Worker stopping")
            await self._finish_running_jobs()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for subscriber in subscribers:
                subscriber.stop()
            await self.services.jobs.close()
            self.services.close()

    def _follow_live(self, loop: asyncio.AbstractEventLoop) -> list[LogSubscriber]:
        """In production mode the database tells the worker the moment a web
        process stores something (LISTEN/NOTIFY); the poll stays as a net."""
        if not self.settings.production:
            return []

        def wake() -> None:
            loop.call_soon_threadsafe(self._log_moved.set)

        subscribers = [
            LogSubscriber(self.runtime.consultations, [wake]),
            LogSubscriber(self.runtime.mailroom, [wake]),
        ]
        for subscriber in subscribers:
            subscriber.start()
        return subscribers

    async def _finish_running_jobs(self) -> None:
        # A job cancelled now would be put back and could run elsewhere while
        # its mail is still being handed over here: let it end first.
        worker = self._arq_worker
        if worker is None or not worker.tasks:
            return
        worker.allow_pick_jobs = False
        await asyncio.wait(
            list(worker.tasks.values()), timeout=self.settings.job_timeout_seconds
        )

    async def _follow_the_log(self) -> None:
        # Events from the web processes: decide their mail here too, in case
        # the web process that stored them could not, and queue what is due.
        while True:
            self._log_moved.clear()
            try:
                if await self.services.bookkeeping(self.runtime.follow_consultations):
                    await self.services.queue_due_mail()
            except Exception as error:
                if is_database_error(error):
                    logger.warning("Following the event log failed (%s)", error)
                else:
                    logger.exception("Following the event log failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._log_moved.wait(), FOLLOW_INTERVAL_SECONDS)

    async def _take_jobs(self) -> None:
        loop = asyncio.get_running_loop()
        address = redis_address(self.redis_url)
        pause = FIRST_RECONNECT_PAUSE_SECONDS
        while True:
            started = loop.time()
            try:
                await self._run_arq_worker(address)
            except JobQueueUnavailable as error:
                logger.warning("Job queue: %s; trying again in %.0f s", error, pause)
            except (redis.RedisError, OSError, TimeoutError) as error:
                logger.warning(
                    "Lost the job queue at %s (%s); trying again in %.0f s",
                    address,
                    type(error).__name__,
                    pause,
                )
            except Exception:
                logger.exception("The job worker failed; restarting in %.0f s", pause)
            if loop.time() - started > STEADY_RUN_SECONDS:
                pause = FIRST_RECONNECT_PAUSE_SECONDS
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_RECONNECT_PAUSE_SECONDS)

    async def _run_arq_worker(self, address: str) -> None:
        pool = await open_pool(self.redis_url, self.settings.job_queue)
        worker = self._arq_worker = Worker(redis_pool=pool, **self._worker_options())
        logger.info("Taking jobs from queue %s at %s", self.settings.job_queue, address)
        try:
            await worker.main()
        finally:
            self._arq_worker = None
            await _discard(worker)

    def _worker_options(self) -> dict[str, Any]:
        return {
            "functions": [
                func(deliver_mail, name=DELIVER_MAIL, max_tries=MAX_DELIVERY_TRIES)
            ],
            "cron_jobs": scheduled_jobs(self.settings),
            "queue_name": self.settings.job_queue,
            "job_timeout": self.settings.job_timeout_seconds,
            # No results in Redis: a job's outcome is recorded in the event
            # store, and a kept result would block its job name from reuse.
            "keep_result": 0,
            "ctx": {"services": self.services},
            "handle_signals": False,
            "job_serializer": encode_job,
            "job_deserializer": decode_job,
        }


async def _discard(worker: Worker) -> None:
    """Stops a worker whose Redis went away (or that is asked to stop). Its
    running jobs are cancelled; arq puts them back for another run where it
    still can, and otherwise they run again once their mark has expired."""
    for task in worker.tasks.values():
        task.cancel()
    await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
    try:
        await worker.pool.aclose(close_connection_pool=True)
    except Exception:
        logger.debug("Closing the lost Redis connection failed", exc_info=True)
