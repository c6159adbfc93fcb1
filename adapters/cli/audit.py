"""The auditors' tools: verify the log, replay its metadata, check retention.

All of them only read: the event logs are opened read-only, no key is ever
generated, and personal fields stay sealed. Each prints a table for people, or
JSON lines with --json, and exits non-zero when something is wrong.
"""

import argparse
import base64
import os
import signal
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from adapters.storage.chain_store import ChainStore, UnreadableCheckpoint
from application.audit_chain import LogReport, public_key_of, verify_log
from application.event_log import (
    LOG_FILES,
    EventLogMissing,
    metadata_mapper,
    open_log,
    read_all,
)
from domain.personal_data import personal_fields_of
from projections.calendar import CalendarView

# Fields an audit timeline never shows: besides personal data, whatever could
# help rebuild a link or a login.
WITHHELD = {
    "token_nonce",
    "join_token_hash",
    "cancel_token_hash",
    "token_hash",
    "password_hash",
    "connection_id",
    "originator_topic",
}


# What damaged audit data raises when read: reported as tampering, not a crash.
UNREADABLE = (sqlite3.DatabaseError, UnreadableCheckpoint, TypeError, ValueError)


class ToolError(Exception):
    """A problem the person running the tool can fix; printed, exit 2."""


def add_commands(commands: Any) -> None:
    audit = commands.add_parser("audit", help="auditors' tools (read-only)")
    audit_commands = audit.add_subparsers(required=True, metavar="TOOL")

    verify = audit_commands.add_parser("verify", help="check the hash chain")
    verify.set_defaults(handler=_run(verify_command))

    replay = audit_commands.add_parser("replay", help="timeline of metadata")
    replay.add_argument("--upto", type=int, help="last position to show")
    replay.add_argument("--appointment", help="only this appointment's events")
    replay.add_argument("--log", choices=sorted(LOG_FILES), default="consultations")
    replay.set_defaults(handler=_run(replay_command))

    retention = audit_commands.add_parser("retention", help="shredding status")
    retention.set_defaults(handler=_run(retention_command))

    for tool in (verify, replay, retention):
        tool.add_argument("--json", action="store_true", help="JSON lines")


def _run(command: Any) -> Any:
    def handler(arguments: argparse.Namespace) -> int:
        # A report piped into `head` ends quietly when the reader stops. Only
        # here: a server must never die of a client that went away.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        try:
            return int(command(arguments, _data_dir()))
        except (ToolError, EventLogMissing) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2

    return handler


def _data_dir() -> Path:
    folder = Path(os.environ.get("SPRECHZIMMER_DATA_DIR", "data")).expanduser()
    if not folder.is_dir():
        raise ToolError(f"no data folder at {folder.resolve()}: nothing recorded yet")
    return folder.resolve()


# audit verify


def verify_command(arguments: argparse.Namespace, data_dir: Path) -> int:
    public_key = _verification_key(data_dir)
    audit_dir = data_dir / "audit"
    if not (audit_dir / "chain.sqlite").exists():
        raise ToolError(f"no hash chain in {audit_dir}: the log was never sealed")
    store = ChainStore(audit_dir, read_only=True)
    try:
        reports = _verify_logs(data_dir, store, public_key)
    except (
        sqlite3.DatabaseError,
        UnreadableCheckpoint,
        TypeError,
        ValueError,
    ) as error:
        print(f"TAMPERED: the audit data cannot be read as stored: {error}")
        return 1
    finally:
        store.close()
    if not reports:
        raise ToolError(f"no event log in {data_dir}: the store is empty")
    _print_verification(reports, arguments.json)
    if _key_lies_in(data_dir):
        print(
            "note: the signing key lies in the data folder; whoever can change the "
            "log there can also re-sign it. Verify with SPRECHZIMMER_AUDIT_PUBLIC_KEY "
            "kept elsewhere.",
            file=sys.stderr,
        )
    return 0 if all(report.intact for report in reports) else 1


def _key_lies_in(data_dir: Path) -> bool:
    configured = os.environ.get("SPRECHZIMMER_AUDIT_PUBLIC_KEY") or os.environ.get(
        "SPRECHZIMMER_AUDIT_SIGNING_KEY"
    )
    return not configured and (data_dir / "audit-signing.key").exists()


def _verify_logs(
    data_dir: Path, store: ChainStore, public_key: Ed25519PublicKey
) -> list[LogReport]:
    reports = []
    for name in LOG_FILES:
        try:
            recorder = open_log(data_dir, name)
        except EventLogMissing:
            continue
        reports.append(
            verify_log(
                name,
                read_all(recorder),
                store.links(name),
                store.checkpoints(name),
                public_key,
            )
        )
    return reports


def _verification_key(data_dir: Path) -> Ed25519PublicKey:
    public = os.environ.get("SPRECHZIMMER_AUDIT_PUBLIC_KEY", "").strip()
    if public:
        return Ed25519PublicKey.from_public_bytes(_key_bytes(public, "PUBLIC_KEY"))
    private = os.environ.get("SPRECHZIMMER_AUDIT_SIGNING_KEY", "").strip()
    key_file = data_dir / "audit-signing.key"
    if not private and key_file.exists():
        private = key_file.read_text().strip()
    if not private:
        raise ToolError(
            "set SPRECHZIMMER_AUDIT_PUBLIC_KEY (or the signing key) to verify "
            "the checkpoints"
        )
    return public_key_of(_key_bytes(private, "SIGNING_KEY"))


