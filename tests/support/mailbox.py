"""A real SMTP server (aiosmtpd) that keeps what it receives."""

import asyncio
import email
import email.policy
import socket
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Keeper:
    def __init__(self, mailbox: "Mailbox") -> None:
        self.mailbox = mailbox

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if not self.mailbox.released.is_set():
            # The sender now waits for our answer, its message not yet sent.
            self.mailbox.holding.set()
            while not self.mailbox.released.is_set():
                await asyncio.sleep(0.05)
        if any(word in address for word in self.mailbox.refused_words):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.mailbox.delay_seconds:
            await asyncio.sleep(self.mailbox.delay_seconds)
        message = email.message_from_bytes(
            envelope.content, policy=email.policy.default
        )
        assert isinstance(message, EmailMessage)
        with self.mailbox.lock:
            self.mailbox.messages.append(message)
            self.mailbox.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class Mailbox:
    """Keeps every message the way a mail store does; `refused_words` makes it
    refuse recipients for good, `delay_seconds` makes it slow to accept, and
    `hold()` keeps each sender waiting for the answer to its recipient (before
    any message is handed over) until `release()`."""

    def __init__(
        self,
        port: int | None = None,
        refused_words: tuple[str, ...] = (),
        delay_seconds: float = 0,
    ) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.lock = threading.Lock()
        self.refused_words = refused_words
        self.delay_seconds = delay_seconds
        self.released = threading.Event()
        self.released.set()
        self.holding = threading.Event()
        self.port = port or free_port()
        self._controller = Controller(
            _Keeper(self), hostname="127.0.0.1", port=self.port
        )

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def hold(self) -> None:
        self.holding.clear()
        self.released.clear()

    def release(self) -> None:
        self.released.set()

    def message_ids(self) -> list[str]:
        with self.lock:
            return [str(message["Message-ID"]) for message in self.messages]

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address in str(m["To"])]

    def wait_for(
        self, matches: Callable[[EmailMessage], bool], timeout: float = 15
    ) -> EmailMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for message in self.messages:
                    if matches(message):
                        return message
            time.sleep(0.05)
        raise AssertionError("no matching mail arrived in time")
