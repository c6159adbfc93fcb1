"""Personal data is kept three months after an appointment at the latest."""

from datetime import UTC, date, datetime

import pytest

from domain.retention import (
    appointment_ended_at,
    shredding_deadline,
    three_months_after,
)


@pytest.mark.parametrize(
    ("ended", "due"),
    [
        (date(2026, 11, 30), date(2027, 2, 28)),
        (date(2027, 11, 30), date(2028, 2, 29)),
        (date(2026, 11, 29), date(2027, 2, 28)),
        (date(2026, 11, 28), date(2027, 2, 28)),
        (date(2026, 12, 1), date(2027, 3, 1)),
        (date(2026, 12, 31), date(2027, 3, 31)),
        (date(2027, 1, 31), date(2027, 4, 30)),
        (date(2027, 8, 31), date(2027, 11, 30)),
        (date(2027, 5, 31), date(2027, 8, 31)),
    ],
)
def test_three_months_after_a_day_never_spills_into_the_next_month(ended, due):
    assert three_months_after(ended) == due


def test_an_appointment_ending_on_30_november_is_due_at_the_start_of_28_february():
    ended = datetime(2026, 11, 30, 16, 15, tzinfo=UTC)
    deadline = shredding_deadline(ended)
    assert deadline.isoformat() == "2027-02-28T00:00:00+01:00"


def test_the_deadline_counts_from_the_german_calendar_day():
    # 23:30 UTC on 31 January is already 1 February in Berlin.
    late_evening = datetime(2027, 1, 31, 23, 30, tzinfo=UTC)
    assert shredding_deadline(late_evening).isoformat() == "2027-05-01T00:00:00+02:00"


def test_a_cancelled_appointment_counts_from_its_cancellation():
    planned_end = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
    cancelled = datetime(2027, 1, 5, 9, 0, tzinfo=UTC)
    assert appointment_ended_at(planned_end, cancelled, None) == cancelled


def test_an_overrunning_appointment_counts_from_when_it_really_ended():
    planned_end = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
    completed = datetime(2027, 3, 1, 10, 40, tzinfo=UTC)
    assert appointment_ended_at(planned_end, None, completed) == completed
    early = datetime(2027, 3, 1, 9, 50, tzinfo=UTC)
    assert appointment_ended_at(planned_end, None, early) == planned_end
