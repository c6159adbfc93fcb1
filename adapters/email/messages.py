"""Every e-mail Sprechzimmer sends: German plain text and HTML, and for the
patient's calendar an .ics that adds, updates or removes the entry."""

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from adapters.email.calendar_file import appointment_calendar
from adapters.email.german_dates import clock_time, long_date
from domain.appointment import Appointment
from domain.join_window import OPENS_BEFORE_START
from domain.outgoing_mail import MailKind
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


def compose_mail(
    kind: MailKind, appointment: Appointment, context: MailContext, at: datetime
) -> EmailMessage:
    facts = _facts(appointment, context)
    message = EmailMessage()
    message["Subject"] = SUBJECTS[kind].format(**facts)
    message["From"] = Address(context.practice.name, addr_spec=context.sender_address)
    if kind.goes_to_practice:
        practice_address = (
            context.practice.notification_email or context.practitioner_email
        )
        message["To"] = Address(context.practice.name, addr_spec=practice_address)
    else:
        message["To"] = Address(
            appointment.patient_name, addr_spec=appointment.patient_email
        )
    message["Date"] = format_datetime(at)
    message["Message-ID"] = context.message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_templates.get_template(f"{kind.value}.txt").render(facts))
    message.add_alternative(
        _templates.get_template(f"{kind.value}.html").render(facts), subtype="html"
    )

    method = CALENDAR_METHOD.get(kind)
    if method is not None:
        message.add_attachment(
            appointment_calendar(
                appointment,
                method=method,
                practice_name=context.practice.name,
                organizer_email=context.sender_address,
                join_link=context.links.join,
                stamped_at=at,
            ),
            maintype="text",
            subtype="calendar",
            filename="videosprechstunde.ics",
            params={"method": method},
        )
    return message


def _facts(appointment: Appointment, context: MailContext) -> dict[str, Any]:
    practice = context.practice
    return {
        "practice": practice,
        "practice_name": practice.name,
        "practitioner_name": context.practitioner_name,
        "patient_name": appointment.patient_name,
        "date": long_date(appointment.starts_at),
        "time": clock_time(appointment.starts_at),
        "opens_time": clock_time(appointment.starts_at - OPENS_BEFORE_START),
        "duration_minutes": appointment.duration_minutes,
        "note": appointment.note,
        "links": context.links,
        "deadline_hours": practice.cancellation_deadline_hours,
        "fee_note": practice.fee_note,
        "cancellation_message": appointment.cancellation_message,
        "cancelled_late": appointment.cancelled_late,
        "cancelled_at": (
            f"{long_date(appointment.cancelled_at)}, "
            f"{clock_time(appointment.cancelled_at)}"
            if appointment.cancelled_at
            else ""
        ),
    }
