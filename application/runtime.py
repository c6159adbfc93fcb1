"""Puts the applications, read models and processes together for one process.

On the embedded default everything runs here: the event store is SQLite in
the data folder, the mailroom follows the consultations in the same thread
right after each save, and mail goes out from a background loop. With
SPRECHZIMMER_REDIS_URL the same runtime also serves `sprechzimmer worker`,
which sends the mail and runs the sweeps as jobs.
"""

import logging
import socket
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import RecordConflictError
from eventsourcing.system import RecordingEvent, RecordingEventReceiver

from adapters.email.messages import Letter, MailContext, PatientLinks, compose_mail
from adapters.email.transport import MailTransport, OutboxFolder, SmtpTransport
from adapters.storage.chain_store import ChainStore
from application.audit_chain import ChainKeeper
from application.config import ConfigurationError, Settings
from application.consultations import Consultations
from application.persistence import (
    BackgroundRounds,
    describe_unreachable,
    eventsourcing_environment,
    is_database_error,
    open_key_store,
    tables_created_one_at_a_time,
)
from application.tokens import LinkTokens
from domain.access_token import TokenPurpose
from domain.appointment import Appointment
from domain.outgoing_mail import OutgoingMail
from domain.patient_seat import FIRST_PATIENT
from processes.mail_dispatcher import MailDispatcher
from processes.mailroom import Mailroom
from processes.reminders import ReminderSweep
from processes.retention import RetentionSweep
from projections.calendar import CalendarView
from projections.follower import LogFollower, LogSubscriber
from projections.mail_queue import MailQueueView, MailStatus
from projections.practice_directory import PracticeDirectory

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# Each conflict means another process decided an event first; a few in a row
# would mean something else is wrong.
MAX_DECISION_CONFLICTS = 5


def utc_now() -> datetime:
    return datetime.now(UTC)


class MailroomPrompt(RecordingEventReceiver[UUID]):
    """Lets the mailroom follow the consultations right after each save, in
    the thread that saved; a blocked save waits for the one before it."""

    def __init__(self, mailroom: Mailroom) -> None:
        self._mailroom = mailroom
        self._lock = threading.Lock()

    def receive_recording_event(
        self, new_recording_event: RecordingEvent[UUID]
    ) -> None:
        relevant = self._mailroom.topics
        if not any(
            recording.notification.topic in relevant
            for recording in new_recording_event.recordings
        ):
            return
        with self._lock:
            decide_mail(self._mailroom)


def decide_mail(mailroom: Mailroom) -> None:
    """Lets the mailroom process what is new in the consultations' log. A
    worker or a command-line tool may process the same event in the same
    instant: its decision then stands, and this one reads on after it."""
    for _ in range(MAX_DECISION_CONFLICTS - 1):
        try:
            mailroom.pull_and_process(Consultations.name)
            return
        except RecordConflictError:
            logger.debug("Another process decided the same mail first")
    mailroom.pull_and_process(Consultations.name)


