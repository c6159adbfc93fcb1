"""A retention sweep over 10,000 appointments that are all due: how long it
takes, and events recorded per second."""

import os
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from application.config import load_settings
from application.runtime import Runtime
from tests.support.bulk import schedule_many, set_up_practice

# BENCH_APPOINTMENTS makes a quick trial run smaller.
APPOINTMENTS = int(os.environ.get("BENCH_APPOINTMENTS", "10000"))
SCHEDULED_AT = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
FIRST_DAY = date(2026, 11, 3)
SWEEP_AT = datetime(2027, 6, 1, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = SCHEDULED_AT

    def __call__(self) -> datetime:
        return self.now


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        clock = Clock()
        runtime = Runtime(
            load_settings({"SPRECHZIMMER_DATA_DIR": str(Path(folder))}), clock=clock
        )
        runtime.start()
        started = time.perf_counter()
        practitioner = set_up_practice(runtime.consultations, SCHEDULED_AT)
        schedule_many(
            runtime.consultations, practitioner, APPOINTMENTS, FIRST_DAY, SCHEDULED_AT
        )
        filled = time.perf_counter() - started
        runtime.calendar_follower.pull()
        runtime.mail_queue_follower.pull()
        events_before = runtime.consultations.recorder.max_notification_id() or 0

        clock.now = SWEEP_AT
        started = time.perf_counter()
        shredded = runtime.shred_due_personal_data()
        elapsed = time.perf_counter() - started
        events = (
            runtime.consultations.recorder.max_notification_id() or 0
        ) - events_before
        runtime.close()
    assert shredded == APPOINTMENTS, shredded
    print(f"retention sweep over {APPOINTMENTS} due appointments")
    print(f"  (setting up: {filled:.1f} s to schedule them)")
    print(f"  sweep             : {elapsed:8.1f} s")
    print(f"  appointments/s    : {shredded / elapsed:8.1f}")
    print(f"  events recorded/s : {events / elapsed:8.1f} ({events} events)")


if __name__ == "__main__":
    main()
