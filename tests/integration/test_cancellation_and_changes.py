"""Cancelling, moving and re-sending appointments, and reminders: a practice's
week run in this process with a clock the test moves, mail to a real SMTP
server."""

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from domain.local_time import in_practice_time
from domain.practice import PracticeSettings
from tests.support.ical import calendar_entry_of
from tests.support.in_process import InProcessPractice, in_process_practice
from tests.support.mailbox import Mailbox
from tests.support.practice import cancel_link_in, join_link_in, text_of

TUESDAY_10 = datetime(2026, 12, 8, 10, 0)
WEDNESDAY_11 = datetime(2026, 12, 9, 11, 0)


@pytest.fixture
def practice(tmp_path: Path, mailbox: Mailbox) -> Iterator[InProcessPractice]:
    with in_process_practice(tmp_path / "data", mailbox.url) as running:
        yield running


def schedule(
    practice: InProcessPractice,
    local_start: datetime,
    name: str = "Erika Mustermann",
    email: str = "erika@example.test",
) -> UUID:
    response = practice.post_form(
        "/termine",
        {
            "patient_name": name,
            "patient_email": email,
            "day": local_start.date().isoformat(),
            "clock": f"{local_start:%H:%M}",
            "duration": "15",
            "note": "",
        },
    )
    assert response.status_code == 303, response.text
    calendar = practice.runtime.calendar
    calendar_start = practice.clock() - timedelta(days=1)
    entries = calendar.between(
        practice.practitioner_id, calendar_start, calendar_start + timedelta(days=400)
    )
    return next(e.appointment_id for e in entries if e.patient_name == name)


def configure(practice: InProcessPractice, **settings: object) -> None:
    practice.runtime.consultations.change_practice_settings(
        practice.practitioner_id,
        PracticeSettings(name="Praxis am Markt", **settings),  # type: ignore[arg-type]
        practice.clock(),
    )


def deliver(practice: InProcessPractice) -> None:
    practice.send_due_mail()


def test_a_patient_cancels_and_both_sides_hear_of_it(
    practice: InProcessPractice, mailbox: Mailbox
) -> None:
    configure(
        practice,
        notification_email="empfang@praxis.test",
        cancellation_deadline_hours=24,
        fee_note="Bei späterer Absage berechnen wir eine Ausfallgebühr von 30 Euro.",
    )
    appointment_id = schedule(practice, TUESDAY_10)
    deliver(practice)
    invitation = mailbox.wait_for(lambda m: "Ihre Videosprechstunde" in m["Subject"])
    cancel_link = cancel_link_in(invitation)
    join_link = join_link_in(invitation)
    assert "Ausfallgebühr von 30 Euro" in text_of(invitation)

    practice.clock.advance(timedelta(hours=20))  # Monday 21:00: 13 hours left
    page = practice.client.get(cancel_link)
    assert page.status_code == 200
    assert "Dienstag, 08.12.2026" in page.text
    assert "24 Stunden" in page.text and "bereits abgelaufen" in page.text
    assert "30 Euro" in page.text

    cancelled = practice.post_form(cancel_link, {"confirmed": "on"}, page=cancel_link)
    assert cancelled.status_code == 303
    after = practice.client.get(cancel_link)
    assert "Ihr Termin ist abgesagt" in after.text

    deliver(practice)
    confirmation = mailbox.wait_for(lambda m: m["Subject"].startswith("Abgesagt"))
    notice = mailbox.wait_for(lambda m: "Absage durch Patient/in" in m["Subject"])
    assert "erika@example.test" in str(confirmation["To"])
    assert "30 Euro" in text_of(confirmation)
    assert "empfang@praxis.test" in str(notice["To"])
    assert "Erika Mustermann hat die Videosprechstunde" in text_of(notice)
    assert "nach Ihrer" in text_of(notice)
    assert f"/termine/{appointment_id}" in text_of(notice)

    entry = calendar_entry_of(confirmation)
    assert (entry.method, entry.sequence, entry.status) == ("CANCEL", 1, "CANCELLED")
    assert entry.uid == calendar_entry_of(invitation).uid

    practice.clock.advance(timedelta(hours=12, minutes=50))  # inside the window
    dead = practice.client.get(join_link)
    assert dead.status_code == 410
    assert "abgesagt" in dead.text

    again = practice.post_form(cancel_link, {"confirmed": "on"}, page=cancel_link)
    assert again.status_code == 303
    deliver(practice)
    assert len(mailbox.messages) == 3

    calendar_page = practice.client.get("/", params={"datum": "2026-12-08"})
    assert "abgesagt von Patient/in" in calendar_page.text
    assert "nach Frist" in calendar_page.text


def test_cancelling_is_refused_once_the_appointment_has_begun(
    practice: InProcessPractice, mailbox: Mailbox
) -> None:
    schedule(practice, TUESDAY_10)
    deliver(practice)
    cancel_link = cancel_link_in(mailbox.wait_for(lambda m: True))
    practice.clock.now = datetime.fromisoformat("2026-12-08T09:00:30+00:00")

    page = practice.client.get(cancel_link)
    assert page.status_code == 409
    assert "kann nicht mehr online abgesagt werden" in page.text


