"""Events per second of whole appointment lifecycles against raw eventsourcing.

The product side drives application.runtime.Runtime (SQLite files in a
temporary data folder, the mailroom following in the same thread) through
schedule_appointment, give_consent, patient_enters_room, admit_patient and
end_appointment, with a fixed clock: each appointment starts five minutes after
a fixed `now`, and the commands' `at` moves through its join window.

The baseline is a plain eventsourcing Application with one plain Aggregate
class, on the same persistence settings. It writes the same number of events,
in the same transactions (3, 1, 3, 2, 2 per lifecycle), each padded to the
stored size of the product's event at that position, and reads aggregates back
before changing them, as the product does. Events are counted exactly, from
the recorders' notification ids. The two sides alternate in rounds.

    .venv/bin/python -m benchmarks.lifecycle_events [--lifecycles 300]
    .venv/bin/python -m benchmarks.lifecycle_events --postgres

With --postgres both sides run on PostgreSQL (production mode), in one fresh
database on the server that SPRECHZIMMER_TEST_DATABASE_URL names (by default
the machine's own on 127.0.0.1:5432): the product's tables and the baseline's
side by side.
"""

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from application.config import Settings, load_settings
from application.consultations import ScheduleRequest
from application.persistence import eventsourcing_environment
from application.runtime import Runtime
from benchmarks.common import goal_verdict, print_table, summary
from domain.appointment import CURRENT_TERMS_VERSION
from domain.local_time import in_practice_time
from tests.support.practice import PASSWORD
from tests.support.production import fresh_database

GOAL = 0.5
ROUNDS = 3
WARMUP_LIFECYCLES = 20
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
STARTS_AFTER = timedelta(minutes=5)
# Events per transaction of one lifecycle, in the product's order.
TRANSACTIONS = (3, 1, 3, 2, 2)
EVENTS_PER_LIFECYCLE = sum(TRANSACTIONS)


@dataclass
class Tally:
    lifecycles: int = 0
    events: int = 0
    seconds: float = 0.0
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


# The product


class ProductLifecycles:
    def __init__(self, data_dir: Path, database_url: str | None) -> None:
        self.runtime = Runtime(settings_for(data_dir, database_url), clock=lambda: NOW)
        self.runtime.start()
        self.consultations = self.runtime.consultations
        self.practitioner_id = self.consultations.set_up_practice(
            practice_name="Praxis am Markt",
            name="Dr. Anna Weber",
            email="weber@praxis.test",
            password=PASSWORD,
            at=NOW,
        )
        starts = in_practice_time(NOW + STARTS_AFTER)
        self.request = ScheduleRequest(
            patient_name="Erika Mustermann",
            patient_email="erika@example.test",
            day=starts.date(),
            clock=starts.time().replace(second=0, microsecond=0),
            duration_minutes=15,
            note="",
        )

    def lifecycle(self) -> None:
        consultations = self.consultations
        practitioner = self.practitioner_id
        appointment = consultations.schedule_appointment(
            practitioner, self.request, NOW
        )
        consultations.give_consent(
            appointment,
            terms_version=CURRENT_TERMS_VERSION,
            name_confirmed=True,
            terms_accepted=True,
            at=NOW + timedelta(minutes=1),
        )
        consultations.patient_enters_room(
            appointment, uuid4().hex, NOW + timedelta(minutes=2)
        )
        consultations.admit_patient(
            practitioner, appointment, NOW + timedelta(minutes=6)
        )
        consultations.end_appointment(
            practitioner, appointment, NOW + timedelta(minutes=18)
        )

    def counters(self) -> dict[str, int]:
        return {
            "events": self.consultations.recorder.max_notification_id() or 0,
            "mailroom events": self.runtime.mailroom.recorder.max_notification_id()
            or 0,
        }

    def event_sizes(self, last: int) -> list[int]:
        """Stored sizes of the last `last` events in the consultations log."""
        top = self.consultations.recorder.max_notification_id() or 0
        notifications = self.consultations.recorder.select_notifications(
            start=top - last + 1, limit=last
        )
        return [len(notification.state) for notification in notifications]

    def close(self) -> None:
        self.runtime.close()


