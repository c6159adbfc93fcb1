"""Outbox dispatch to a local SMTP server, in mails per second, against a
plain smtplib loop sending the same messages in the same run.

The outbox does more per mail than the loop: it loads the mail and its
appointment from the event store, composes the message, and records the
delivery as an event before the next mail. The ratio shows what that costs.
"""

import smtplib
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from application.config import load_settings
from application.runtime import Runtime
from domain.local_time import in_practice_time
from tests.support.bulk import schedule_many, set_up_practice
from tests.support.mailbox import Mailbox

MAILS = 300
GOAL_RATIO = 0.5


def _runtime(data_dir: Path, smtp_url: str, now: datetime) -> Runtime:
    settings = load_settings(
        {
            "SPRECHZIMMER_DATA_DIR": str(data_dir),
            "SPRECHZIMMER_BASE_URL": "https://praxis.example",
            "SPRECHZIMMER_SMTP_URL": smtp_url,
        }
    )
    return Runtime(settings, clock=lambda: now)


def _outbox_rate(mailbox: Mailbox, now: datetime) -> tuple[float, list[EmailMessage]]:
    with tempfile.TemporaryDirectory() as folder:
        runtime = _runtime(Path(folder), mailbox.url, now)
        runtime.start()
        practitioner = set_up_practice(runtime.consultations, now)
        tomorrow = in_practice_time(now + timedelta(days=1)).date()
        schedule_many(runtime.consultations, practitioner, MAILS, tomorrow, now)
        runtime.mail_queue_follower.pull()
        started = time.perf_counter()
        delivered = runtime.dispatcher.dispatch_due(now)
        elapsed = time.perf_counter() - started
        runtime.close()
    assert delivered == MAILS, f"only {delivered} of {MAILS} delivered"
    return MAILS / elapsed, list(mailbox.messages[-MAILS:])


def _smtplib_rate(mailbox: Mailbox, messages: list[EmailMessage]) -> float:
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", mailbox.port) as server:
        for message in messages:
            server.send_message(message)
    return len(messages) / (time.perf_counter() - started)


def main() -> None:
    mailbox = Mailbox()
    mailbox.start()
    try:
        now = datetime.now(UTC)
        outbox, sent = _outbox_rate(mailbox, now)
        baseline = _smtplib_rate(mailbox, sent)
    finally:
        mailbox.stop()
    ratio = outbox / baseline
    print(f"outbox dispatch ({MAILS} invitations)")
    print(f"  outbox dispatcher : {outbox:8.1f} mails/s")
    print(f"  plain smtplib loop: {baseline:8.1f} mails/s")
    verdict = "met" if ratio >= GOAL_RATIO else "NOT met"
    print(f"  ratio             : {ratio:8.2f} (goal >= {GOAL_RATIO}: {verdict})")


if __name__ == "__main__":
    main()
