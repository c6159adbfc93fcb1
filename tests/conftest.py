from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.mailbox import Mailbox
from tests.support.server import RunningServer


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
