"""How long after an appointment is stored another process's read model shows
it: the projection lag in production mode, under a steady load of scheduling.

A writer Runtime schedules appointments at a steady rate on a fresh
PostgreSQL database. A reader Runtime on the same database, in a process of
its own, follows live (the recorder's LISTEN/NOTIFY subscription, as a web
process or worker does) and notes when its calendar has each appointment.
Lag is from the moment the writer's events were committed (taken by a
receiver called first after each save, before the mailroom's own work) to the
moment the reader's calendar holds the appointment; both processes use this
machine's wall clock.

The baseline is the floor under any such lag: a bare NOTIFY from one
connection to a LISTEN on another, measured in the same run at the same rate.

    .venv/bin/python -m benchmarks.projection_lag [--rate 10] [--seconds 20]
"""

import argparse
import multiprocessing
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.system import RecordingEventReceiver

from application.config import load_settings
from application.consultations import ScheduleRequest
from application.runtime import Runtime
from benchmarks.common import print_table, summary
from domain.appointment import Appointment
from domain.local_time import in_practice_time
from tests.support.practice import PASSWORD
from tests.support.production import fresh_database

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def settings(folder: Path, database_url: str) -> Any:
    return load_settings(
        {
            "SPRECHZIMMER_DATA_DIR": str(folder),
            "SPRECHZIMMER_DATABASE_URL": database_url,
            # Both sides must open the same keys.
            "SPRECHZIMMER_MASTER_KEY": "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=",
        }
    )


def reader(folder: str, database_url: str, ready: Any, results: Any, stop: Any) -> None:
    """In a process of its own: follows live, reports when each appointment
    reaches its calendar."""
    runtime = Runtime(settings(Path(folder), database_url), clock=lambda: NOW)
    runtime.start()

    def seen(events: Any) -> None:
        at = time.time()
        for domain_event in events:
            if isinstance(domain_event, Appointment.Scheduled):
                results.put((str(domain_event.originator_id), at))

    runtime.calendar_follower.add_listener(seen)
    runtime.follow_live(decides_mail=False)
    ready.set()
    stop.wait()
    runtime.close()


class CommitClock(RecordingEventReceiver[UUID]):
    """Notes when each new appointment's events were committed."""

    def __init__(self, committed: dict[str, float]) -> None:
        self._committed = committed

    def receive_recording_event(self, new_recording_event: Any) -> None:
        at = time.time()
        for recording in new_recording_event.recordings:
            if recording.notification.topic.endswith("Appointment.Scheduled"):
                self._committed[str(recording.domain_event.originator_id)] = at


def measure_product(database_url: str, rate: float, seconds: float) -> list[float]:
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="sprechzimmer-lag-") as folder:
        writer = Runtime(settings(Path(folder), database_url), clock=lambda: NOW)
        writer.start()
        practitioner = writer.consultations.set_up_practice(
            practice_name="Praxis am Markt",
            name="Dr. Anna Weber",
            email="weber@praxis.test",
            password=PASSWORD,
            at=NOW,
        )
        committed: dict[str, float] = {}
        writer.consultations.followers.insert(0, CommitClock(committed))
        ready, stop, results = context.Event(), context.Event(), context.Queue()
        process = context.Process(
            target=reader, args=(folder, database_url, ready, results, stop)
        )
        process.start()
        if not ready.wait(60):
            raise RuntimeError("the reader did not start")
        stored: dict[str, float] = {}
        starts = in_practice_time(NOW + timedelta(days=1))
        interval = 1 / rate
        next_at = time.perf_counter()
        for number in range(int(rate * seconds)):
            next_at += interval
            request = ScheduleRequest(
                patient_name=f"Patientin {number}",
                patient_email=f"p{number}@example.test",
                day=starts.date(),
                clock=starts.time().replace(second=0, microsecond=0),
                duration_minutes=15,
                note="",
            )
            appointment_id: UUID = writer.consultations.schedule_appointment(
                practitioner, request, NOW
            )
            stored[str(appointment_id)] = committed[str(appointment_id)]
            time.sleep(max(0.0, next_at - time.perf_counter()))
        lags: list[float] = []
        deadline = time.monotonic() + 30
        while len(lags) < len(stored) and time.monotonic() < deadline:
            appointment, seen_at = results.get(timeout=30)
            if appointment in stored:
                lags.append((seen_at - stored[appointment]) * 1000)
        stop.set()
        process.join(30)
        writer.close()
    if len(lags) < len(stored):
        raise RuntimeError(f"only {len(lags)} of {len(stored)} reached the reader")
    return lags


def measure_baseline(database_url: str, rate: float, count: int) -> list[float]:
    received: dict[str, float] = {}
    listening = threading.Event()

    def listen() -> None:
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute("LISTEN lag_baseline")
            listening.set()
            for notification in connection.notifies():
                received[notification.payload] = time.time()
                if len(received) >= count:
                    return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    listening.wait(10)
    sent: dict[str, float] = {}
    with psycopg.connect(database_url, autocommit=True) as connection:
        for number in range(count):
            connection.execute("SELECT pg_notify('lag_baseline', %s)", (str(number),))
            sent[str(number)] = time.time()
            time.sleep(1 / rate)
    thread.join(30)
    return [(received[key] - sent[key]) * 1000 for key in sent if key in received]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description="Projection lag in production.")
    parser.add_argument("--rate", type=float, default=10, help="appointments/s")
    parser.add_argument("--seconds", type=float, default=20)
    arguments = parser.parse_args()
    with fresh_database() as database_url:
        lags = measure_product(database_url, arguments.rate, arguments.seconds)
        floor = measure_baseline(database_url, arguments.rate, len(lags))
    rows = []
    paths = (("committed → reader's calendar", lags), ("bare NOTIFY", floor))
    for name, values in paths:
        rows.append(
            [
                name,
                str(len(values)),
                f"{statistics.median(values):.1f}",
                f"{percentile(values, 0.99):.1f}",
                f"{max(values):.1f}",
            ]
        )
    print_table(
        f"Projection lag at {arguments.rate:g} appointments/s on PostgreSQL, "
        "another process reading",
        ["path", "samples", "p50 ms", "p99 ms", "max ms"],
        rows,
    )
    p50, p99 = statistics.median(lags), percentile(lags, 0.99)
    floor_p50 = statistics.median(floor)
    summary(
        "projection lag p50 ms",
        f"{p50:.1f}",
        f"{floor_p50:.1f}",
        f"{p50 / floor_p50:.1f}",
        "figure only",
    )
    summary(
        "projection lag p99 ms",
        f"{p99:.1f}",
        f"{percentile(floor, 0.99):.1f}",
        f"{p99 / percentile(floor, 0.99):.1f}",
        "figure only",
    )


if __name__ == "__main__":
    main()
