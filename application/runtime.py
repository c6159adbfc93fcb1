"""Puts the applications, read models and processes together for one process.

On the embedded default everything runs here: the event store is SQLite in
the data folder, the mailroom follows the consultations in the same thread
right after each save, and mail goes out from a background loop.
"""

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import Message
from typing import Any
from uuid import UUID

from eventsourcing.system import SingleThreadedRunner, System

from adapters.email.messages import MailContext, PatientLinks, compose_mail
from adapters.email.transport import MailTransport, OutboxFolder, SmtpTransport
from application.config import Settings
from application.consultations import Consultations
from application.tokens import LinkTokens
from domain.access_token import TokenPurpose
from domain.appointment import Appointment
from domain.outgoing_mail import OutgoingMail
from domain.video_session import Role
from processes.mail_dispatcher import MailDispatcher
from processes.mailroom import Mailroom
from processes.reminders import ReminderSweep
from projections.calendar import CalendarView
from projections.follower import LogFollower
from projections.mail_queue import MailQueueView

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def eventsourcing_environment(settings: Settings) -> dict[str, str]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "CONSULTATIONS_SQLITE_DBNAME": str(settings.data_dir / "consultations.sqlite"),
        "MAILROOM_SQLITE_DBNAME": str(settings.data_dir / "mailroom.sqlite"),
        "SQLITE_LOCK_TIMEOUT": "10",
    }


class Runtime:
    def __init__(
        self,
        settings: Settings,
        clock: Clock = utc_now,
        transport: MailTransport | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._runner: SingleThreadedRunner[UUID] = SingleThreadedRunner(
            System(pipes=[[Consultations, Mailroom]]),
            env=eventsourcing_environment(settings),
        )
        self._runner.start()
        self.consultations = self._runner.get(Consultations)
        self.consultations.link_tokens = LinkTokens(settings.secret_key)
        self.mailroom = self._runner.get(Mailroom)

        self.calendar = CalendarView()
        self.calendar_follower = LogFollower(self.consultations, [self.calendar])
        self.mail_queue = MailQueueView()
        self.mail_queue_follower = LogFollower(self.mailroom, [self.mail_queue])
        self.reminders = ReminderSweep(self.consultations, self.mailroom, self.calendar)
        self.dispatcher = MailDispatcher(
            consultations=self.consultations,
            mailroom=self.mailroom,
            queue=self.mail_queue,
            queue_follower=self.mail_queue_follower,
            compose=self.compose_mail,
            transport=transport or self._configured_transport(),
        )

    def start(self) -> None:
        """Catches up with anything missed while the process was down."""
        self.mailroom.pull_and_process(Consultations.name)
        self.calendar_follower.pull()
        self.mail_queue_follower.pull()
        self._close_stale_presence()

    def send_due_mail(self) -> int:
        """Decides due reminders, then sends what is due; one round of the
        background mail work."""
        now = self.clock()
        self.calendar_follower.pull()
        self.reminders.run(now)
        return self.dispatcher.dispatch_due(now)

    def close(self) -> None:
        self._runner.stop()

    def _configured_transport(self) -> MailTransport:
        if self.settings.smtp_url:
            return SmtpTransport(self.settings.smtp_url)
        return OutboxFolder(self.settings.outbox_dir)

    def _close_stale_presence(self) -> None:
        # Connections do not survive a restart of this process; whoever the log
        # still shows as present has in fact left.
        now = self.clock()
        for entry in self.calendar.with_someone_present():
            for role in list(entry.present):
                session = self.consultations.video_session(entry.appointment_id)
                connection_id = session.present.get(role) if session else None
                if connection_id:
                    self.consultations.participant_leaves(
                        entry.appointment_id,
                        Role(role),
                        connection_id,
                        "server restarted",
                        now,
                    )
        self.calendar_follower.pull()

    def link(self, path: str) -> str:
        return f"{self.settings.base_url}{path}"

    def compose_mail(
        self, mail: OutgoingMail, appointment: Appointment, at: datetime
    ) -> Message:
        practice = self.consultations.practice()
        practitioner = self.consultations.practitioner(appointment.practitioner_id)
        join_token = self.consultations.link_token(appointment, TokenPurpose.JOIN)
        cancel_token = self.consultations.link_token(appointment, TokenPurpose.CANCEL)
        context = MailContext(
            practice=practice.settings,
            practitioner_name=practitioner.name,
            practitioner_email=practitioner.email,
            sender_address=self.settings.mail_from,
            links=PatientLinks(
                join=self.link(f"/j/{join_token}"),
                cancel=self.link(f"/c/{cancel_token}"),
                tech_check=self.link("/technikcheck"),
                appointment_for_practice=self.link(f"/termine/{appointment.id}"),
            ),
            message_id=mail.message_id,
        )
        return compose_mail(mail.kind, appointment, context, at)

    def health(self) -> dict[str, Any]:
        self.consultations.recorder.max_notification_id()
        return {"status": "ok", "event_store": "reachable"}
