"""A real SMTP server (aiosmtpd) that keeps what it receives."""

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

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(
            envelope.content, policy=email.policy.default
        )
        assert isinstance(message, EmailMessage)
        with self.mailbox.lock:
            self.mailbox.messages.append(message)
            self.mailbox.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.lock = threading.Lock()
        self.port = free_port()
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
