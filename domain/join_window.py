"""When a patient's join link lets them in.

The link opens a quarter of an hour before the start, so the patient can check
camera and microphone and wait, and stays valid until the appointment's end.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

OPENS_BEFORE_START = timedelta(minutes=15)


@dataclass(frozen=True)
class JoinWindow:
    starts_at: datetime
    duration: timedelta

    @property
    def opens_at(self) -> datetime:
        return self.starts_at - OPENS_BEFORE_START

    @property
    def closes_at(self) -> datetime:
        return self.starts_at + self.duration

    def is_open(self, at: datetime) -> bool:
        return self.opens_at <= at <= self.closes_at

    def is_early(self, at: datetime) -> bool:
        return at < self.opens_at

    def is_over(self, at: datetime) -> bool:
        return at > self.closes_at
