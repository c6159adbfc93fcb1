"""Shreds each appointment's personal data by its deadline, at the latest
three months after the appointment.

Per appointment, in an order that survives a crash at any point: delete the
copies of its mails, delete its data key (after which its personal fields in
the event log are unreadable for good), then record that it was shredded. A
run that was killed is simply run again: deleting what is gone is harmless,
and the record is written once.
"""

import logging
from collections.abc import Callable
from datetime import datetime

from adapters.storage.key_store import KeyStore
from application.consultations import Consultations
from projections.calendar import CalendarEntry, CalendarView
from projections.mail_queue import MailQueueView

logger = logging.getLogger(__name__)

ForgetMail = Callable[[list[str]], None]


class RetentionSweep:
    def __init__(
        self,
        *,
        consultations: Consultations,
        key_store: KeyStore,
        calendar: CalendarView,
        mail_queue: MailQueueView,
        forget_mail: ForgetMail,
    ) -> None:
        self._consultations = consultations
        self._key_store = key_store
        self._calendar = calendar
        self._mail_queue = mail_queue
        self._forget_mail = forget_mail

    def due(self, by: datetime, now: datetime) -> list[CalendarEntry]:
        """Due by `by` (now, or later for early deletion), but never an
        appointment that has not even ended yet."""
        return [
            entry
            for entry in self._calendar.due_for_shredding(by)
            if entry.ended_at <= now
        ]

    def run(self, now: datetime, due_by: datetime | None = None) -> int:
        """Shreds everything due (by `due_by`, default now), recording `now` as
        the time of shredding; returns how many appointments."""
        shredded = 0
        try:
            for entry in self.due(due_by or now, now):
                self.shred(entry, now)
                shredded += 1
        finally:
            self._key_store.flush_shredded()
        if shredded:
            logger.info("Personal data of %s appointments shredded", shredded)
        return shredded

    def shred(self, entry: CalendarEntry, at: datetime) -> None:
        mails = self._mail_queue.for_appointment(entry.appointment_id)
        self._forget_mail([f"<{mail.mail_id}@sprechzimmer>" for mail in mails])
        self._key_store.shred(entry.appointment_id, at)
        self._consultations.record_shredding(entry.appointment_id, at)