class Runtime:
    def __init__(
        self,
        settings: Settings,
        clock: Clock = utc_now,
        transport: MailTransport | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        # `serve` adds its port when no name is configured.
        self.node_name = settings.node_name or socket.gethostname()
        try:
            self.key_store = open_key_store(settings)
            env = eventsourcing_environment(settings)
            with tables_created_one_at_a_time(settings):
                self.consultations = Consultations(env, key_store=self.key_store)
                self.mailroom = Mailroom(env)
        except ConfigurationError:
            raise
        except Exception as error:
            if not settings.database_url or not is_database_error(error):
                raise
            raise describe_unreachable(settings, error) from None
        self.consultations.link_tokens = LinkTokens(settings.secret_key)
        self.mailroom.follow(Consultations.name, self.consultations.notification_log)
        self.consultations.lead(MailroomPrompt(self.mailroom))

        self.calendar = CalendarView()
        self.directory = PracticeDirectory()
        self.calendar_follower = LogFollower(
            self.consultations, [self.calendar, self.directory]
        )
        self.mail_queue = MailQueueView()
        self.mail_queue_follower = LogFollower(self.mailroom, [self.mail_queue])
        self.reminders = ReminderSweep(self.consultations, self.mailroom, self.calendar)
        self.transport = transport or self._configured_transport()
        self.dispatcher = MailDispatcher(
            consultations=self.consultations,
            mailroom=self.mailroom,
            queue=self.mail_queue,
            queue_follower=self.mail_queue_follower,
            compose=self.compose_mail,
            transport=self.transport,
            clock=clock,
        )
        self.retention = RetentionSweep(
            consultations=self.consultations,
            key_store=self.key_store,
            calendar=self.calendar,
            mail_queue=self.mail_queue,
            forget_mail=self.transport.forget,
        )
        self.calendar_follower.add_listener(self._forget_shredded_keys)
        self.chain_store = ChainStore(settings.audit_dir)
        self.chain_keeper = ChainKeeper(
            {
                "consultations": self.consultations.recorder,
                "mailroom": self.mailroom.recorder,
            },
            self.chain_store,
            settings.audit_signing_key,
            settings.audit_checkpoint_seconds,
        )
        self._subscribers: list[LogSubscriber] = []
        self.background_rounds = BackgroundRounds(settings.database_url)

    def start(self, serving: bool = False) -> None:
        """Catches up with anything missed while the process was down. Only the
        serving process closes the presence its predecessor left open; a tool
        run beside a live server must not."""
        decide_mail(self.mailroom)
        self.calendar_follower.pull()
        self.mail_queue_follower.pull()
        if serving:
            self._close_stale_presence()

    def follow_live(self, decides_mail: bool = True) -> None:
        """In production mode, follows what other processes record as it
        happens, through the database's notifications: the read models, and
        the mailroom's decisions if `decides_mail`."""
        if not self.settings.production or self._subscribers:
            return
        consultation_listeners: list[Callable[[], object]] = [
            self.calendar_follower.pull
        ]
        if decides_mail:
            consultation_listeners.insert(0, lambda: decide_mail(self.mailroom))
        self._subscribers = [
            LogSubscriber(self.consultations, consultation_listeners),
            LogSubscriber(self.mailroom, [self.mail_queue_follower.pull]),
        ]
        for subscriber in self._subscribers:
            subscriber.start()

    def send_due_mail(self) -> int:
        """Decides due reminders, then sends what is due; one round of the
        background mail work."""
        with self.background_rounds.exclusive("mail") as mine:
            if not mine:
                return 0
            now = self.clock()
            self.calendar_follower.pull()
            self.reminders.run(now)
            return self.dispatcher.dispatch_due(now)

    def follow_consultations(self) -> int:
        """Decides the mail for what other processes stored, and brings the
        read models up to date; returns how many mail events arrived."""
        decide_mail(self.mailroom)
        self.calendar_follower.pull()
        return self.mail_queue_follower.pull()

    def due_mail(self) -> list[MailStatus]:
        self.mail_queue_follower.pull()
        return self.mail_queue.due(self.clock())

    def decide_due_reminders(self) -> int:
        self.calendar_follower.pull()
        decided = self.reminders.run(self.clock())
        self.mail_queue_follower.pull()
        return decided

    def shred_due_personal_data(self, due_by: datetime | None = None) -> int:
        """One round of the retention process: what is due now (or by
        `due_by`, for early deletion) is shredded, recorded as of now."""
        with self.background_rounds.exclusive("retention") as mine:
            if not mine:
                return 0
            self.calendar_follower.pull()
            self.mail_queue_follower.pull()
            shredded = self.retention.run(self.clock(), due_by)
            self.calendar_follower.pull()
            return shredded

    def _forget_shredded_keys(self, events: Sequence[Any]) -> None:
        # Another process may have shredded: no cached key may outlive that.
        for domain_event in events:
            if isinstance(domain_event, Appointment.PersonalDataShredded):
                self.key_store.forget(domain_event.originator_id)

    def seal_event_logs(self, force_checkpoint: bool = False) -> int:
        """Extends the audit hash chain over what was stored since."""
        return self.chain_keeper.seal(self.clock(), force_checkpoint)

    def close(self) -> None:
        for subscriber in self._subscribers:
            subscriber.stop()
        try:
            self.seal_event_logs(force_checkpoint=True)
        except Exception:
            logger.exception("Could not seal the event logs while closing")
        self.chain_store.close()
        self.consultations.close()
        self.mailroom.close()
        self.key_store.close()

    def _configured_transport(self) -> MailTransport:
        if self.settings.smtp_url:
            return SmtpTransport(self.settings.smtp_url, self.settings.mail_from)
        return OutboxFolder(self.settings.outbox_dir)

    def new_connection_id(self) -> str:
        return f"{self.node_name}/{uuid4().hex}"

    def _close_stale_presence(self) -> None:
        # Connections do not survive a restart of this process; whoever the log
        # still shows as connected to it has in fact left. Other web processes'
        # connections (production mode) are theirs to close.
        now = self.clock()
        own = f"{self.node_name}/"
        for entry in self.calendar.with_someone_present():
            for participant in list(entry.present):
                session = self.consultations.video_session(entry.appointment_id)
                connection_id = session.present.get(participant) if session else None
                if not connection_id:
                    continue
                if self.settings.production and not connection_id.startswith(own):
                    continue
                self.consultations.participant_leaves(
                    entry.appointment_id,
                    participant,
                    connection_id,
                    "server restarted",
                    now,
                )
        self.calendar_follower.pull()

    def link(self, path: str) -> str:
        return f"{self.settings.base_url}{path}"

    def compose_mail(
        self, mail: OutgoingMail, appointment: Appointment, at: datetime
    ) -> Letter:
        practice = self.consultations.practice()
        practitioner = self.consultations.practitioner(appointment.practitioner_id)
        patient_id = mail.patient_id or FIRST_PATIENT
        join_token = self.consultations.link_token(
            appointment, TokenPurpose.JOIN, patient_id
        )
        cancel_token = self.consultations.link_token(
            appointment, TokenPurpose.CANCEL, patient_id
        )
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
        return compose_mail(mail.kind, appointment, context, at, patient_id)

    def health(self) -> dict[str, Any]:
        self.consultations.recorder.max_notification_id()
        return {"status": "ok", "event_store": "reachable"}

    def check_job_queue(self) -> None:
        # Imported here: the embedded default needs no Redis client in memory.
        from adapters.jobs.connection import check_reachable

        assert self.settings.redis_url is not None
        check_reachable(self.settings.redis_url)

    def needed_to_serve(self) -> list[str]:
        """The dependencies without which this process cannot do its work."""
        needed = ["event_store", "mailroom_store", "key_store", "audit_chain"]
        if not self.settings.redis_url:
            needed.append("mail")  # This process sends the mail itself.
        return needed

    def readiness(self) -> dict[str, str]:
        """Each dependency by name: "ok", or what is wrong with it."""
        checks = {
            "event_store": self.consultations.recorder.max_notification_id,
            "mailroom_store": self.mailroom.recorder.max_notification_id,
            "key_store": lambda: self.key_store.data_key(uuid4()),
            "audit_chain": lambda: self.chain_store.last_link("consultations"),
            "mail": self.transport.check,
        }
        if self.settings.redis_url:
            checks["job_queue"] = self.check_job_queue
        report = {}
        for name, check in checks.items():
            try:
                check()
                report[name] = "ok"
            except Exception as error:
                report[name] = f"unavailable ({type(error).__name__})"
        return report
