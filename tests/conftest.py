from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.mailbox import Mailbox
from tests.support.production import (
    REDIS_URL,
    drop_job_queue,
    fresh_database,
    fresh_job_queue,
    production_mode,
)
from tests.support.server import RunningServer


@pytest.fixture(autouse=True)
def production_database(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """In production mode every test gets a fresh PostgreSQL database and a
    job queue of its own on Redis; the servers and runtimes it starts find
    them in the environment, and each server gets a worker beside it."""
    if not production_mode() or request.node.get_closest_marker("embedded_only"):
        yield
        return
    queue = fresh_job_queue()
    with fresh_database() as url:
        monkeypatch.setenv("SPRECHZIMMER_DATABASE_URL", url)
        monkeypatch.setenv("SPRECHZIMMER_REDIS_URL", REDIS_URL)
        monkeypatch.setenv("SPRECHZIMMER_JOB_QUEUE", queue)
        yield
    drop_job_queue(queue)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    box.start()
    yield box
    box.stop()


@pytest.fixture
def server(tmp_path: Path, mailbox: Mailbox) -> Iterator[RunningServer]:
    running = RunningServer(tmp_path / "data", smtp_url=mailbox.url).start()
    yield running
    running.stop()
    print("---- server output ----\n" + running.log)
