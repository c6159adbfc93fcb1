"""The rules a practice meets when it schedules a video appointment."""

from datetime import UTC, date, datetime, time, timedelta
from uuid import uuid4

import pytest

from domain.appointment import Appointment
from domain.errors import (
    InvalidAppointmentDetails,
    NonexistentLocalTime,
    StartInThePast,
)
from domain.local_time import practice_time_to_utc, zone_abbreviation

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def schedule(**changes: object) -> Appointment:
    details: dict[str, object] = {
        "practitioner_id": uuid4(),
        "patient_name": "Erika Mustermann",
        "patient_email": "erika@example.test",
        "starts_at": NOW + timedelta(days=1),
        "duration_minutes": 15,
        "note": "",
        "token_nonce": "n",
        "join_token_hash": "j",
        "cancel_token_hash": "c",
        "at": NOW,
        **changes,
    }
    return Appointment.schedule(**details)  # type: ignore[arg-type]


def test_an_appointment_lasts_a_quarter_hour_unless_the_practice_says_otherwise():
    appointment = schedule()
    assert appointment.duration_minutes == 15
    assert appointment.ends_at == appointment.starts_at + timedelta(minutes=15)


@pytest.mark.parametrize("minutes", [5, 15, 50, 240])
def test_durations_from_five_minutes_to_four_hours_are_accepted(minutes: int):
    assert schedule(duration_minutes=minutes).duration_minutes == minutes


@pytest.mark.parametrize("minutes", [0, 4, 241, -15])
def test_durations_outside_five_minutes_to_four_hours_are_refused(minutes: int):
    with pytest.raises(InvalidAppointmentDetails, match="zwischen 5 und 240 Minuten"):
        schedule(duration_minutes=minutes)


def test_a_start_in_the_past_is_refused_with_the_date_shown():
    with pytest.raises(StartInThePast, match=r"04\.12\.2026 um 09:59"):
        schedule(starts_at=NOW - timedelta(minutes=1))


def test_a_start_at_this_very_moment_is_refused():
    with pytest.raises(StartInThePast):
        schedule(starts_at=NOW)


def test_a_start_more_than_a_year_ahead_is_refused():
    with pytest.raises(InvalidAppointmentDetails, match="ein Jahr"):
        schedule(starts_at=NOW + timedelta(days=367))


def test_the_patients_name_is_tidied_and_required():
    assert schedule(patient_name="  Erika   Mustermann ").patient_name == (
        "Erika Mustermann"
    )
    with pytest.raises(InvalidAppointmentDetails, match="Namen"):
        schedule(patient_name="   ")


@pytest.mark.parametrize(
    "address", ["erika", "erika@", "@example.test", "a b@example.test", "x@y"]
)
def test_an_unusable_email_address_is_refused(address: str):
    with pytest.raises(InvalidAppointmentDetails, match="E-Mail-Adresse"):
        schedule(patient_email=address)


def test_a_note_longer_than_a_thousand_characters_is_refused():
    with pytest.raises(InvalidAppointmentDetails, match="1000 Zeichen"):
        schedule(note="x" * 1001)


def test_berlin_winter_time_is_one_hour_ahead_of_utc():
    instant = practice_time_to_utc(date(2026, 12, 7), time(9, 30))
    assert instant == datetime(2026, 12, 7, 8, 30, tzinfo=UTC)
    assert zone_abbreviation(instant) == "MEZ"


def test_berlin_summer_time_is_two_hours_ahead_of_utc():
    instant = practice_time_to_utc(date(2027, 7, 1), time(9, 30))
    assert instant == datetime(2027, 7, 1, 7, 30, tzinfo=UTC)
    assert zone_abbreviation(instant) == "MESZ"


@pytest.mark.parametrize("clock", [time(2, 0), time(2, 30), time(2, 59)])
def test_a_time_skipped_when_clocks_go_forward_in_spring_is_refused(clock: time):
    with pytest.raises(NonexistentLocalTime, match="Uhren von 2 auf 3 Uhr"):
        practice_time_to_utc(date(2027, 3, 28), clock)


def test_the_minutes_around_the_spring_gap_exist():
    before = practice_time_to_utc(date(2027, 3, 28), time(1, 59))
    after = practice_time_to_utc(date(2027, 3, 28), time(3, 0))
    assert after - before == timedelta(minutes=1)


def test_a_time_that_happens_twice_in_autumn_means_the_first_in_summer_time():
    instant = practice_time_to_utc(date(2026, 10, 25), time(2, 30))
    assert instant == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert zone_abbreviation(instant) == "MESZ"
    one_hour_later = practice_time_to_utc(date(2026, 10, 25), time(3, 0))
    assert one_hour_later - instant == timedelta(hours=1, minutes=30)
