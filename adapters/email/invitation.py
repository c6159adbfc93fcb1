"""The invitation e-mail: plain text and HTML in German, with a calendar file."""

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from adapters.email.calendar_file import invitation_calendar
from adapters.email.german_dates import clock_time, long_date
from domain.appointment import Appointment
from domain.join_window import OPENS_BEFORE_START

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Sender:
    display_name: str
    address: str


@dataclass(frozen=True)
class InvitationLinks:
    join: str
    cancel: str
    tech_check: str


def compose_invitation(
    appointment: Appointment,
    *,
    practice_name: str,
    practitioner_name: str,
    sender: Sender,
    links: InvitationLinks,
    message_id: str,
    at: datetime,
) -> EmailMessage:
    facts = {
        "practice_name": practice_name,
        "practitioner_name": practitioner_name,
        "patient_name": appointment.patient_name,
        "date": long_date(appointment.starts_at),
        "time": clock_time(appointment.starts_at),
        "opens_time": clock_time(appointment.starts_at - OPENS_BEFORE_START),
        "duration_minutes": appointment.duration_minutes,
        "note": appointment.note,
        "links": links,
    }
    message = EmailMessage()
    message["Subject"] = (
        f"Ihre Videosprechstunde am {long_date(appointment.starts_at)} "
        f"um {clock_time(appointment.starts_at)}"
    )
    message["From"] = Address(
        sender.display_name or practice_name, addr_spec=sender.address
    )
    message["To"] = Address(
        appointment.patient_name, addr_spec=appointment.patient_email
    )
    message["Date"] = format_datetime(at)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_templates.get_template("invitation.txt").render(facts))
    message.add_alternative(
        _templates.get_template("invitation.html").render(facts), subtype="html"
    )
    message.add_attachment(
        invitation_calendar(
            appointment,
            practice_name=practice_name,
            organizer_email=sender.address,
            join_link=links.join,
            sequence=0,
            stamped_at=at,
        ),
        maintype="text",
        subtype="calendar",
        filename="videosprechstunde.ics",
        params={"method": "REQUEST"},
    )
    return message
