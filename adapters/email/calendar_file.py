"""The .ics file that puts an appointment into the patient's calendar, moves it
when the appointment moves (same UID, higher SEQUENCE), and removes it when the
appointment is cancelled (METHOD:CANCEL)."""

from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event, vCalAddress, vText

from domain.appointment import Appointment


def appointment_calendar(
    appointment: Appointment,
    *,
    method: str,
    practice_name: str,
    organizer_email: str,
    join_link: str,
    stamped_at: datetime,
) -> bytes:
    cancelling = method == "CANCEL"
    calendar = Calendar()
    calendar.add("prodid", "-//Sprechzimmer//Videosprechstunde//DE")
    calendar.add("version", "2.0")
    calendar.add("method", method)

    entry = Event()
    entry.add("uid", f"{appointment.id}@sprechzimmer")
    entry.add("sequence", appointment.sequence + (1 if cancelling else 0))
    entry.add("dtstamp", stamped_at.astimezone(UTC))
    entry.add("dtstart", appointment.starts_at.astimezone(UTC))
    entry.add(
        "dtend",
        (
            appointment.starts_at + timedelta(minutes=appointment.duration_minutes)
        ).astimezone(UTC),
    )
    entry.add("summary", f"Videosprechstunde – {practice_name}")
    if cancelling:
        entry.add("status", "CANCELLED")
        entry.add("description", "Dieser Termin wurde abgesagt.")
    else:
        entry.add("status", "CONFIRMED")
        entry.add("location", join_link)
        entry.add(
            "description",
            "Ihre Videosprechstunde. Der Zugang öffnet 15 Minuten vor Beginn:\n"
            f"{join_link}",
        )
    organizer = vCalAddress(f"mailto:{organizer_email}")
    organizer.params["cn"] = vText(practice_name)
    entry.add("organizer", organizer)
    calendar.add_component(entry)
    return calendar.to_ical()
