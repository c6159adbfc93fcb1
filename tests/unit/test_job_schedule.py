"""When the workers' scheduled jobs run, and how a delivery job is named."""

from uuid import uuid4

import pytest

from adapters.jobs.queue import mail_job_id, version_in
from adapters.jobs.schedule import cron_times


@pytest.mark.parametrize(
    ("interval", "fields"),
    [
        (5, {"second": set(range(0, 60, 5))}),
        (7, {"second": set(range(0, 60, 6))}),
        (60, {"minute": set(range(60)), "second": 0}),
        (600, {"minute": {0, 10, 20, 30, 40, 50}, "second": 0}),
        (3000, {"minute": {0, 30}, "second": 0}),
        (7200, {"hour": set(range(0, 24, 2)), "minute": 0, "second": 0}),
        (86_400 * 3, {"hour": {0}, "minute": 0, "second": 0}),
    ],
)
def test_the_retention_sweep_runs_at_least_as_often_as_configured(
    interval: float, fields: dict
) -> None:
    assert cron_times(interval) == fields


def test_a_delivery_job_is_named_after_the_mail_and_its_version() -> None:
    mail_id = uuid4()
    job_id = mail_job_id(mail_id, 3)
    assert job_id == f"mail:{mail_id}:3"
    assert version_in(job_id) == 3


def test_a_job_of_another_kind_names_no_mail_version() -> None:
    assert version_in("cron:sprechzimmer:jobs:enqueue_due_mail:1765000000123") is None
    assert version_in("3f2a") is None
