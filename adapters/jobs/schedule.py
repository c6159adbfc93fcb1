"""When the scheduled jobs run. arq enqueues each one at its times under a
name made of the job's name and the time, so with several workers each run
happens once."""

from collections.abc import Callable
from typing import Any

from arq.cron import CronJob, cron

from adapters.jobs.tasks import (
    decide_reminders,
    enqueue_due_mail,
    seal_event_logs,
    shred_due_personal_data,
)
from application.config import Settings

EVERY_FIVE_SECONDS = set(range(0, 60, 5))


def scheduled_jobs(settings: Settings) -> list[CronJob]:
    # Each worker runs the sweeps once as it starts (and after Redis was
    # back), so what fell due while it was down does not wait for the clock.
    queue = settings.job_queue
    return [
        cron(
            enqueue_due_mail,
            name=cron_name(queue, enqueue_due_mail),
            second=EVERY_FIVE_SECONDS,
            run_at_startup=True,
        ),
        cron(
            seal_event_logs,
            name=cron_name(queue, seal_event_logs),
            second=EVERY_FIVE_SECONDS,
        ),
        cron(
            decide_reminders,
            name=cron_name(queue, decide_reminders),
            second=30,
            run_at_startup=True,
        ),
        cron(
            shred_due_personal_data,
            name=cron_name(queue, shred_due_personal_data),
            run_at_startup=True,
            **cron_times(settings.retention_interval_seconds),
        ),
    ]


def cron_name(queue: str, job: Callable[..., Any]) -> str:
    # arq's job keys are not per queue: without the queue's name in it, a run
    # of another queue on the same Redis at the same second would stand in
    # for this one's.
    return f"cron:{queue}:{job.__name__}"


def cron_times(interval_seconds: float) -> dict[str, Any]:
    """arq's cron fields for runs at most `interval_seconds` apart: every few
    seconds, minutes or hours, on a step that divides the minute, the hour or
    the day, so the runs are evenly spaced."""
    seconds = max(1, int(interval_seconds))
    if seconds < 60:
        return {"second": set(range(0, 60, _step(seconds, 60)))}
    if seconds < 3600:
        return {"minute": set(range(0, 60, _step(seconds // 60, 60))), "second": 0}
    hours = min(seconds // 3600, 24)
    return {"hour": set(range(0, 24, _step(hours, 24))), "minute": 0, "second": 0}


def _step(wanted: int, whole: int) -> int:
    """The largest divisor of `whole` that is not above `wanted`."""
    return max(step for step in range(1, wanted + 1) if whole % step == 0)
