"""A group appointment: up to eight patients, each with a place of their own."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.appointment import CURRENT_TERMS_VERSION, Appointment, AppointmentStatus
from domain.errors import (
    AlreadyCancelled,
    AppointmentWasCancelled,
    InvalidAppointmentDetails,
    PatientNotWaiting,
    RemovedFromCall,
    TooManyPatients,
)
from domain.patient_seat import FIRST_PATIENT

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
START = NOW + timedelta(days=2)


def group(size: int) -> Appointment:
    appointment = Appointment.schedule(
        practitioner_id=uuid4(),
        patient_name="Erika Mustermann",
        patient_email="erika@example.test",
        starts_at=START,
        duration_minutes=90,
        note="",
        token_nonce="n1",
        join_token_hash="j1",
        cancel_token_hash="c1",
        at=NOW,
    )
    for number in range(2, size + 1):
        appointment.add_patient(
            name=f"Person {number}",
            email=f"person{number}@example.test",
            token_nonce=f"n{number}",
            join_token_hash=f"j{number}",
            cancel_token_hash=f"c{number}",
            at=NOW,
        )
    return appointment


def replayed(appointment: Appointment, events: Sequence | None = None) -> Appointment:
    copy = None
    for domain_event in events or appointment.collect_events():
        copy = domain_event.mutate(copy)
    assert isinstance(copy, Appointment)
    return copy


def arrive(appointment: Appointment, patient_id: str) -> None:
    at = START - timedelta(minutes=5)
    appointment.give_consent(
        terms_version=CURRENT_TERMS_VERSION,
        name_confirmed=True,
        terms_accepted=True,
        at=at,
        patient_id=patient_id,
    )
    appointment.arrive_in_waiting_room(at, patient_id)


def test_a_one_patient_appointment_is_no_group_and_has_one_seat():
    appointment = group(1)
    assert not appointment.is_group
    assert list(appointment.patients) == [FIRST_PATIENT]
    assert appointment.patients[FIRST_PATIENT].name == "Erika Mustermann"


def test_eight_patients_fit_into_a_group_appointment():
    appointment = replayed(group(8))
    assert appointment.is_group
    assert list(appointment.patients) == [f"p{n}" for n in range(1, 9)]
    assert appointment.patients["p8"].email == "person8@example.test"
    assert appointment.patients["p8"].join_token_hash == "j8"


def test_a_ninth_patient_is_refused():
    appointment = group(8)
    with pytest.raises(TooManyPatients, match="höchstens 8"):
        appointment.add_patient(
            name="Eine zu viel",
            email="neun@example.test",
            token_nonce="n9",
            join_token_hash="j9",
            cancel_token_hash="c9",
            at=NOW,
        )


def test_each_patient_needs_an_address_of_their_own():
    appointment = group(2)
    with pytest.raises(InvalidAppointmentDetails, match="schon eingeladen"):
        appointment.add_patient(
            name="Erikas Zwilling",
            email="ERIKA@example.test",
            token_nonce="n3",
            join_token_hash="j3",
            cancel_token_hash="c3",
            at=NOW,
        )


def test_each_link_leads_to_its_own_patient():
    appointment = group(3)
    seat = appointment.seat_with_token_hash("j2", join=True)
    assert seat is not None and seat.patient_id == "p2"
    seat = appointment.seat_with_token_hash("c3", join=False)
    assert seat is not None and seat.patient_id == "p3"
    assert appointment.seat_with_token_hash("c3", join=True) is None


def test_a_patient_who_cancels_removes_only_themselves():
    appointment = group(3)
    appointment.cancel_by_patient(deadline_hours=24, at=NOW, patient_id="p2")
    appointment = replayed(appointment)

    assert appointment.status is AppointmentStatus.SCHEDULED
    assert appointment.patients["p2"].is_cancelled
    assert [seat.patient_id for seat in appointment.taking_part] == ["p1", "p3"]
    with pytest.raises(AppointmentWasCancelled, match="Teilnahme"):
        appointment.check_patient_may_enter(START, "p2")
    appointment.check_patient_may_enter(START, "p3")
    with pytest.raises(AlreadyCancelled):
        appointment.cancel_by_patient(deadline_hours=24, at=NOW, patient_id="p2")


def test_when_every_patient_cancelled_the_appointment_counts_as_cancelled():
    appointment = group(3)
    for patient_id in ("p3", "p1", "p2"):
        appointment.cancel_by_patient(deadline_hours=24, at=NOW, patient_id=patient_id)
    events = appointment.collect_events()
    last = events[-1]
    assert isinstance(last, Appointment.PatientCancelled)
    assert last.everyone_cancelled
    assert replayed(appointment, events).status is AppointmentStatus.CANCELLED


def test_a_late_cancellation_is_marked_for_that_patient_only():
    appointment = group(2)
    appointment.cancel_by_patient(
        deadline_hours=24, at=START - timedelta(hours=2), patient_id="p2"
    )
    assert appointment.patients["p2"].cancelled_late
    assert not appointment.patients["p1"].cancelled_late


def test_consent_arrival_and_admission_are_per_patient():
    appointment = group(3)
    arrive(appointment, "p2")
    arrive(appointment, "p3")
    assert appointment.patients["p1"].arrived_at is None
    with pytest.raises(PatientNotWaiting, match="Erika Mustermann"):
        appointment.admit_patient(START, "p1")

    appointment.admit_patient(START, "p2")
    appointment = replayed(appointment)
    assert appointment.patients["p2"].admitted_at == START
    assert appointment.patients["p3"].admitted_at is None
    assert appointment.patients["p3"].consent_given_at is not None
    assert appointment.status is AppointmentStatus.ADMITTED


def test_changes_to_a_group_tell_only_those_still_taking_part():
    appointment = group(3)
    appointment.cancel_by_patient(deadline_hours=24, at=NOW, patient_id="p2")
    appointment.reschedule(START + timedelta(hours=1), 90, NOW)
    rescheduled = appointment.collect_events()[-1]
    assert isinstance(rescheduled, Appointment.Rescheduled)
    assert list(rescheduled.patient_ids) == ["p1", "p3"]


def test_changes_to_a_one_patient_appointment_name_nobody_in_particular():
    appointment = group(1)
    appointment.reschedule(START + timedelta(hours=1), 90, NOW)
    rescheduled = appointment.collect_events()[-1]
    assert isinstance(rescheduled, Appointment.Rescheduled)
    assert tuple(rescheduled.patient_ids) == ()


def test_a_removed_patient_cannot_come_back():
    appointment = group(2)
    arrive(appointment, "p2")
    appointment.admit_patient(START, "p2")
    appointment.remove_patient("p2", START + timedelta(minutes=3))
    appointment = replayed(appointment)
    with pytest.raises(RemovedFromCall, match="nicht wieder beitreten"):
        appointment.check_patient_may_enter(START + timedelta(minutes=4), "p2")
    with pytest.raises(PatientNotWaiting):
        appointment.admit_patient(START, "p2")
