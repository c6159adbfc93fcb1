"""Every e-mail Sprechzimmer sends: German plain text and HTML, and for the
patient's calendar an .ics that adds, updates or removes the entry.

Built with the classic MIME classes: they compose several times faster than
EmailMessage with the modern policy, which parses every header it is given."""

from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from adapters.email.calendar_file import appointment_calendar
from adapters.email.german_dates import clock_time, long_date
from domain.appointment import Appointment
from domain.join_window import OPENS_BEFORE_START
from domain.outgoing_mail import MailKind
from domain.patient_seat import FIRST_PATIENT, PatientSeat
from domain.practice import PracticeSettings

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

SUBJECTS = {
    MailKind.INVITATION: "Ihre Videosprechstunde am {date} um {time}",
    MailKind.INVITATION_UPDATE: "Geänderter Termin: Videosprechstunde am {date} "
    "um {time}",
    MailKind.REMINDER: "Erinnerung: Videosprechstunde am {date} um {time}",
    MailKind.CANCELLATION_CONFIRMATION: "Abgesagt: Videosprechstunde am {date}",
    MailKind.CANCELLED_BY_PRACTICE: "Ihre Praxis hat die Videosprechstunde am {date} "
    "abgesagt",
    MailKind.CANCELLATION_NOTICE: "Absage durch Patient/in: Videotermin am {date} "
    "um {time}",
}
CALENDAR_METHOD = {
    MailKind.INVITATION: "REQUEST",
    MailKind.INVITATION_UPDATE: "REQUEST",
    MailKind.CANCELLATION_CONFIRMATION: "CANCEL",
    MailKind.CANCELLED_BY_PRACTICE: "CANCEL",
}


@dataclass(frozen=True)
class PatientLinks:
    join: str
    cancel: str
    tech_check: str
    appointment_for_practice: str


@dataclass(frozen=True)
class MailContext:
    practice: PracticeSettings
    practitioner_name: str
    practitioner_email: str
    sender_address: str
    links: PatientLinks
    message_id: str


@dataclass(frozen=True)
class Letter:
    """A composed mail and the one address it goes to (the SMTP envelope is
    never read back out of the headers)."""

    message: Message
    recipient: str


def compose_mail(
    kind: MailKind,
    appointment: Appointment,
    context: MailContext,
    at: datetime,
    patient_id: str = FIRST_PATIENT,
) -> Letter:
    """`patient_id` names the patient the mail is for, or about (a
    cancellation notice to the practice)."""
    seat = appointment.patient(patient_id)
    facts = _facts(appointment, seat, context)
    body = MIMEMultipart("alternative")
    body.attach(_text(f"{kind.value}.txt", facts, "plain"))
    body.attach(_text(f"{kind.value}.html", facts, "html"))

    method = CALENDAR_METHOD.get(kind)
    message: Message = body
    if method is not None:
        message = MIMEMultipart("mixed")
        message.attach(body)
        message.attach(_calendar_part(appointment, context, method, at))

    if kind.goes_to_practice:
        recipient = (
            context.practice.name,
            context.practice.notification_email or context.practitioner_email,
        )
    else:
        recipient = (seat.name, seat.email)
    # The classic API takes a Header object here; typeshed only knows str.
    message["Subject"] = Header(SUBJECTS[kind].format(**facts), "utf-8")  # type: ignore[assignment]
    message["From"] = formataddr(
        (context.practice.name, context.sender_address), "utf-8"
    )
    message["To"] = formataddr(recipient, "utf-8")
    message["Date"] = format_datetime(at)
    message["Message-ID"] = context.message_id
    message["Auto-Submitted"] = "auto-generated"
    return Letter(message=message, recipient=recipient[1])


def _text(template: str, facts: dict[str, Any], subtype: str) -> MIMEText:
    return MIMEText(_templates.get_template(template).render(facts), subtype, "utf-8")


def _calendar_part(
    appointment: Appointment, context: MailContext, method: str, at: datetime
) -> MIMEText:
    part = MIMEText(
        appointment_calendar(
            appointment,
            method=method,
            practice_name=context.practice.name,
            organizer_email=context.sender_address,
            join_link=context.links.join,
            stamped_at=at,
        ).decode(),
        "calendar",
        "utf-8",
    )
    part.set_param("method", method)
    part.add_header(
        "Content-Disposition", "attachment", filename="videosprechstunde.ics"
    )
    return part


def _facts(
    appointment: Appointment, seat: PatientSeat, context: MailContext
) -> dict[str, Any]:
    practice = context.practice
    # A group patient who cancelled for themselves: their own cancellation.
    cancelled_at = seat.cancelled_at or appointment.cancelled_at
    cancelled_late = seat.cancelled_late if seat.cancelled_at else None
    return {
        "practice": practice,
        "practice_name": practice.name,
        "practitioner_name": context.practitioner_name,
        "patient_name": seat.name,
        "is_group": appointment.is_group,
        "date": long_date(appointment.starts_at),
        "time": clock_time(appointment.starts_at),
        "opens_time": clock_time(appointment.starts_at - OPENS_BEFORE_START),
        "duration_minutes": appointment.duration_minutes,
        "note": appointment.note,
        "links": context.links,
        "deadline_hours": practice.cancellation_deadline_hours,
        "fee_note": practice.fee_note,
        "cancellation_message": appointment.cancellation_message,
        "cancelled_late": (
            appointment.cancelled_late if cancelled_late is None else cancelled_late
        ),
        "cancelled_at": (
            f"{long_date(cancelled_at)}, {clock_time(cancelled_at)}"
            if cancelled_at
            else ""
        ),
    }
