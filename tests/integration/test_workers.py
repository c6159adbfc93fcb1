"""With SPRECHZIMMER_REDIS_URL, arq workers send the mail and the web process
only queues it. Real `sprechzimmer serve` and `sprechzimmer worker` processes
on one data folder, a real SMTP server, real Redis."""

import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.cli import sprechzimmer
from tests.support.mailbox import Mailbox, free_port
from tests.support.own_redis import OwnRedis
from tests.support.practice import (
    PracticeClient,
    csrf_of,
    give_consent,
    join_link_in,
    soon,
)
from tests.support.production import (
    REDIS_URL,
    drop_job_queue,
    fresh_job_queue,
    require_redis,
)
from tests.support.server import RunningServer
from tests.support.sockets import next_message, open_socket, send
from tests.support.worker import RunningWorker

APPOINTMENT_LINK = re.compile(r'href="/termine/([0-9a-f-]{36})"')
DELIVERED = re.compile(r"Mail \S+ \(\w+\) delivered")


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def job_queue() -> Iterator[str]:
    require_redis()
    queue = fresh_job_queue()
    yield queue
    drop_job_queue(queue)


def server_with_jobs(
    data_dir: Path, mailbox: Mailbox, redis_url: str, queue: str, **env: str
) -> RunningServer:
    return RunningServer(
        data_dir,
        smtp_url=mailbox.url,
        SPRECHZIMMER_REDIS_URL=redis_url,
        SPRECHZIMMER_JOB_QUEUE=queue,
        **env,
    )


def show_logs(**processes: RunningServer | RunningWorker) -> None:
    for name, process in processes.items():
        print(f"---- {name} output ----\n{process.log}")


def invitations_to(mailbox: Mailbox, address: str) -> int:
    return len(mailbox.to(address))


def test_the_worker_delivers_the_invitation_that_the_web_process_queued(
    tmp_path: Path, mailbox: Mailbox, job_queue: str
) -> None:
    server = server_with_jobs(tmp_path / "data", mailbox, REDIS_URL, job_queue)
    server.start()
    worker = RunningWorker.beside(server)
    try:
        practice = PracticeClient(server)
        practice.set_up()
        assert practice.schedule().status_code == 303
        time.sleep(2)
        assert mailbox.messages == [], "the web process sent mail itself"

        worker.start()
        invitation = mailbox.wait_for(lambda m: "erika@example.test" in str(m["To"]))
        assert "Ihre Videosprechstunde" in str(invitation["Subject"])
        wait_until(lambda: DELIVERED.search(worker.log), 10, "the worker's record")
        assert not DELIVERED.search(server.log)

        ready = httpx.get(server.base_url + "/readyz").json()
        assert ready["job_queue"] == "ok"
    finally:
        worker.stop()
        server.stop()
        show_logs(server=server, worker=worker)
    assert "Traceback" not in worker.log, worker.log


