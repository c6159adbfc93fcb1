"""Server-rendered pages: Jinja2 templates with German date formatting."""

from datetime import datetime
from pathlib import Path

from starlette.templating import Jinja2Templates

from adapters.email.german_dates import WEEKDAYS, clock_time, long_date
from domain.local_time import in_practice_time

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _short_time(instant: datetime) -> str:
    return f"{in_practice_time(instant):%H:%M}"


def _short_date(instant: datetime) -> str:
    return f"{in_practice_time(instant):%d.%m.}"


def _weekday(instant: datetime) -> str:
    return WEEKDAYS[in_practice_time(instant).weekday()]


templates.env.filters["long_date"] = long_date
templates.env.filters["clock_time"] = clock_time
templates.env.filters["short_time"] = _short_time
templates.env.filters["short_date"] = _short_date
templates.env.filters["weekday"] = _weekday
templates.env.filters["iso"] = lambda instant: instant.isoformat()