# The baseline


class Record(Aggregate):
    class Created(Aggregate.Created):
        data: str

    class Changed(Aggregate.Event):
        data: str

    @event(Created)
    def __init__(self, data: str) -> None:
        self.data = data

    @event(Changed)
    def change(self, data: str) -> None:
        self.data = data


class Baseline(Application[UUID]):
    name = "Baseline"


class BaselineLifecycles:
    def __init__(self, data_dir: Path, sizes: list[int], product: Settings) -> None:
        product_env = eventsourcing_environment(product)
        data_dir.mkdir(parents=True, exist_ok=True)
        if product.database_url:
            # The same server, pool and settings; tables of its own.
            env = dict(product_env)
        else:
            env = {
                "PERSISTENCE_MODULE": product_env["PERSISTENCE_MODULE"],
                "SQLITE_DBNAME": str(data_dir / "baseline.sqlite"),
                "SQLITE_LOCK_TIMEOUT": product_env["SQLITE_LOCK_TIMEOUT"],
            }
        self.app = Baseline(env=env)
        self.payloads = self._payloads(sizes)

    def _payloads(self, sizes: list[int]) -> list[str]:
        """Padding that gives each event the stored size of the product's."""
        probe = Record(data="")
        probe.change(data="")
        created, changed = (
            len(self.app.mapper.to_stored_event(pending).state)
            for pending in probe.collect_events()
        )
        creations = {0, 1, 2, 5}  # Positions where the product creates one.
        return [
            "x" * max(0, size - (created if position in creations else changed))
            for position, size in enumerate(sizes)
        ]

    def lifecycle(self) -> None:
        app, data = self.app, self.payloads
        appointment = Record(data=data[0])
        app.save(appointment, Record(data=data[1]), Record(data=data[2]))
        appointment = app.repository.get(appointment.id)
        appointment.change(data=data[3])
        app.save(appointment)
        appointment = app.repository.get(appointment.id)
        appointment.change(data=data[4])
        session = Record(data=data[5])
        session.change(data=data[6])
        app.save(appointment, session)
        for first, second in ((7, 8), (9, 10)):
            appointment = app.repository.get(appointment.id)
            session = app.repository.get(session.id)
            appointment.change(data=data[first])
            session.change(data=data[second])
            app.save(appointment, session)

    def counters(self) -> dict[str, int]:
        return {"events": self.app.recorder.max_notification_id() or 0}

    def event_sizes(self, last: int) -> list[int]:
        top = self.app.recorder.max_notification_id() or 0
        notifications = self.app.recorder.select_notifications(
            start=top - last + 1, limit=last
        )
        return [len(notification.state) for notification in notifications]

    def close(self) -> None:
        self.app.close()


def settings_for(data_dir: Path, database_url: str | None) -> Settings:
    """As `sprechzimmer serve` loads them: on the embedded default keys are
    generated in the data folder; with a database URL, production mode."""
    return load_settings(
        {
            "SPRECHZIMMER_DATA_DIR": str(data_dir),
            "SPRECHZIMMER_BASE_URL": "http://127.0.0.1:8000",
            "SPRECHZIMMER_DATABASE_URL": database_url or "",
        }
    )


# Measuring


def run_lifecycles(
    lifecycle: Callable[[], None],
    counters: Callable[[], dict[str, int]],
    count: int,
    tally: Tally,
) -> None:
    before = counters()
    started = time.perf_counter()
    for _ in range(count):
        lifecycle()
    tally.seconds += time.perf_counter() - started
    after = counters()
    tally.lifecycles += count
    tally.events += after["events"] - before["events"]
    for name in after:
        if name != "events":
            tally.extra[name] = tally.extra.get(name, 0) + after[name] - before[name]


