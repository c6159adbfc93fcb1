"""How long an appointment's personal data may be kept.

At the latest three months after the appointment ended (or was cancelled).
The deadline is the start of the day, in German time, three calendar months
after that day; a day that month does not have falls back to its last day, so
an appointment that ended on 30 November is due on 28 February (29th in a leap
year), never in March.
"""

import calendar
from datetime import date, datetime, time

from domain.local_time import PRACTICE_TIMEZONE, in_practice_time

RETENTION_MONTHS = 3


def appointment_ended_at(
    planned_end: datetime,
    cancelled_at: datetime | None,
    finished_at: datetime | None,
) -> datetime:
    """When an appointment stopped mattering: its cancellation, or the later of
    its planned end and the moment it was completed or marked a no-show."""
    if cancelled_at is not None:
        return cancelled_at
    return max(planned_end, finished_at or planned_end)


def three_months_after(day: date) -> date:
    month_index = day.month - 1 + RETENTION_MONTHS
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    last_day = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last_day))


def shredding_deadline(ended_at: datetime) -> datetime:
    due_day = three_months_after(in_practice_time(ended_at).date())
    return datetime.combine(due_day, time(0), PRACTICE_TIMEZONE)
