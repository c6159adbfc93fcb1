"""Puts jobs on the queue: which mail to deliver, and when.

A delivery job is named after the mail and the version of it that was due:
`mail:<id>:<version>`. arq refuses a job whose name is queued or running, so
however many processes notice the same due mail, one job delivers it. Once an
attempt is recorded the mail has a new version, and a retry is a new job.
"""

import logging
from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

import redis
from arq.connections import ArqRedis

from adapters.jobs.connection import JobQueueUnavailable, open_pool, redis_address
from application.config import Settings
from projections.mail_queue import MailStatus

logger = logging.getLogger(__name__)

DELIVER_MAIL = "deliver_mail"


def mail_job_id(mail_id: UUID, version: int) -> str:
    return f"mail:{mail_id}:{version}"


def version_in(job_id: str) -> int | None:
    """The mail version a delivery job was queued for, from its name."""
    prefix, _, version = job_id.rpartition(":")
    if not prefix.startswith("mail:") or not version.isdigit():
        return None
    return int(version)


class JobQueue:
    """The queue named by SPRECHZIMMER_JOB_QUEUE on SPRECHZIMMER_REDIS_URL.

    It connects on first use and again after Redis was away; while Redis is
    unreachable each call raises JobQueueUnavailable at once, so a caller can
    log it and carry on."""

    def __init__(self, settings: Settings) -> None:
        assert settings.redis_url is not None
        self._url = settings.redis_url
        self._queue_name = settings.job_queue
        self._pool: ArqRedis | None = None
        self._reachable = True

    async def deliver_mail(
        self, mail_id: UUID, version: int, not_before: datetime | None = None
    ) -> bool:
        """Queues the delivery of this version of the mail, deferred until
        `not_before` if that is later; False if such a job is already queued."""
        pool = await self._connected()
        try:
            job = await pool.enqueue_job(
                DELIVER_MAIL,
                str(mail_id),
                _job_id=mail_job_id(mail_id, version),
                _defer_until=not_before,
            )
        except (redis.RedisError, OSError, TimeoutError) as error:
            raise self._lost(error) from None
        self._back()
        return job is not None

    async def deliver_due_mail(self, due: Iterable[MailStatus]) -> int:
        """Queues every mail that is due; returns how many jobs are new."""
        queued = 0
        for status in due:
            if await self.deliver_mail(status.mail_id, status.version):
                queued += 1
        if queued:
            logger.info("%s mail deliveries queued", queued)
        return queued

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.aclose(close_connection_pool=True)

    async def _connected(self) -> ArqRedis:
        if self._pool is None:
            try:
                self._pool = await open_pool(self._url, self._queue_name)
            except JobQueueUnavailable as error:
                self._note_unreachable(str(error))
                raise
        return self._pool

    def _lost(self, error: BaseException) -> JobQueueUnavailable:
        description = (
            f"Redis at {redis_address(self._url)} failed ({type(error).__name__})"
        )
        self._note_unreachable(description)
        return JobQueueUnavailable(description)

    def _note_unreachable(self, description: str) -> None:
        if self._reachable:
            logger.warning(
                "Job queue unreachable: %s; due mail is queued once it is back",
                description,
            )
        self._reachable = False

    def _back(self) -> None:
        if not self._reachable:
            logger.info("Job queue reachable again")
        self._reachable = True
