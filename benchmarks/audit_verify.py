"""`audit verify` in events per second, against reading the same rows and
hashing them with plain hashlib in the same run."""

import hashlib
import tempfile
import time
from pathlib import Path

from adapters.storage.chain_store import ChainStore
from application.audit_chain import public_key_of, verify_log
from application.config import load_settings
from application.event_log import open_log, read_all
from application.runtime import Runtime
from benchmarks.retention_sweep import FIRST_DAY, SCHEDULED_AT
from tests.support.bulk import schedule_many, set_up_practice

APPOINTMENTS = 3000
ROUNDS = 3
GOAL_RATIO = 0.5


def _verify(data_dir: Path, signing_key: bytes) -> tuple[float, int]:
    store = ChainStore(data_dir / "audit", read_only=True)
    started = time.perf_counter()
    report = verify_log(
        "consultations",
        read_all(open_log(data_dir, "consultations")),
        store.links("consultations"),
        store.checkpoints("consultations"),
        public_key_of(signing_key),
    )
    elapsed = time.perf_counter() - started
    store.close()
    assert report.intact and report.events > 0
    return elapsed, report.events


def _plain_hashing(data_dir: Path) -> tuple[float, int]:
    started = time.perf_counter()
    count = 0
    for notification in read_all(open_log(data_dir, "consultations")):
        hashlib.sha256(bytes(notification.state)).digest()
        count += 1
    return time.perf_counter() - started, count


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        settings = load_settings({"SPRECHZIMMER_DATA_DIR": str(data_dir)})
        runtime = Runtime(settings, clock=lambda: SCHEDULED_AT)
        runtime.start()
        practitioner = set_up_practice(runtime.consultations, SCHEDULED_AT)
        schedule_many(
            runtime.consultations, practitioner, APPOINTMENTS, FIRST_DAY, SCHEDULED_AT
        )
        runtime.close()

        verify_times, plain_times = [], []
        events = 0
        for _ in range(ROUNDS):
            seconds, events = _verify(data_dir, settings.audit_signing_key)
            verify_times.append(seconds)
            seconds, _count = _plain_hashing(data_dir)
            plain_times.append(seconds)
    verify_rate = events / min(verify_times)
    plain_rate = events / min(plain_times)
    ratio = verify_rate / plain_rate
    print(f"audit verify over {events} stored events (best of {ROUNDS})")
    print(f"  audit verify        : {verify_rate:10.0f} events/s")
    print(f"  read + plain hashlib: {plain_rate:10.0f} events/s")
    verdict = "met" if ratio >= GOAL_RATIO else "NOT met"
    print(f"  ratio               : {ratio:10.2f} (goal >= {GOAL_RATIO}: {verdict})")


if __name__ == "__main__":
    main()
