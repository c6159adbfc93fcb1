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
