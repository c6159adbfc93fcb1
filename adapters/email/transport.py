"""Handing e-mails over: to an SMTP server, or into a local outbox folder."""

import logging
import os
import smtplib
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from adapters.email.messages import Letter

logger = logging.getLogger(__name__)

# Generous: a mail server may take minutes to confirm a mail (RFC 5321 allows
# ten after the data); giving up earlier invites a second copy.
SMTP_TIMEOUT_SECONDS = 300


class TransientMailError(Exception):
    """The mail could not be handed over now; trying again later may work."""


class PermanentMailError(Exception):
    """The mail server refused the mail for good (for example: no such address)."""


class MailTransport(Protocol):
    def send(self, letter: Letter) -> None: ...

    def finish_round(self) -> None:
        """The dispatcher has sent what was due; release connections."""

    def forget(self, message_ids: list[str]) -> None:
        """Deletes any copies kept of these mails (their personal data is due)."""

    def check(self) -> None:
        """Raises when mail cannot be handed over now."""


class SmtpTransport:
    """Configured by a URL: smtp://user:password@host:587?starttls=true, or
    smtps://host:465 for implicit TLS."""

    def __init__(self, url: str, sender: str) -> None:
        self.sender = sender
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(
                "SPRECHZIMMER_SMTP_URL must look like smtp://host:port or "
                "smtps://user:password@host:465"
            )
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        options = parse_qs(parts.query)
        self.starttls = options.get("starttls", ["false"])[0].lower() in ("1", "true")
        self._server: smtplib.SMTP | None = None

    def send(self, letter: Letter) -> None:
        """Hands one mail over, on this round's connection if there is one.
        After any error the connection is dropped; the next mail opens anew."""
        try:
            with _translated_errors():
                refused = self._session().send_message(
                    letter.message, from_addr=self.sender, to_addrs=[letter.recipient]
                )
        except BaseException:
            self.finish_round()
            raise
        if refused:
            raise _refusal(refused)

    def forget(self, message_ids: list[str]) -> None:
        """Sent mail leaves no copy here."""

    def check(self) -> None:
        with socket.create_connection((self.host, self.port), timeout=3):
            pass

    def finish_round(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            try:
                server.quit()
            except (OSError, smtplib.SMTPException):
                server.close()

    def _session(self) -> smtplib.SMTP:
        if self._server is None:
            server = self._connect()
            if self.username and self.password:
                server.login(self.username, self.password)
            self._server = server
        return self._server

    def _connect(self) -> smtplib.SMTP:
        if self.implicit_tls:
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                timeout=SMTP_TIMEOUT_SECONDS,
                context=ssl.create_default_context(),
            )
        server = smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS)
        if self.starttls:
            server.starttls(context=ssl.create_default_context())
        return server


@contextmanager
def _translated_errors() -> Iterator[None]:
    try:
        yield
    except smtplib.SMTPRecipientsRefused as error:
        raise _refusal(error.recipients) from None
    except (smtplib.SMTPAuthenticationError, smtplib.SMTPSenderRefused) as error:
        # Our account or sender is refused: a configuration problem of the
        # practice, not of this mail. Kept for later; the log tells the operator.
        logger.warning("Mail server refuses our account or sender: %s", error.smtp_code)
        raise TransientMailError(
            f"Mailserver lehnt Absender oder Anmeldung ab ({error.smtp_code})"
        ) from None
    except smtplib.SMTPDataError as error:
        if 500 <= error.smtp_code < 600:
            raise PermanentMailError(
                f"Mailserver lehnt ab: {error.smtp_code}"
            ) from None
        raise TransientMailError(f"Mailserver antwortet {error.smtp_code}") from None
    except smtplib.SMTPResponseException as error:
        raise TransientMailError(f"Mailserver antwortet {error.smtp_code}") from None
    except smtplib.SMTPException as error:
        raise TransientMailError(
            f"Mailserver-Fehler ({type(error).__name__})"
        ) from None
    except OSError:
        raise TransientMailError("Mailserver nicht erreichbar") from None


def _refusal(recipients: dict[str, tuple[int, bytes]]) -> Exception:
    """Greylisting and full mailboxes (4xx) pass; only 5xx refuses for good."""
    if all(500 <= code < 600 for code, _ in recipients.values()):
        return PermanentMailError(_describe_refusal(recipients))
    return TransientMailError(_describe_refusal(recipients))


def _describe_refusal(recipients: dict[str, tuple[int, bytes]]) -> str:
    codes = sorted({str(code) for code, _ in recipients.values()})
    return f"Empfängeradresse abgelehnt ({', '.join(codes)})"


class OutboxFolder:
    """The embedded default: every mail becomes an .eml file (and an .html copy
    to open in a browser). The log names the file, never its links or the
    recipient, so no token or personal data lands in a log."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)

    def send(self, letter: Letter) -> None:
        message = letter.message
        stem = _file_stem(str(message["Message-ID"]))
        self._write_atomically(self.folder / f"{stem}.eml", bytes(message))
        for part in message.walk():
            if part.get_content_type() == "text/html":
                page = part.get_payload(decode=True)
                assert isinstance(page, bytes)
                path = self.folder / f"{stem}.html"
                self._write_atomically(path, page)
                logger.info(
                    "Mail placed in the outbox; open %s", path.resolve().as_uri()
                )
                break

    def finish_round(self) -> None:
        """Files need no connection."""

    def check(self) -> None:
        if not os.access(self.folder, os.W_OK):
            raise PermissionError(str(self.folder))

    def forget(self, message_ids: list[str]) -> None:
        for message_id in message_ids:
            stem = _file_stem(message_id)
            for suffix in (".eml", ".html", ".eml.partial", ".html.partial"):
                (self.folder / f"{stem}{suffix}").unlink(missing_ok=True)

    @staticmethod
    def _write_atomically(path: Path, content: bytes) -> None:
        partial = path.with_suffix(path.suffix + ".partial")
        partial.write_bytes(content)
        os.chmod(partial, 0o600)
        partial.replace(path)


def _file_stem(message_id: str) -> str:
    local_part = message_id.strip("<>").split("@", 1)[0]
    return "".join(ch for ch in local_part if ch.isalnum() or ch in "-_") or "mail"