def test_the_practice_cancels_with_a_message_for_the_patient(
    practice: InProcessPractice, mailbox: Mailbox
) -> None:
    appointment_id = schedule(practice, TUESDAY_10)
    unconfirmed = practice.post_form(
        f"/termine/{appointment_id}/absagen", {"message": "Versehentlich geklickt"}
    )
    assert unconfirmed.status_code == 422
    assert "Bitte bestätigen Sie die Absage." in unconfirmed.text
    response = practice.post_form(
        f"/termine/{appointment_id}/absagen",
        {"message": "Frau Dr. Weber ist leider erkrankt.", "confirmed": "on"},
    )
    assert response.status_code == 303
    deliver(practice)

    cancellation = mailbox.wait_for(
        lambda m: "hat die Videosprechstunde" in m["Subject"]
    )
    assert "Frau Dr. Weber ist leider erkrankt." in text_of(cancellation)
    assert calendar_entry_of(cancellation).method == "CANCEL"
    kinds = [m["Subject"] for m in mailbox.messages]
    assert not any("Ihre Videosprechstunde am" in subject for subject in kinds), (
        "the invitation decided before the cancellation must not go out any more"
    )
    page = practice.client.get(f"/termine/{appointment_id}")
    assert "Abgesagt" in page.text and "der Praxis" in page.text
    assert "Einladung: entfällt" in page.text


def test_a_moved_appointment_keeps_its_calendar_entry_and_only_the_new_time_admits(
    practice: InProcessPractice, mailbox: Mailbox
) -> None:
    appointment_id = schedule(practice, TUESDAY_10)
    deliver(practice)
    invitation = mailbox.wait_for(lambda m: "Ihre Videosprechstunde" in m["Subject"])

    moved = practice.post_form(
        f"/termine/{appointment_id}/verschieben",
        {"day": "2026-12-09", "clock": "11:00", "duration": "30"},
    )
    assert moved.status_code == 303
    deliver(practice)
    update = mailbox.wait_for(lambda m: m["Subject"].startswith("Geänderter Termin"))
    assert "Mittwoch, 09.12.2026" in text_of(update)
    first, second = calendar_entry_of(invitation), calendar_entry_of(update)
    assert second.uid == first.uid
    assert (second.method, second.sequence) == ("REQUEST", 1)
    assert in_practice_time(second.starts).replace(tzinfo=None) == WEDNESDAY_11
    assert second.ends - second.starts == timedelta(minutes=30)

    join_link = join_link_in(update)
    assert join_link == join_link_in(invitation)
    practice.clock.now = datetime.fromisoformat("2026-12-08T08:50:00+00:00")
    old_time = practice.client.get(join_link)
    assert old_time.status_code == 200 and "beginnt bald" in old_time.text
    assert "10:45 Uhr" in old_time.text  # opens Wednesday 10:45

    practice.clock.now = datetime.fromisoformat("2026-12-09T09:50:00+00:00")
    new_time = practice.client.get(join_link)
    assert new_time.status_code == 200 and "Willkommen" in new_time.text

    practice.post_form(
        f"/termine/{appointment_id}/absagen", {"message": "", "confirmed": "on"}
    )
    deliver(practice)
    cancel = mailbox.wait_for(lambda m: "abgesagt" in m["Subject"])
    assert (calendar_entry_of(cancel).method, calendar_entry_of(cancel).sequence) == (
        "CANCEL",
        2,
    )


def test_an_invitation_can_be_sent_again_with_the_same_links(
    practice: InProcessPractice, mailbox: Mailbox
) -> None:
    appointment_id = schedule(practice, TUESDAY_10)
    deliver(practice)
    response = practice.post_form(f"/termine/{appointment_id}/einladung", {})
    assert response.status_code == 303
    deliver(practice)
    invitations = mailbox.to("erika@example.test")
    assert len(invitations) == 2
    assert invitations[0]["Message-ID"] != invitations[1]["Message-ID"]
    assert join_link_in(invitations[0]) == join_link_in(invitations[1])


