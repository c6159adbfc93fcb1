"""The auditors' and operators' tools against a real data folder: a shredding
run that is killed and restarted, and tools given bad input."""

import base64
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from application.config import load_settings
from application.event_log import metadata_mapper, open_log, read_all
from application.runtime import Runtime
from tests.support.bulk import schedule_many, set_up_practice
from tests.support.cli import sprechzimmer
from tests.support.production import runtime_environment
from tests.support.server import PROJECT_ROOT

NOVEMBER = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
APPOINTMENTS = 600


def fill_practice(data_dir: Path, appointments: int) -> None:
    runtime = Runtime(
        load_settings(runtime_environment(data_dir)), clock=lambda: NOVEMBER
    )
    runtime.start()
    practitioner = set_up_practice(runtime.consultations, NOVEMBER)
    schedule_many(
        runtime.consultations, practitioner, appointments, date(2026, 11, 3), NOVEMBER
    )
    runtime.close()


def shredded_keys(data_dir: Path) -> int:
    database_url = os.environ.get("SPRECHZIMMER_DATABASE_URL")
    if database_url:
        import psycopg

        with psycopg.connect(database_url) as connection:
            row = connection.execute(
                "SELECT count(*) FROM data_keys WHERE shredded_at IS NOT NULL"
            ).fetchone()
        return int(row[0]) if row else 0
    try:
        database = sqlite3.connect(f"file:{data_dir / 'keys.sqlite'}?mode=ro", uri=True)
        count = database.execute(
            "SELECT count(*) FROM data_keys WHERE shredded_at IS NOT NULL"
        ).fetchone()[0]
        database.close()
        return int(count)
    except sqlite3.OperationalError:
        return 0


def shredding_events(data_dir: Path) -> Counter[str]:
    mapper = metadata_mapper()
    seen: Counter[str] = Counter()
    for notification in read_all(open_log(data_dir, "consultations")):
        if notification.topic.endswith("Appointment.PersonalDataShredded"):
            seen[str(mapper.to_domain_event(notification).originator_id)] += 1
    return seen


def test_a_shredding_run_killed_midway_completes_on_restart_once_each(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    fill_practice(data_dir, APPOINTMENTS)
    as_of = "2027-03-31T00:00:00+02:00"
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "adapters.cli.main",
            "retention",
            "run",
            "--as-of",
            as_of,
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, "SPRECHZIMMER_DATA_DIR": str(data_dir)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while shredded_keys(data_dir) < 20:
        assert run.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    run.send_signal(signal.SIGKILL)
    run.wait()
    interrupted_at = shredded_keys(data_dir)
    assert interrupted_at < APPOINTMENTS, "the kill came after the run had finished"

    again = sprechzimmer(data_dir, "retention", "run", "--as-of", as_of)
    assert again.returncode == 0, again.stderr

    assert shredded_keys(data_dir) == APPOINTMENTS
    records = shredding_events(data_dir)
    assert len(records) == APPOINTMENTS
    assert set(records.values()) == {1}
    status = sprechzimmer(data_dir, "audit", "retention", "--json")
    assert status.returncode == 0
    assert '"overdue":0' in status.stdout
    assert sprechzimmer(data_dir, "audit", "verify").returncode == 0


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    data_dir = tmp_path / "data"
    fill_practice(data_dir, 2)
    return data_dir


def other_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (("audit", "replay", "--appointment", "not-an-id"), "not an appointment ID"),
        (
            (
                "audit",
                "replay",
                "--appointment",
                "0f8fad5b-d9cb-469f-a165-70867728950e",
            ),
            "no events for appointment",
        ),
    ],
)
def test_tools_refuse_unknown_or_malformed_ids_clearly(
    recorded: Path, arguments: tuple[str, ...], says: str
) -> None:
    result = sprechzimmer(recorded, *arguments)
    assert result.returncode == 2
    assert says in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("tool", ["verify", "replay", "retention"])
def test_tools_on_an_empty_store_say_so(tmp_path: Path, tool: str) -> None:
    nothing = sprechzimmer(tmp_path / "never-used", "audit", tool)
    assert nothing.returncode == 2
    assert "nothing recorded yet" in nothing.stderr
    (tmp_path / "empty").mkdir()
    empty = sprechzimmer(tmp_path / "empty", "audit", tool)
    assert empty.returncode == 2
    assert "Traceback" not in empty.stderr and empty.stderr.startswith("error:")


def test_a_wrong_checkpoint_key_fails_verification_by_name(recorded: Path) -> None:
    wrong = sprechzimmer(
        recorded, "audit", "verify", env={"SPRECHZIMMER_AUDIT_SIGNING_KEY": other_key()}
    )
    assert wrong.returncode == 1
    assert "checkpoint signature does not match the configured key" in wrong.stdout
    garbage = sprechzimmer(
        recorded, "audit", "verify", env={"SPRECHZIMMER_AUDIT_SIGNING_KEY": "kurz"}
    )
    assert garbage.returncode == 2
    assert "not a 32-byte base64url key" in garbage.stderr


def test_replay_is_a_deterministic_metadata_timeline(recorded: Path) -> None:
    first = sprechzimmer(recorded, "audit", "replay", "--json")
    second = sprechzimmer(recorded, "audit", "replay", "--json")
    assert first.returncode == 0 and first.stdout == second.stdout
    assert "Appointment.Scheduled" in first.stdout
    assert "Patientin" not in first.stdout and "example.test" not in first.stdout
    upto = sprechzimmer(recorded, "audit", "replay", "--upto", "3")
    assert len(upto.stdout.splitlines()) == 3


def test_a_wrong_or_missing_master_key_stops_the_start(recorded: Path) -> None:
    wrong = sprechzimmer(
        recorded,
        "practitioner",
        "add",
        "--name",
        "Dr. Ben Kollege",
        "--email",
        "ben@praxis.test",
        "--password-stdin",
        env={"SPRECHZIMMER_MASTER_KEY": other_key()},
    )
    assert wrong.returncode == 2
    assert "does not open this key store" in wrong.stderr
    assert "Traceback" not in wrong.stderr

    (recorded / "master.key").unlink()
    missing = sprechzimmer(recorded, "serve", "--port", "1")
    assert missing.returncode == 2
    assert "SPRECHZIMMER_MASTER_KEY is missing" in missing.stderr