def measure(
    lifecycles: int, database_url: str | None
) -> tuple[Tally, Tally, list[int], list[int]]:
    with tempfile.TemporaryDirectory(prefix="sprechzimmer-bench-") as folder:
        product = ProductLifecycles(Path(folder) / "product", database_url)
        product_tally, baseline_tally = Tally(), Tally()
        try:
            warmup = Tally()
            run_lifecycles(
                product.lifecycle, product.counters, WARMUP_LIFECYCLES, warmup
            )
            if warmup.events != WARMUP_LIFECYCLES * EVENTS_PER_LIFECYCLE:
                raise RuntimeError(
                    f"the product wrote {warmup.events / WARMUP_LIFECYCLES:.1f} "
                    f"events per lifecycle, the baseline mirrors "
                    f"{EVENTS_PER_LIFECYCLE}: update TRANSACTIONS"
                )
            sizes = product.event_sizes(EVENTS_PER_LIFECYCLE)
            baseline = BaselineLifecycles(
                Path(folder) / "baseline", sizes, product.runtime.settings
            )
            try:
                run_lifecycles(
                    baseline.lifecycle, baseline.counters, WARMUP_LIFECYCLES, Tally()
                )
                baseline_sizes = baseline.event_sizes(EVENTS_PER_LIFECYCLE)
                per_round = max(1, lifecycles // ROUNDS)
                for _ in range(ROUNDS):
                    run_lifecycles(
                        product.lifecycle, product.counters, per_round, product_tally
                    )
                    run_lifecycles(
                        baseline.lifecycle,
                        baseline.counters,
                        per_round,
                        baseline_tally,
                    )
            finally:
                baseline.close()
        finally:
            product.close()
    return product_tally, baseline_tally, sizes, baseline_sizes


def _row(name: str, tally: Tally, sizes: list[int]) -> list[str]:
    return [
        name,
        str(tally.lifecycles),
        f"{tally.events:,}",
        f"{tally.events / tally.lifecycles:.0f}",
        f"{sum(sizes) / len(sizes):.0f}",
        f"{tally.seconds:.2f}",
        f"{tally.per_second:,.0f}",
    ]


def report(
    product: Tally,
    baseline: Tally,
    sizes: list[int],
    baseline_sizes: list[int],
    store: str,
) -> None:
    print_table(
        f"Appointment lifecycles ({ROUNDS} alternating rounds, {store})",
        ["side", "lifecycles", "events", "ev/cycle", "bytes/ev", "seconds", "events/s"],
        [
            _row("Runtime commands", product, sizes),
            _row("raw eventsourcing", baseline, baseline_sizes),
        ],
    )
    for name, count in product.extra.items():
        print(f"also written by the product: {count:,} {name} (not counted above)")
    if product.events != baseline.events:
        print(f"WARNING: event counts differ ({product.events} vs {baseline.events})")
    ratio = product.per_second / baseline.per_second
    print(f"events/s product / raw: {ratio:.2f}  ({goal_verdict(ratio, GOAL)})")
    summary(
        "lifecycle events/s" + (" (PostgreSQL)" if "Postgre" in store else ""),
        f"{product.per_second:,.0f}",
        f"{baseline.per_second:,.0f}",
        f"{ratio:.2f}",
        f">= {GOAL} {'met' if ratio >= GOAL else 'NOT met'}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Lifecycles against raw events.")
    parser.add_argument("--lifecycles", type=int, default=600, help="per side")
    parser.add_argument(
        "--postgres", action="store_true", help="both sides on PostgreSQL"
    )
    arguments = parser.parse_args()
    if not arguments.postgres:
        results = measure(arguments.lifecycles, None)
        report(*results, store="SQLite files")
        return
    with fresh_database() as database_url:
        results = measure(arguments.lifecycles, database_url)
    report(*results, store="PostgreSQL, one database")


if __name__ == "__main__":
    main()
