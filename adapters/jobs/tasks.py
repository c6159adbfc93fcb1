"""The jobs a worker runs. Each takes IDs at most and loads the rest itself.

The event store is synchronous: its work runs in two threads of the worker's
own, one that sends mail (one SMTP connection at a time) and one for the
bookkeeping (following the log, the sweeps), so that a slow mail server holds
up no sweep and no two sweeps touch the read models at once.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

from adapters.jobs.connection import JobQueueUnavailable
from adapters.jobs.queue import JobQueue, version_in
from application.runtime import Runtime
from domain.outgoing_mail import DeliveryState, OutgoingMail

logger = logging.getLogger(__name__)

T = TypeVar("T")
Context = dict[str, Any]


@dataclass
class WorkerServices:
    runtime: Runtime
    jobs: JobQueue
    mail_thread: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="mail")
    )
    bookkeeping_thread: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="books")
    )

    async def sending(self, function: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self.mail_thread, function
        )

    async def bookkeeping(self, function: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self.bookkeeping_thread, function
        )

    async def queue_due_mail(self) -> int:
        due = await self.bookkeeping(self.runtime.due_mail)
        try:
            return await self.jobs.deliver_due_mail(due)
        except JobQueueUnavailable:
            # Logged by the queue; the next sweep after Redis is back queues it.
            return 0

    def close(self) -> None:
        # A mail being handed over is finished and recorded before the exit.
        self.mail_thread.shutdown(wait=True, cancel_futures=True)
        self.bookkeeping_thread.shutdown(wait=True, cancel_futures=True)


def services_in(ctx: Context) -> WorkerServices:
    services: WorkerServices = ctx["services"]
    return services


async def deliver_mail(ctx: Context, mail_id: str) -> str:
    """Sends one mail, once. After a failed attempt the mail has a new
    version, and its next attempt is queued as a job of its own."""
    services = services_in(ctx)
    runtime = services.runtime
    mail = await services.sending(
        lambda: runtime.dispatcher.deliver(
            UUID(mail_id), runtime.clock(), version_in(ctx["job_id"])
        )
    )
    if mail is None:
        return "nothing to do"
    if mail.state is DeliveryState.QUEUED:
        await _queue_next_attempt(services, mail)
    return str(mail.state)


async def _queue_next_attempt(services: WorkerServices, mail: OutgoingMail) -> None:
    # Without Redis, the sweep queues it once it is due and Redis is back.
    with contextlib.suppress(JobQueueUnavailable):
        await services.jobs.deliver_mail(
            mail.id, mail.version, not_before=mail.next_attempt_at
        )


async def enqueue_due_mail(ctx: Context) -> int:
    """The sweep that queues every due mail still waiting: after Redis was
    away, after a lost job, after a retry's pause."""
    return await services_in(ctx).queue_due_mail()


async def decide_reminders(ctx: Context) -> int:
    services = services_in(ctx)
    decided = await services.bookkeeping(services.runtime.decide_due_reminders)
    if decided:
        await services.queue_due_mail()
    return decided


async def shred_due_personal_data(ctx: Context) -> int:
    services = services_in(ctx)
    return await services.bookkeeping(services.runtime.shred_due_personal_data)


async def seal_event_logs(ctx: Context) -> int:
    services = services_in(ctx)
    return await services.bookkeeping(services.runtime.seal_event_logs)