def test_one_reminder_at_the_chosen_lead_time_and_never_for_cancelled_ones(
    practice: InProcessPractice, mailbox: Mailbox
) -> None:
    configure(practice, reminder_lead_hours=24)
    schedule(practice, datetime(2026, 12, 9, 10, 0), "Anna Früh", "anna@ex.test")
    schedule(practice, datetime(2026, 12, 7, 16, 0), "Bernd Kurzfristig", "b@ex.test")
    cancelled = schedule(
        practice, datetime(2026, 12, 9, 11, 0), "Clara Ab", "c@ex.test"
    )
    moved = schedule(practice, datetime(2026, 12, 9, 12, 0), "Dora Später", "d@ex.test")
    practice.post_form(
        f"/termine/{cancelled}/absagen", {"message": "", "confirmed": "on"}
    )
    practice.post_form(
        f"/termine/{moved}/verschieben",
        {"day": "2026-12-10", "clock": "12:00", "duration": "15"},
    )
    deliver(practice)
    before = len(mailbox.messages)

    def reminders() -> list[str]:
        return [str(m["To"]) for m in mailbox.messages if "Erinnerung" in m["Subject"]]

    practice.clock.now = datetime.fromisoformat("2026-12-08T09:01:00+00:00")
    deliver(practice)
    deliver(practice)
    assert reminders() == ["Anna Früh <anna@ex.test>"]

    practice.clock.now = datetime.fromisoformat("2026-12-08T11:01:00+00:00")
    deliver(practice)
    assert len(reminders()) == 1, "the moved appointment's old time reminds nobody"

    practice.clock.now = datetime.fromisoformat("2026-12-09T11:01:00+00:00")
    deliver(practice)
    assert reminders()[-1] == "Dora Später <d@ex.test>"
    assert len(mailbox.messages) == before + 2


def test_a_refused_address_shows_on_the_appointment_and_is_not_retried(
    tmp_path: Path,
) -> None:
    strict = Mailbox(refused_words=("unbekannt",))
    strict.start()
    try:
        with in_process_practice(tmp_path / "data", strict.url) as practice:
            appointment_id = schedule(
                practice, TUESDAY_10, "Uwe Unbekannt", "unbekannt@example.test"
            )
            deliver(practice)
            practice.clock.advance(timedelta(hours=2))
            deliver(practice)
            page = practice.client.get(f"/termine/{appointment_id}")
            assert "Einladung: nicht zustellbar" in page.text
            assert "Empfängeradresse abgelehnt (550)" in page.text
            calendar = practice.client.get("/", params={"datum": "2026-12-08"})
            assert "nicht zustellbar" in calendar.text
            assert strict.messages == []
    finally:
        strict.stop()


def test_nobody_cancels_with_a_forged_or_borrowed_link(
    practice: InProcessPractice, mailbox: Mailbox
) -> None:
    schedule(practice, TUESDAY_10)
    deliver(practice)
    invitation = mailbox.wait_for(lambda m: True)
    join_token = join_link_in(invitation).rsplit("/", 1)[-1]

    assert practice.client.get("/c/" + "A" * 32).status_code == 404
    assert practice.client.get(f"/c/{join_token}").status_code == 404
    forged = practice.client.post("/c/" + "B" * 32, data={"confirmed": "on"})
    assert forged.status_code == 404
    assert "Link ist uns nicht bekannt" in forged.text


def test_a_practitioner_cannot_cancel_a_colleagues_appointment(
    practice: InProcessPractice,
) -> None:
    consultations = practice.runtime.consultations
    colleague = consultations.add_practitioner(
        name="Dr. Ben Kollege",
        email="kollege@praxis.test",
        password="ein-langes-passwort",
        at=practice.clock(),
    )
    from application.consultations import ScheduleRequest

    theirs = consultations.schedule_appointment(
        colleague,
        ScheduleRequest(
            "Zora Fremd",
            "zora@example.test",
            TUESDAY_10.date(),
            TUESDAY_10.time(),
            15,
            "",
        ),
        practice.clock(),
    )
    response = practice.post_form(
        f"/termine/{theirs}/absagen", {"message": "x", "confirmed": "on"}
    )
    assert response.status_code == 404
    assert consultations.appointment(theirs).cancelled_at is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("notification_email", "keine-adresse", "gültige E-Mail-Adresse"),
        ("cancellation_deadline_hours", "-5", "Absagefrist muss zwischen 0"),
        ("cancellation_deadline_hours", "viel", "ganze Zahl"),
        ("reminder_lead_hours", "-1", "Erinnerung muss zwischen 0"),
        ("name", "   ", "Namen der Praxis"),
    ],
)
def test_settings_that_make_no_sense_are_refused_with_a_reason(
    practice: InProcessPractice, field: str, value: str, message: str
) -> None:
    good = {
        "name": "Praxis am Markt",
        "address": "Marktplatz 1, 12345 Musterstadt",
        "notification_email": "empfang@praxis.test",
        "cancellation_deadline_hours": "24",
        "fee_note": "",
        "reminder_lead_hours": "24",
    }
    response = practice.post_form("/praxis/einstellungen", {**good, field: value})
    assert response.status_code == 422
    assert message in response.text
    assert practice.runtime.consultations.practice().notification_email == ""

    saved = practice.post_form("/praxis/einstellungen", good)
    assert saved.status_code == 303
    assert practice.runtime.consultations.practice().reminder_lead_hours == 24


def test_the_imprint_names_the_practice_from_its_settings(
    practice: InProcessPractice,
) -> None:
    configure(practice, address="Marktplatz 1\n12345 Musterstadt <b>")
    imprint = practice.client.get("/impressum")
    assert imprint.status_code == 200
    assert "Praxis am Markt" in imprint.text
    assert "Marktplatz 1\n12345 Musterstadt &lt;b&gt;" in imprint.text
    assert 'href="/impressum"' in practice.client.get("/datenschutz").text
