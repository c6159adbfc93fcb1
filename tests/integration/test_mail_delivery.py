"""No mail is lost and none is sent twice, whatever the mail server or the
sending process does. Real server processes, a real SMTP server."""

import threading
import time
from pathlib import Path

import httpx

from tests.support.mailbox import Mailbox, free_port
from tests.support.practice import PracticeClient, cancel_link_in, csrf_of, soon
from tests.support.server import RunningServer


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_a_mail_server_that_refuses_for_a_while_gets_every_mail_once(
    tmp_path: Path,
) -> None:
    port = free_port()
    server = RunningServer(
        tmp_path / "data", smtp_url=f"smtp://127.0.0.1:{port}"
    ).start()
    mailbox = Mailbox(port=port)
    try:
        practice = PracticeClient(server)
        practice.set_up()
        for number in range(3):
            practice.schedule(
                patient_name=f"Patient Nummer {number}",
                patient_email=f"p{number}@example.test",
            )
        time.sleep(2)  # the server is down: every attempt so far failed
        page = practice.http.get("/")
        assert "Mailserver nicht erreichbar" in page.text
        not_ready = httpx.get(server.base_url + "/readyz")
        # A web process that sends mail itself is not ready without the mail
        # server; one with workers beside it (production mode) still is.
        assert not_ready.status_code == (200 if server.worker else 503)
        assert not_ready.json()["mail"].startswith("unavailable")
        assert not_ready.json()["event_store"] == "ok"

        mailbox.start()
        ready = httpx.get(server.base_url + "/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        wait_until(lambda: len(mailbox.messages) >= 3, 30, "three invitations")
        time.sleep(6)  # one more retry round would have sent duplicates by now
        assert sorted(str(m["To"]) for m in mailbox.messages) == [
            f"Patient Nummer {n} <p{n}@example.test>" for n in range(3)
        ]
        assert len(set(mailbox.message_ids())) == 3
    finally:
        server.stop()
        mailbox.stop()


def test_a_sender_killed_mid_dispatch_delivers_every_mail_after_restart(
    tmp_path: Path,
) -> None:
    """A mail that was handed over in the very instant of the kill may be
    handed over once more: with the same Message-ID, so mail programs show it
    once. Every other mail arrives exactly once."""
    slow = Mailbox(delay_seconds=0.25)
    slow.start()
    data_dir = tmp_path / "data"
    first = RunningServer(data_dir, smtp_url=slow.url).start()
    try:
        practice = PracticeClient(first)
        practice.set_up()
        for number in range(12):
            practice.schedule(
                patient_name=f"Patient Nummer {number}",
                patient_email=f"p{number}@example.test",
            )
        wait_until(lambda: len(slow.messages) >= 3, 30, "the first mails")
        first.kill_hard()
        handed_over_before_kill = len(slow.messages)
        assert handed_over_before_kill < 12, "the kill came too late to test much"
    finally:
        first.stop()

    second = RunningServer(data_dir, smtp_url=slow.url).start()
    try:
        wait_until(lambda: len(set(slow.message_ids())) >= 12, 60, "all mails")
        time.sleep(1)
    finally:
        second.stop()
        slow.stop()

    ids = slow.message_ids()
    assert len(set(ids)) == 12
    recipients = {str(m["To"]) for m in slow.messages}
    assert len(recipients) == 12
    duplicates = len(ids) - len(set(ids))
    assert duplicates <= 1, f"{duplicates} mails were handed over twice"


def test_two_cancellations_at_the_same_moment_cancel_once(
    server: RunningServer, mailbox: Mailbox
) -> None:
    practice = PracticeClient(server)
    practice.set_up()
    practice.schedule(starts=soon(minutes=60))
    invitation = mailbox.wait_for(lambda m: "Ihre Videosprechstunde" in m["Subject"])
    cancel_link = cancel_link_in(invitation)

    answers: list[httpx.Response] = []
    ready = threading.Barrier(2)

    def cancel() -> None:
        patient = httpx.Client(timeout=20)
        token = csrf_of(patient.get(cancel_link))
        ready.wait()
        answers.append(
            patient.post(cancel_link, data={"csrf_token": token, "confirmed": "on"})
        )

    threads = [threading.Thread(target=cancel) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [answer.status_code for answer in answers] == [303, 303]
    assert "Ihr Termin ist abgesagt" in httpx.get(cancel_link).text
    mailbox.wait_for(lambda m: m["Subject"].startswith("Abgesagt"))
    mailbox.wait_for(lambda m: "Absage durch Patient/in" in m["Subject"])
    time.sleep(1.5)
    subjects = [str(m["Subject"]) for m in mailbox.messages]
    assert sum(s.startswith("Abgesagt") for s in subjects) == 1
    assert sum("Absage durch Patient/in" in s for s in subjects) == 1
