"""Decides reminder mails when their time comes.

A practice chooses how long before the start a reminder goes out (or none).
An appointment scheduled later than that gets no reminder: its invitation is
fresh enough. Moving the appointment moves the reminder, because a reminder is
decided for one start time only.
"""

import logging
from datetime import datetime, timedelta

from application.consultations import Consultations
from processes.mailroom import Mailroom
from projections.calendar import CalendarView

logger = logging.getLogger(__name__)


class ReminderSweep:
    def __init__(
        self, consultations: Consultations, mailroom: Mailroom, calendar: CalendarView
    ) -> None:
        self._consultations = consultations
        self._mailroom = mailroom
        self._calendar = calendar

    def run(self, at: datetime) -> int:
        """Decides every reminder that is due; returns how many were new."""
        if not self._consultations.practice_exists():
            return 0
        lead_hours = self._consultations.practice().reminder_lead_hours
        if lead_hours <= 0:
            return 0
        decided = 0
        for entry in self._calendar.reminders_due(timedelta(hours=lead_hours), at):
            patients = (
                [seat.patient_id for seat in entry.taking_part]
                if entry.is_group
                else [""]
            )
            for patient_id in patients:
                if self._mailroom.queue_reminder(
                    entry.appointment_id, entry.starts_at, at, patient_id
                ):
                    decided += 1
        if decided:
            logger.info("%s reminders decided", decided)
        return decided
