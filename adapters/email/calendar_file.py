"""The .ics file that puts an appointment into the patient's calendar."""

from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event, vCalAddress, vText

from domain.appointment import Appointment


def invitation_calendar(
    appointment: Appointment,
    *,
    practice_name: str,
    organizer_email: str,
    join_link: str,
    sequence: int,
    stamped_at: datetime,
) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Sprechzimmer//Videosprechstunde//DE")
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")

    entry = Event()
    entry.add("uid", f"{appointment.id}@sprechzimmer")
    entry.add("sequence", sequence)
    entry.add("dtstamp", stamped_at.astimezone(UTC))
    entry.add("dtstart", appointment.starts_at.astimezone(UTC))
    entry.add(
        "dtend",
        (
            appointment.starts_at + timedelta(minutes=appointment.duration_minutes)
        ).astimezone(UTC),
    )
    entry.add("summary", f"Videosprechstunde – {practice_name}")
    entry.add("location", join_link)
    entry.add(
        "description",
        "Ihre Videosprechstunde. Der Zugang öffnet 15 Minuten vor Beginn:\n"
        f"{join_link}",
    )
    organizer = vCalAddress(f"mailto:{organizer_email}")
    organizer.params["cn"] = vText(practice_name)
    entry.add("organizer", organizer)
    entry.add("status", "CONFIRMED")
    calendar.add_component(entry)
    return calendar.to_ical()