def _key_bytes(raw: str, name: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ToolError(f"SPRECHZIMMER_AUDIT_{name} is not a 32-byte base64url key")
    return key


def _print_verification(reports: Sequence[LogReport], as_json: bool) -> None:
    for report in reports:
        if as_json:
            _emit(
                {
                    "log": report.log,
                    "events": report.events,
                    "sealed": report.sealed,
                    "unsealed": report.unsealed,
                    "checkpoints": report.checkpoints,
                    "intact": report.intact,
                    "first_bad_position": report.findings[0].position
                    if report.findings
                    else None,
                    "findings": [
                        {"position": f.position, "problem": f.problem}
                        for f in report.findings
                    ],
                }
            )
            continue
        verdict = "intact" if report.intact else "TAMPERED"
        print(
            f"{report.log:<14} {report.events:>8} events  {report.sealed:>8} sealed  "
            f"{report.unsealed:>5} not yet sealed  {report.checkpoints:>4} "
            f"checkpoints  {verdict}"
        )
        for finding in report.findings[:20]:
            print(f"  position {finding.position}: {finding.problem}")
        if len(report.findings) > 20:
            print(f"  … and {len(report.findings) - 20} more")
        if report.findings:
            print(f"  first bad position: {report.findings[0].position}")


# audit replay


def replay_command(arguments: argparse.Namespace, data_dir: Path) -> int:
    wanted = _appointment_id(arguments.appointment)
    rows = list(_timeline(data_dir, arguments.log, arguments.upto, wanted))
    if wanted is not None and not rows:
        raise ToolError(f"no events for appointment {wanted}")
    for row in rows:
        if arguments.json:
            _emit(row)
        else:
            details = " ".join(
                f"{key}={_one_line(value)}"
                for key, value in sorted(row["details"].items())
            )
            print(
                f"{row['position']:>7}  {row['time']}  {row['event']:<34} "
                f"{row['appointment'] or '-':<36}  {details}"
            )
    return 0


def _appointment_id(raw: str | None) -> UUID | None:
    if raw is None:
        return None
    try:
        return UUID(raw)
    except ValueError:
        raise ToolError(f"not an appointment ID: {raw!r}") from None


def _timeline(
    data_dir: Path, log: str, upto: int | None, wanted: UUID | None
) -> Iterator[dict[str, Any]]:
    mapper = metadata_mapper()
    sessions: dict[UUID, UUID] = {}
    for notification in read_all(open_log(data_dir, log)):
        if upto is not None and notification.id > upto:
            return
        event = mapper.to_domain_event(notification)
        state = dict(vars(event))
        originator = state.pop("originator_id")
        state.pop("originator_version")
        timestamp = state.pop("timestamp")
        appointment = state.get("appointment_id")
        if notification.topic.endswith("VideoSession.Opened") and appointment:
            sessions[originator] = appointment
        appointment = appointment or sessions.get(originator)
        if notification.topic.startswith("domain.appointment:"):
            appointment = originator
        if wanted is not None and appointment != wanted:
            continue
        hidden = set(personal_fields_of(type(event))) | WITHHELD
        yield {
            "position": notification.id,
            "time": timestamp.isoformat(),
            "event": notification.topic.split(":", 1)[1],
            "aggregate": str(originator),
            "appointment": str(appointment) if appointment else None,
            "details": {
                key: _plain(value)
                for key, value in state.items()
                if key not in hidden and key != "appointment_id"
            },
        }


def _one_line(value: Any) -> str:
    """Keeps one event on one line, whatever its values contain."""
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


# audit retention


def retention_command(arguments: argparse.Namespace, data_dir: Path) -> int:
    now = datetime.now(UTC)
    calendar = CalendarView()
    mapper = metadata_mapper()
    for notification in read_all(open_log(data_dir, "consultations")):
        calendar.apply(mapper.to_domain_event(notification))
    entries = calendar.all_entries()
    shredded = sorted(
        (e for e in entries if e.shredded_at), key=lambda e: e.shredded_at or now
    )
    pending = sorted(
        (e for e in entries if not e.shredded_at), key=lambda e: e.shredding_deadline
    )
    overdue = [e for e in pending if e.shredding_deadline <= now]

    if arguments.json:
        for entry in shredded:
            _emit(_retention_row(entry, "shredded"))
        for entry in pending:
            state = "overdue" if entry in overdue else "pending"
            _emit(_retention_row(entry, state))
        _emit({"overdue": len(overdue), "checked_at": now.isoformat()})
    else:
        print(f"Shredded: {len(shredded)} appointments")
        for entry in shredded[-10:]:
            print(f"  {entry.appointment_id}  shredded {_iso(entry.shredded_at)}")
        print(f"Still holding personal data: {len(pending)} appointments")
        for entry in pending[:10]:
            marker = "OVERDUE" if entry in overdue else "due"
            print(
                f"  {entry.appointment_id}  {marker} {_iso(entry.shredding_deadline)}"
            )
        if overdue:
            print(f"{len(overdue)} appointments are past their deadline: OVERDUE.")
        else:
            print(
                "Nothing is overdue: no appointment's personal data is kept past "
                "its deadline of three months."
            )
    return 1 if overdue else 0


def _retention_row(entry: Any, state: str) -> dict[str, Any]:
    return {
        "appointment": str(entry.appointment_id),
        "state": state,
        "deadline": _iso(entry.shredding_deadline),
        "shredded_at": _iso(entry.shredded_at),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _emit(row: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(row).decode() + "\n")
