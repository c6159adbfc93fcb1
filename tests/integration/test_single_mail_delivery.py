"""A worker's delivery job sends its one mail once, however often it runs."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.outgoing_mail import DeliveryState
from tests.support.in_process import InProcessPractice, in_process_practice
from tests.support.mailbox import Mailbox


@pytest.fixture
def practice(tmp_path: Path, mailbox: Mailbox) -> Iterator[InProcessPractice]:
    with in_process_practice(tmp_path / "data", mailbox.url) as running:
        yield running


def test_a_delivery_job_run_again_after_its_mail_went_out_sends_nothing(
    practice: InProcessPractice, mailbox: Mailbox
) -> None:
    response = practice.post_form(
        "/termine",
        {
            "patient_name": "Erika Mustermann",
            "patient_email": "erika@example.test",
            "day": "2026-12-08",
            "clock": "10:00",
            "duration": "15",
            "note": "",
        },
    )
    assert response.status_code == 303, response.text
    [invitation] = practice.runtime.due_mail()
    dispatcher = practice.runtime.dispatcher
    now = practice.clock()

    assert dispatcher.deliver(invitation.mail_id, now, version=2) is None
    assert mailbox.messages == []

    mail = dispatcher.deliver(invitation.mail_id, now, version=1)
    assert mail is not None and mail.state is DeliveryState.DELIVERED
    assert dispatcher.deliver(invitation.mail_id, now, version=1) is None
    assert dispatcher.deliver(invitation.mail_id, now) is None
    assert len(mailbox.messages) == 1
    assert practice.runtime.due_mail() == []


def test_a_delivery_whose_record_lost_its_answer_still_counts_as_sent(
    practice: InProcessPractice, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database took the delivery record but the answer never came (it
    restarted at that instant): saving again conflicts with our own record.
    The invitation still counts as sent, and the mail went out once."""
    response = practice.post_form(
        "/termine",
        {
            "patient_name": "Erika Mustermann",
            "patient_email": "erika@example.test",
            "day": "2026-12-08",
            "clock": "10:00",
            "duration": "15",
            "note": "",
        },
    )
    assert response.status_code == 303, response.text
    [invitation] = practice.runtime.due_mail()
    recorder = practice.runtime.mailroom.recorder
    insert_events = recorder.insert_events

    def stored_but_answer_lost(*arguments: object, **kwargs: object) -> object:
        # As eventsourcing's retry does after a lost answer: the same insert
        # again, which now conflicts with the first.
        insert_events(*arguments, **kwargs)  # type: ignore[arg-type]
        monkeypatch.setattr(recorder, "insert_events", insert_events)
        return insert_events(*arguments, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(recorder, "insert_events", stored_but_answer_lost)
    mail = practice.runtime.dispatcher.deliver(invitation.mail_id, practice.clock())

    assert mail is not None and mail.state is DeliveryState.DELIVERED
    assert len(mailbox.messages) == 1
    appointment = practice.runtime.consultations.appointment(invitation.appointment_id)
    assert appointment.invitation_sent_at is not None
