"""Dates and times the way a German letter writes them, without a locale."""

from datetime import datetime

from domain.local_time import in_practice_time, zone_abbreviation

WEEKDAYS = (
    "Montag",
    "Dienstag",
    "Mittwoch",
    "Donnerstag",
    "Freitag",
    "Samstag",
    "Sonntag",
)


def long_date(instant: datetime) -> str:
    local = in_practice_time(instant)
    return f"{WEEKDAYS[local.weekday()]}, {local:%d.%m.%Y}"


def clock_time(instant: datetime) -> str:
    local = in_practice_time(instant)
    return f"{local:%H:%M} Uhr ({zone_abbreviation(instant)})"
