"""A group appointment with three patients, against the real server and a real
SMTP server: each patient gets their own invitation and links, and one
patient's cancellation removes only that patient."""

import re
from email.message import EmailMessage

import httpx

from tests.support.mailbox import Mailbox
from tests.support.practice import (
    PracticeClient,
    cancel_link_in,
    csrf_of,
    join_link_in,
    soon,
    text_of,
)
from tests.support.server import RunningServer

PATIENTS = {
    "erika@example.test": "Erika Mustermann",
    "jonas@example.test": "Jonas Beispiel",
    "mira@example.test": "Mira Muster",
}


def schedule_group(practice: PracticeClient) -> httpx.Response:
    return practice.schedule(
        patient_name="Erika Mustermann",
        patient_email="erika@example.test",
        starts=soon(minutes=10),
        duration=90,
        patient_name_2="Jonas Beispiel",
        patient_email_2="jonas@example.test",
        patient_name_3="Mira Muster",
        patient_email_3="mira@example.test",
    )


def test_three_patients_get_three_invitations_and_one_cancels_only_for_herself(
    server: RunningServer, mailbox: Mailbox
) -> None:
    practice = PracticeClient(server)
    practice.set_up()
    response = schedule_group(practice)
    assert response.status_code == 303, response.text
    notice = practice.http.get(response.headers["location"])
    assert "Die 3 Einladungen werden jetzt versendet." in notice.text

    invitations = {address: invitation_to(mailbox, address) for address in PATIENTS}
    join_links = {a: join_link_in(m) for a, m in invitations.items()}
    cancel_links = {a: cancel_link_in(m) for a, m in invitations.items()}
    assert len(set(join_links.values())) == 3
    assert len(set(cancel_links.values())) == 3
    for address, mail in invitations.items():
        assert "Gruppensprechstunde" in text_of(mail)
        assert f"Guten Tag {PATIENTS[address]}," in text_of(mail)

    patient = httpx.Client(timeout=10)
    for address, link in join_links.items():
        page = patient.get(link)
        assert page.status_code == 200
        assert f"Ich bin <strong>{PATIENTS[address]}</strong>" in page.text

    # Jonas cancels, with his own link.
    jonas_cancel = cancel_links["jonas@example.test"]
    form = patient.get(jonas_cancel)
    assert "meine Teilnahme an diesem Gruppentermin" in form.text
    done = patient.post(
        jonas_cancel, data={"csrf_token": csrf_of(form), "confirmed": "on"}
    )
    assert done.status_code == 303
    assert "Ihr Termin ist abgesagt" in patient.get(jonas_cancel).text

    confirmation = mailbox.wait_for(
        lambda m: (
            "jonas@example.test" in str(m["To"])
            and str(m["Subject"]).startswith("Abgesagt")
        )
    )
    assert "Ihre Praxis ist informiert" in text_of(confirmation)
    to_practice = mailbox.wait_for(
        lambda m: "Absage durch Patient/in" in str(m["Subject"])
    )
    assert "Jonas Beispiel hat die Videosprechstunde" in text_of(to_practice)
    assert "die übrigen Teilnehmenden bleiben eingeladen" in text_of(to_practice)

    assert patient.get(join_links["jonas@example.test"]).status_code == 410
    assert patient.get(join_links["erika@example.test"]).status_code == 200
    assert patient.get(join_links["mira@example.test"]).status_code == 200
    for address in ("erika@example.test", "mira@example.test"):
        assert not [
            m for m in mailbox.to(address) if str(m["Subject"]).startswith("Abgesagt")
        ]

    appointment_path = re.search(r"/termine/[0-9a-f-]{36}", text_of(to_practice))
    assert appointment_path, "no link to the appointment in the practice's mail"
    page = practice.http.get(appointment_path.group(0))
    assert page.status_code == 200
    assert "Jonas Beispiel" in page.text and "abgesagt" in page.text
    assert "Dieser Termin ist abgesagt." not in page.text


def invitation_to(mailbox: Mailbox, address: str) -> EmailMessage:
    return mailbox.wait_for(
        lambda m: (
            address in str(m["To"]) and "Ihre Videosprechstunde" in str(m["Subject"])
        )
    )


def test_a_group_needs_an_address_for_each_patient(
    server: RunningServer, mailbox: Mailbox
) -> None:
    practice = PracticeClient(server)
    practice.set_up()
    response = practice.schedule(
        patient_name="Erika Mustermann",
        patient_email="erika@example.test",
        patient_name_2="Erikas Begleitung",
        patient_email_2="ERIKA@example.test",
    )
    assert response.status_code == 422
    assert "schon eingeladen" in response.text
    assert 'value="Erikas Begleitung"' in response.text


def test_a_row_with_a_name_but_no_address_is_refused(
    server: RunningServer, mailbox: Mailbox
) -> None:
    practice = PracticeClient(server)
    practice.set_up()
    response = practice.schedule(patient_name_2="Jonas Beispiel")
    assert response.status_code == 422
