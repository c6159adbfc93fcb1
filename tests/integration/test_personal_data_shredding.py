"""Three months after an appointment its personal data is gone for good, and
everything else keeps working: pages, audit tools, the hash chain."""

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest

from tests.support.cli import sprechzimmer
from tests.support.in_process import InProcessPractice, in_process_practice
from tests.support.practice import cancel_link_in, join_link_in
from tests.support.production import (
    database_files_content,
    delete_event,
    production_mode,
    tamper_with_event,
)

ONE_WEEK_BEFORE = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
PATIENT = ("Erika Mustermann", "erika.mustermann@example.test")
LATER_PATIENT = ("Bernd Später", "bernd@example.test")


@pytest.fixture
def practice(tmp_path: Path) -> Iterator[InProcessPractice]:
    with in_process_practice(tmp_path / "data", now=ONE_WEEK_BEFORE) as running:
        yield running


def schedule(practice: InProcessPractice, who: tuple[str, str], day: str) -> UUID:
    name, email = who
    note = f"Notiz für {name}: Bitte den Befund bereithalten."
    response = practice.post_form(
        "/termine",
        {
            "patient_name": name,
            "patient_email": email,
            "day": day,
            "clock": "16:00",
            "duration": "15",
            "note": note,
        },
    )
    assert response.status_code == 303
    entries = practice.runtime.calendar.all_entries()
    return next(e.appointment_id for e in entries if e.patient_name == name)


def outbox_mail_text(data_dir: Path) -> list[str]:
    return [path.read_text() for path in sorted((data_dir / "outbox").glob("*.eml"))]


def test_personal_data_is_unreadable_from_the_deadline_and_pages_still_work(
    practice: InProcessPractice, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    data_dir = tmp_path / "data"
    erika = schedule(practice, PATIENT, "2026-11-30")
    schedule(practice, LATER_PATIENT, "2026-12-01")
    practice.send_due_mail()
    [erika_mail] = [text for text in outbox_mail_text(data_dir) if "Erika" in text]
    import email
    import email.policy

    parsed = email.message_from_string(erika_mail, policy=email.policy.default)
    join_link = join_link_in(parsed)
    cancel_link = cancel_link_in(parsed)

    practice.clock.now = datetime.fromisoformat("2027-02-27T23:59:00+01:00")
    assert practice.runtime.shred_due_personal_data() == 0
    practice.clock.now = datetime.fromisoformat("2027-02-28T00:00:00+01:00")
    assert practice.runtime.shred_due_personal_data() == 1
    assert practice.runtime.shred_due_personal_data() == 0

    calendar = practice.client.get("/", params={"datum": "2026-11-30"})
    assert calendar.status_code == 200
    assert "[gelöscht]" in calendar.text and "Erika" not in calendar.text
    page = practice.client.get(f"/termine/{erika}")
    assert page.status_code == 200
    assert "[gelöscht]" in page.text and "erika" not in page.text.lower()
    assert practice.client.get(
        join_link.replace("http://testserver", "")
    ).status_code in (
        409,
        410,
    )
    assert (
        practice.client.get(cancel_link.replace("http://testserver", "")).status_code
        == 409
    )
    assert practice.client.get(f"/termine/{erika}").status_code == 200

    remaining = outbox_mail_text(data_dir)
    assert len(remaining) == 1 and "Bernd" in remaining[0]

    practice.runtime.seal_event_logs(force_checkpoint=True)
    verified = sprechzimmer(data_dir, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    retention = sprechzimmer(data_dir, "audit", "retention")
    assert retention.returncode == 0, retention.stdout + retention.stderr
    assert "Shredded: 1 appointments" in retention.stdout
    assert str(erika) in retention.stdout

    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        content = path.read_bytes()
        for secret in (*PATIENT, f"Notiz für {PATIENT[0]}"):
            assert secret.encode() not in content, f"{secret} found in {path}"
    if production_mode():
        content = database_files_content(os.environ["SPRECHZIMMER_DATABASE_URL"])
        assert b"Praxis am Markt" in content, "the search must see stored bytes"
        for secret in (*PATIENT, f"Notiz für {PATIENT[0]}"):
            assert secret.encode() not in content, f"{secret} found in the database"
    for record in caplog.records:
        for secret in PATIENT:
            assert secret not in record.getMessage()


def test_the_log_changed_by_one_byte_is_caught_and_the_event_named(
    practice: InProcessPractice, tmp_path: Path
) -> None:
    import sqlite3

    data_dir = tmp_path / "data"
    schedule(practice, PATIENT, "2026-11-30")
    schedule(practice, LATER_PATIENT, "2026-12-01")
    practice.runtime.seal_event_logs(force_checkpoint=True)
    assert sprechzimmer(data_dir, "audit", "verify").returncode == 0

    if production_mode():
        row_id = tamper_with_event(offset=4)
    else:
        database = sqlite3.connect(data_dir / "consultations.sqlite")
        row_id, state = database.execute(
            "SELECT rowid, state FROM stored_events ORDER BY rowid LIMIT 1 OFFSET 4"
        ).fetchone()
        tampered = bytearray(state)
        tampered[len(tampered) // 2] ^= 0x01
        database.execute(
            "UPDATE stored_events SET state = ? WHERE rowid = ?",
            (bytes(tampered), row_id),
        )
        database.commit()
        database.close()

    verified = sprechzimmer(data_dir, "audit", "verify")
    assert verified.returncode == 1
    assert f"position {row_id}: stored event was altered" in verified.stdout
    assert f"first bad position: {row_id}" in verified.stdout
    as_json = sprechzimmer(data_dir, "audit", "verify", "--json")
    assert f'"first_bad_position":{row_id}' in as_json.stdout
    assert "Traceback" not in verified.stderr


def test_a_deleted_event_is_caught(practice: InProcessPractice, tmp_path: Path) -> None:
    import sqlite3

    data_dir = tmp_path / "data"
    schedule(practice, PATIENT, "2026-11-30")
    practice.runtime.seal_event_logs(force_checkpoint=True)
    if production_mode():
        delete_event(3)
    else:
        database = sqlite3.connect(data_dir / "consultations.sqlite")
        database.execute("DELETE FROM stored_events WHERE rowid = 3")
        database.commit()
        database.close()

    verified = sprechzimmer(data_dir, "audit", "verify")
    assert verified.returncode == 1
    assert "position 3: sealed event is missing" in verified.stdout