def test_with_redis_stopped_pages_and_calls_work_and_queued_mail_goes_out_later(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    redis = OwnRedis(tmp_path / "redis").start()
    queue = fresh_job_queue()
    server = server_with_jobs(tmp_path / "data", mailbox, redis.url, queue).start()
    worker = RunningWorker.beside(server).start()
    try:
        practice = PracticeClient(server)
        practice.set_up()
        starts = soon()
        assert practice.schedule(starts=starts).status_code == 303
        first = mailbox.wait_for(lambda m: "erika@example.test" in str(m["To"]))
        join_link = join_link_in(first)
        calendar = practice.http.get("/", params={"datum": starts.date().isoformat()})
        appointment_id = APPOINTMENT_LINK.findall(calendar.text)[0]

        redis.stop()
        for number in range(2):
            answer = practice.schedule(
                patient_name=f"Patient Nummer {number}",
                patient_email=f"p{number}@example.test",
                starts=soon(minutes=30 + number * 20),
            )
            assert answer.status_code == 303, answer.text
        assert practice.http.get("/").status_code == 200
        assert practice.http.get(f"/termine/{appointment_id}").status_code == 200
        assert httpx.get(join_link).status_code == 200
        give_consent(join_link)
        a_call_is_set_up(server, practice, appointment_id, join_link)
        # Still ready to serve pages and calls; the missing queue is named.
        ready = httpx.get(server.base_url + "/readyz")
        assert ready.status_code == 200
        assert ready.json()["job_queue"].startswith("unavailable")
        assert ready.json()["event_store"] == "ok"
        time.sleep(3)  # Long enough for jobs to have gone out, if any could.
        assert invitations_to(mailbox, "p0@example.test") == 0
        assert "Job queue unreachable" in server.log

        redis.start()
        wait_until(
            lambda: all(
                invitations_to(mailbox, f"p{n}@example.test") for n in range(2)
            ),
            45,
            "the invitations queued while Redis was away",
        )
        time.sleep(6)  # A second sweep would have sent duplicates by now.
    finally:
        worker.stop()
        server.stop()
        show_logs(server=server, worker=worker)
        redis.stop()

    ids = mailbox.message_ids()
    assert len(ids) == 3 and len(set(ids)) == 3, ids
    assert "Lost the job queue" in worker.log or "no Redis answers" in worker.log
    assert "Traceback" not in worker.log, worker.log


def a_call_is_set_up(
    server: RunningServer, practice: PracticeClient, appointment_id: str, join: str
) -> None:
    """The signaling of a call: both sides connect, the practitioner admits
    the patient, and the practitioner's offer reaches the patient."""
    token = urlsplit(join).path.rsplit("/", 1)[-1]
    with (
        open_socket(server, f"/ws/j/{token}") as patient,
        open_socket(
            server, f"/ws/termine/{appointment_id}", logged_in=practice.http
        ) as practitioner,
    ):
        assert next_of_type(patient, "waiting")
        admitted = practice.http.post(
            f"/termine/{appointment_id}/einlassen",
            headers={"X-CSRF-Token": csrf_of(practice.http.get("/"))},
        )
        assert admitted.json() == {"ok": True}, admitted.text
        assert next_of_type(practitioner, "start-call")
        send(practitioner, {"type": "offer", "sdp": "v=0\r\n"})
        assert next_of_type(patient, "offer")["sdp"] == "v=0\r\n"


def next_of_type(socket, kind: str) -> dict:
    for _ in range(10):
        message = next_message(socket)
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind!r} message")


def test_a_worker_killed_while_handing_over_a_mail_gets_it_delivered_once(
    tmp_path: Path, mailbox: Mailbox, job_queue: str
) -> None:
    """The mail server holds the worker at the recipient, before the message:
    the worker is provably inside the delivery job when it is killed. The job
    stays marked as running for the job timeout plus ten seconds; then the
    next worker runs it again."""
    mailbox.hold()
    server = server_with_jobs(
        tmp_path / "data",
        mailbox,
        REDIS_URL,
        job_queue,
        SPRECHZIMMER_JOB_TIMEOUT_SECONDS="3",
    ).start()
    first = RunningWorker.beside(server).start()
    second = RunningWorker.beside(server)
    try:
        practice = PracticeClient(server)
        practice.set_up()
        assert practice.schedule().status_code == 303
        assert mailbox.holding.wait(30), "the worker never reached the mail server"
        first.kill_hard()
        mailbox.release()

        second.start()
        mailbox.wait_for(lambda m: "erika@example.test" in str(m["To"]), timeout=45)
        time.sleep(6)  # Room for a second copy, if one were coming.
    finally:
        second.stop()
        server.stop()
        show_logs(server=server, killed_worker=first, second_worker=second)

    assert len(mailbox.message_ids()) == 1, mailbox.message_ids()
    assert re.search(r"deliver_mail\(\S+\) try=2", second.log), second.log
    assert "Traceback" not in second.log, second.log


def test_a_worker_without_redis_says_so_and_exits(tmp_path: Path) -> None:
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    cases = {
        unreachable: f"no Redis answers at 127.0.0.1:{urlsplit(unreachable).port}/0",
        "": "SPRECHZIMMER_REDIS_URL is not set",
        "http://127.0.0.1:6379": "SPRECHZIMMER_REDIS_URL must look like",
    }
    for url, message in cases.items():
        result = sprechzimmer(
            tmp_path / "data", "worker", env={"SPRECHZIMMER_REDIS_URL": url}
        )
        assert result.returncode == 2, result.stderr
        assert message in result.stderr
        assert result.stderr.startswith("Konfigurationsfehler: SPRECHZIMMER_REDIS_URL")
        assert "Traceback" not in result.stderr + result.stdout
