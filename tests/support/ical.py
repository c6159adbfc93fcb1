"""Reading the .ics attachment of a mail as a calendar program would."""

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from icalendar import Calendar


@dataclass(frozen=True)
class CalendarEntry:
    method: str
    uid: str
    sequence: int
    status: str
    starts: datetime
    ends: datetime
    description: str


def calendar_entry_of(mail: EmailMessage) -> CalendarEntry:
    for part in mail.iter_attachments():
        if part.get_content_type() != "text/calendar":
            continue
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        calendar = Calendar.from_ical(payload)
        event = calendar.walk("VEVENT")[0]
        method = str(calendar["METHOD"])
        assert part.get_param("method") == method
        return CalendarEntry(
            method=method,
            uid=str(event["UID"]),
            sequence=int(str(event["SEQUENCE"])),
            status=str(event["STATUS"]),
            starts=event.decoded("DTSTART"),
            ends=event.decoded("DTEND"),
            description=str(event["DESCRIPTION"]),
        )
    raise AssertionError("the mail has no calendar attachment")
