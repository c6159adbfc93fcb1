"""When the patient's link lets them in: from 15 minutes before the start to
the end of the appointment, and not a second outside."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.appointment import CURRENT_TERMS_VERSION, Appointment, AppointmentStatus
from domain.errors import (
    AppointmentNotActive,
    ConsentMissing,
    JoinWindowClosed,
    JoinWindowNotOpenYet,
    NoShowTooEarly,
    PatientNotWaiting,
)

SCHEDULED_AT = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
START = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
ONE_SECOND = timedelta(seconds=1)


@pytest.fixture
def appointment() -> Appointment:
    return Appointment.schedule(
        practitioner_id=uuid4(),
        patient_name="Erika Mustermann",
        patient_email="erika@example.test",
        starts_at=START,
        duration_minutes=20,
        note="",
        token_nonce="n",
        join_token_hash="j",
        cancel_token_hash="c",
        at=SCHEDULED_AT,
    )


def consent(appointment: Appointment, at: datetime) -> None:
    appointment.give_consent(
        terms_version=CURRENT_TERMS_VERSION,
        name_confirmed=True,
        terms_accepted=True,
        at=at,
    )


def test_the_link_opens_exactly_fifteen_minutes_before_the_start(appointment):
    opening = START - timedelta(minutes=15)
    with pytest.raises(JoinWindowNotOpenYet, match="10:45 Uhr"):
        appointment.check_patient_may_enter(opening - ONE_SECOND)
    appointment.check_patient_may_enter(opening)


def test_the_link_stays_valid_until_exactly_the_end(appointment):
    end = START + timedelta(minutes=20)
    appointment.check_patient_may_enter(end)
    with pytest.raises(JoinWindowClosed):
        appointment.check_patient_may_enter(end + ONE_SECOND)


def test_the_too_early_message_names_the_opening_in_german_time(appointment):
    with pytest.raises(JoinWindowNotOpenYet) as refusal:
        appointment.check_patient_may_enter(SCHEDULED_AT)
    assert refusal.value.message == (
        "Der Zugang öffnet am 04.12.2026 um 10:45 Uhr, 15 Minuten vor Beginn "
        "des Termins."
    )


def test_consent_needs_the_patient_to_confirm_who_they_are(appointment):
    with pytest.raises(ConsentMissing, match="eingeladene Person"):
        appointment.give_consent(
            terms_version=CURRENT_TERMS_VERSION,
            name_confirmed=False,
            terms_accepted=True,
            at=START,
        )


def test_consent_needs_the_terms_accepted(appointment):
    with pytest.raises(ConsentMissing, match="Nutzungsbedingungen"):
        appointment.give_consent(
            terms_version=CURRENT_TERMS_VERSION,
            name_confirmed=True,
            terms_accepted=False,
            at=START,
        )


def test_consent_to_outdated_terms_is_refused(appointment):
    with pytest.raises(ConsentMissing, match="aktualisiert"):
        appointment.give_consent(
            terms_version="1999-01", name_confirmed=True, terms_accepted=True, at=START
        )


def test_consent_is_recorded_with_time_and_terms_version(appointment):
    consent(appointment, START - timedelta(minutes=10))
    assert appointment.consent_given_at == START - timedelta(minutes=10)
    assert appointment.terms_version == CURRENT_TERMS_VERSION
    assert appointment.status is AppointmentStatus.CONSENTED


def test_consent_outside_the_window_is_refused(appointment):
    with pytest.raises(JoinWindowNotOpenYet):
        consent(appointment, START - timedelta(minutes=16))


def test_the_waiting_room_needs_consent_first(appointment):
    with pytest.raises(ConsentMissing):
        appointment.arrive_in_waiting_room(START)


def test_only_the_first_arrival_is_recorded(appointment):
    consent(appointment, START - timedelta(minutes=5))
    appointment.arrive_in_waiting_room(START - timedelta(minutes=4))
    appointment.arrive_in_waiting_room(START - timedelta(minutes=1))
    assert appointment.arrived_at == START - timedelta(minutes=4)
    assert appointment.status is AppointmentStatus.WAITING


def test_nobody_can_be_admitted_before_arriving(appointment):
    with pytest.raises(PatientNotWaiting):
        appointment.admit_patient(START)


def test_a_completed_appointment_lets_nobody_in_any_more(appointment):
    consent(appointment, START)
    appointment.arrive_in_waiting_room(START)
    appointment.admit_patient(START + timedelta(minutes=1))
    appointment.complete(START + timedelta(minutes=12))
    assert appointment.status is AppointmentStatus.COMPLETED
    with pytest.raises(AppointmentNotActive):
        appointment.check_patient_may_enter(START + timedelta(minutes=13))
    with pytest.raises(AppointmentNotActive):
        appointment.complete(START + timedelta(minutes=14))


def test_an_appointment_cannot_be_completed_before_it_began(appointment):
    with pytest.raises(PatientNotWaiting, match="noch nicht begonnen"):
        appointment.complete(START)


def test_a_no_show_is_recorded_only_from_the_start(appointment):
    with pytest.raises(NoShowTooEarly):
        appointment.record_no_show(START - ONE_SECOND)
    appointment.record_no_show(START)
    assert appointment.status is AppointmentStatus.NO_SHOW


def test_an_admitted_patient_is_no_no_show(appointment):
    consent(appointment, START)
    appointment.arrive_in_waiting_room(START)
    appointment.admit_patient(START)
    with pytest.raises(AppointmentNotActive):
        appointment.record_no_show(START + timedelta(minutes=5))
