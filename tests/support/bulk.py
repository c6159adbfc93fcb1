"""A practice with many appointments, for benchmarks and retention scenarios."""

from datetime import date, datetime, time, timedelta
from uuid import UUID

from application.consultations import Consultations, ScheduleRequest


def set_up_practice(consultations: Consultations, at: datetime) -> UUID:
    return consultations.set_up_practice(
        practice_name="Praxis am Markt",
        name="Dr. Anna Weber",
        email="weber@praxis.test",
        password="ein-langes-passwort",
        at=at,
    )


def schedule_many(
    consultations: Consultations,
    practitioner_id: UUID,
    count: int,
    first_day: date,
    at: datetime,
) -> None:
    """Spreads `count` appointments over 25 days from `first_day`, 07:00 to
    18:59, each with its own patient."""
    for number in range(count):
        consultations.schedule_appointment(
            practitioner_id,
            ScheduleRequest(
                patient_name=f"Patientin Nummer {number}",
                patient_email=f"p{number}@example.test",
                day=first_day + timedelta(days=number % 25),
                clock=time(7 + number % 12, (number // 12) % 60),
                duration_minutes=15,
                note="",
            ),
            at,
        )
