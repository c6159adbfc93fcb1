"""Turning a practice's wall-clock time in Germany into an instant.

Practices schedule in Europe/Berlin local time. On the last Sunday of March the
clocks jump from 02:00 to 03:00, so 02:30 does not exist that night: such a
start is refused. On the last Sunday of October 02:00 to 03:00 happens twice:
we take the first occurrence (still summer time, MESZ), because a practice
that types 02:30 that night almost always means the earlier one, and every
page and mail shows the zone abbreviation so nobody is left guessing.
"""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from domain.errors import NonexistentLocalTime

PRACTICE_TIMEZONE = ZoneInfo("Europe/Berlin")


def practice_time_to_utc(day: date, clock: time) -> datetime:
    naive = datetime.combine(day, clock.replace(tzinfo=None, fold=0))
    local = naive.replace(tzinfo=PRACTICE_TIMEZONE)

    round_trip = local.astimezone(UTC).astimezone(PRACTICE_TIMEZONE)
    if round_trip.replace(tzinfo=None) != naive:
        raise NonexistentLocalTime(
            f"Am {day:%d.%m.%Y} gibt es {clock:%H:%M} Uhr nicht: in dieser Nacht "
            "werden die Uhren von 2 auf 3 Uhr vorgestellt. Bitte wählen Sie eine "
            "andere Uhrzeit."
        )
    return local.astimezone(UTC)


def in_practice_time(instant: datetime) -> datetime:
    return instant.astimezone(PRACTICE_TIMEZONE)


def zone_abbreviation(instant: datetime) -> str:
    """MEZ in winter, MESZ in summer: what German readers expect to see."""
    offset = in_practice_time(instant).utcoffset()
    return "MESZ" if offset is not None and offset.total_seconds() == 7200 else "MEZ"
