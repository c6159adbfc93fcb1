"""A group appointment over a practice's week, in this process with a clock the
test moves: changes by the practice reach every patient still taking part,
reminders go to each, and three months later every patient's data is gone."""

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from uuid import UUID

import pytest

from domain.practice import PracticeSettings
from tests.support.in_process import InProcessPractice, in_process_practice
from tests.support.mailbox import Mailbox
from tests.support.practice import cancel_link_in, csrf_of

PATIENTS = {
    "erika@example.test": "Erika Mustermann",
    "jonas@example.test": "Jonas Beispiel",
    "mira@example.test": "Mira Muster",
}


@pytest.fixture
def practice(tmp_path: Path, mailbox: Mailbox) -> Iterator[InProcessPractice]:
    with in_process_practice(tmp_path / "data", mailbox.url) as running:
        yield running


def schedule_group(practice: InProcessPractice, day: str = "2026-12-09") -> UUID:
    (first_email, first_name), *others = PATIENTS.items()
    fields = {
        "patient_name": first_name,
        "patient_email": first_email,
        "day": day,
        "clock": "11:00",
        "duration": "90",
        "note": "",
    }
    for number, (email, name) in enumerate(others, start=2):
        fields[f"patient_name_{number}"] = name
        fields[f"patient_email_{number}"] = email
    response = practice.post_form("/termine", fields)
    assert response.status_code == 303, response.text
    [entry] = [e for e in practice.runtime.calendar.all_entries() if e.is_group]
    return entry.appointment_id


def cancel_as(practice: InProcessPractice, mailbox: Mailbox, address: str) -> None:
    invitation = mailbox.wait_for(
        lambda m: address in str(m["To"]) and "Ihre Videosprechstunde" in m["Subject"]
    )
    link = cancel_link_in(invitation).replace("http://testserver", "")
    form = practice.client.get(link)
    done = practice.client.post(
        link,
        data={"csrf_token": csrf_of(form), "confirmed": "on"},
        follow_redirects=False,
    )
    assert done.status_code == 303


def subjects_to(mailbox: Mailbox, address: str) -> list[str]:
    return [str(m["Subject"]) for m in mailbox.to(address)]


def test_changes_by_the_practice_reach_only_those_still_taking_part(
    practice: InProcessPractice, mailbox: Mailbox
) -> None:
    appointment_id = schedule_group(practice)
    practice.send_due_mail()
    cancel_as(practice, mailbox, "jonas@example.test")
    practice.send_due_mail()

    moved = practice.post_form(
        f"/termine/{appointment_id}/verschieben",
        {"day": "2026-12-10", "clock": "11:00", "duration": "90"},
    )
    assert moved.status_code == 303
    practice.send_due_mail()
    assert practice.post_form(f"/termine/{appointment_id}/einladung", {}).is_redirect
    practice.send_due_mail()
    cancelled = practice.post_form(
        f"/termine/{appointment_id}/absagen", {"message": "", "confirmed": "on"}
    )
    assert cancelled.status_code == 303
    practice.send_due_mail()

    for address in ("erika@example.test", "mira@example.test"):
        subjects = subjects_to(mailbox, address)
        assert sum(s.startswith("Geänderter Termin") for s in subjects) == 1
        assert sum(s.startswith("Ihre Videosprechstunde") for s in subjects) == 2
        assert sum("hat die Videosprechstunde" in s for s in subjects) == 1
    jonas = subjects_to(mailbox, "jonas@example.test")
    assert len(jonas) == 2, jonas  # his invitation and his own confirmation
    assert jonas[1].startswith("Abgesagt")


def test_each_patient_is_reminded_and_one_who_cancelled_is_not(
    practice: InProcessPractice, mailbox: Mailbox
) -> None:
    practice.runtime.consultations.change_practice_settings(
        practice.practitioner_id,
        PracticeSettings(name="Praxis am Markt", reminder_lead_hours=24),
        practice.clock(),
    )
    schedule_group(practice)
    practice.send_due_mail()
    cancel_as(practice, mailbox, "mira@example.test")

    practice.clock.now = datetime.fromisoformat("2026-12-08T10:01:00+00:00")
    practice.send_due_mail()
    practice.send_due_mail()
    reminded = sorted(
        str(m["To"]) for m in mailbox.messages if "Erinnerung" in m["Subject"]
    )
    assert reminded == [
        "Erika Mustermann <erika@example.test>",
        "Jonas Beispiel <jonas@example.test>",
    ]


def test_three_months_later_no_patient_of_the_group_can_be_read(
    practice: InProcessPractice, mailbox: Mailbox, tmp_path: Path
) -> None:
    appointment_id = schedule_group(practice, day="2026-12-08")
    practice.send_due_mail()
    cancel_as(practice, mailbox, "jonas@example.test")
    practice.send_due_mail()

    practice.clock.now = datetime.fromisoformat("2027-03-09T00:00:00+01:00")
    assert practice.runtime.shred_due_personal_data() == 1

    page = practice.client.get(f"/termine/{appointment_id}")
    assert page.status_code == 200
    for address, name in PATIENTS.items():
        assert name not in page.text and address not in page.text
    for path in sorted(p for p in (tmp_path / "data").rglob("*") if p.is_file()):
        content = path.read_bytes()
        for address, name in PATIENTS.items():
            assert name.encode() not in content, f"{name} found in {path}"
            assert address.encode() not in content, f"{address} found in {path}"
