"""Production mode through a PostgreSQL restart: two web processes and a
worker on one database keep working afterwards without being restarted
themselves."""

import base64
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cli import sprechzimmer
from tests.support.mailbox import Mailbox, free_port
from tests.support.own_postgres import OwnPostgres
from tests.support.practice import PracticeClient, soon
from tests.support.production import (
    REDIS_URL,
    drop_job_queue,
    fresh_job_queue,
    require_redis,
)
from tests.support.server import RunningServer
from tests.support.worker import RunningWorker


def random_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def shared_configuration(database_url: str, queue: str) -> dict[str, str]:
    """What every process of one installation shares, as an operator sets it."""
    return {
        "SPRECHZIMMER_DATABASE_URL": database_url,
        "SPRECHZIMMER_REDIS_URL": REDIS_URL,
        "SPRECHZIMMER_JOB_QUEUE": queue,
        "SPRECHZIMMER_SECRET_KEY": base64.urlsafe_b64encode(os.urandom(48)).decode(),
        "SPRECHZIMMER_MASTER_KEY": random_key(),
        "SPRECHZIMMER_AUDIT_SIGNING_KEY": random_key(),
    }


def eventually(check: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "did not happen in time"
        time.sleep(0.1)


@pytest.fixture
def database() -> Iterator[OwnPostgres]:
    server = OwnPostgres().create()
    yield server
    server.remove()


@pytest.fixture
def job_queue() -> Iterator[str]:
    require_redis()
    queue = fresh_job_queue()
    yield queue
    drop_job_queue(queue)


def test_web_processes_and_a_worker_carry_on_after_the_database_restarts(
    tmp_path: Path, mailbox: Mailbox, database: OwnPostgres, job_queue: str
) -> None:
    shared = shared_configuration(database.url, job_queue)
    first = RunningServer(tmp_path / "first", smtp_url=mailbox.url, **shared).start()
    second = RunningServer(tmp_path / "second", smtp_url=mailbox.url, **shared)
    second.start()
    # The worker sends all mail: what arrives after the restart, it sent.
    worker = RunningWorker(first.environment).start()
    try:
        front_desk = PracticeClient(first)
        front_desk.set_up()
        assert front_desk.schedule(starts=soon(30)).status_code == 303
        mailbox.wait_for(lambda m: "erika@example.test" in str(m["To"]))

        database.restart()

        # The other process, never restarted, serves a practitioner at once.
        colleague = PracticeClient(second)
        assert colleague.log_in("weber@praxis.test").status_code == 303
        response = colleague.schedule(
            patient_name="Bernd Später",
            patient_email="bernd@example.test",
            starts=soon(60),
        )
        assert response.status_code == 303, response.text
        mailbox.wait_for(lambda m: "bernd@example.test" in str(m["To"]))

        # The first process follows the log live again: it shows the new
        # appointment without anyone asking it to catch up.
        day = soon(60).date().isoformat()
        eventually(
            lambda: (
                "Bernd Später" in front_desk.http.get("/", params={"datum": day}).text
            )
        )
        for server in (first, second):
            ready = httpx.get(server.base_url + "/readyz", timeout=5)
            assert ready.status_code == 200, ready.text
        assert "Lost the live feed" in first.log + second.log
        for log in (first.log, second.log, worker.log):
            tracebacks = [x for x in log.split("\n\n") if "Traceback" in x]
            assert not tracebacks, "\n".join(tracebacks)
        assert len(mailbox.to("bernd@example.test")) == 1
        assert len(mailbox.to("erika@example.test")) == 1
    finally:
        worker.stop()
        first.stop()
        second.stop()
        print(f"---- worker ----\n{worker.log}")


@pytest.mark.parametrize(
    ("database_url", "cause"),
    [
        ("postgresql://postgres@127.0.0.1:{free}/sprechzimmer", "Connection refused"),
        ("postgresql://postgres@127.0.0.1:{own}/no_such_database", "does not exist"),
    ],
)
def test_a_database_that_cannot_be_reached_at_start_is_named_with_its_cause(
    tmp_path: Path, database: OwnPostgres, database_url: str, cause: str
) -> None:
    url = database_url.format(free=free_port(), own=database.port)
    for command in (["serve", "--port", str(free_port())], ["worker"]):
        result = sprechzimmer(
            tmp_path,
            *command,
            env={
                "SPRECHZIMMER_DATABASE_URL": url,
                "SPRECHZIMMER_REDIS_URL": REDIS_URL,
            },
        )
        assert result.returncode == 2, result.stderr
        assert "SPRECHZIMMER_DATABASE_URL" in result.stderr
        assert cause in result.stderr
        assert "Traceback" not in result.stderr


def test_a_process_with_keys_of_its_own_is_refused(
    tmp_path: Path, database: OwnPostgres
) -> None:
    shared = shared_configuration(database.url, "unused")
    first = RunningServer(tmp_path / "first", **shared).start()
    try:
        for setting in ("SECRET_KEY", "AUDIT_SIGNING_KEY"):
            other = {**shared, f"SPRECHZIMMER_{setting}": random_key()}
            for command in (["serve", "--port", str(free_port())], ["worker"]):
                result = sprechzimmer(tmp_path / "second", *command, env=other)
                assert result.returncode == 2, result.stdout + result.stderr
                assert f"SPRECHZIMMER_{setting} differs" in result.stderr
                assert "Traceback" not in result.stderr
    finally:
        first.stop()


def test_a_web_process_with_workers_is_ready_without_the_mail_server(
    tmp_path: Path, database: OwnPostgres, job_queue: str
) -> None:
    shared = shared_configuration(database.url, job_queue)
    nobody_listens = f"smtp://127.0.0.1:{free_port()}"
    server = RunningServer(tmp_path / "web", smtp_url=nobody_listens, **shared)
    server.start()
    try:
        ready = httpx.get(server.base_url + "/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        report = ready.json()
        assert report["mail"].startswith("unavailable")
        assert report["job_queue"] == "ok"
        assert report["event_store"] == "ok"
    finally:
        server.stop()
