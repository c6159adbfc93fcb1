"""Reading the stored event logs as they are, for the auditors' tools.

The tools open the SQLite files read-only and decode events without any data
key: personal fields stay sealed, and nothing a tool does can change the log.
"""

from collections.abc import Iterator
from pathlib import Path

from eventsourcing.persistence import (
    ApplicationRecorder,
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    Notification,
    UUIDAsHex,
)
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

LOG_FILES = {"consultations": "consultations.sqlite", "mailroom": "mailroom.sqlite"}
BATCH = 1000


class EventLogMissing(Exception):
    """There is no event log in the data folder (nothing was ever recorded)."""


def open_log(data_dir: Path, name: str, writable: bool = False) -> ApplicationRecorder:
    path = data_dir / LOG_FILES[name]
    if not path.exists():
        raise EventLogMissing(f"no event log '{name}' in {data_dir}")
    mode = "rw" if writable else "ro"
    return SQLiteApplicationRecorder(
        SQLiteDatastore(db_name=f"file:{path}?mode={mode}")
    )


def read_all(recorder: ApplicationRecorder, start: int = 1) -> Iterator[Notification]:
    while True:
        batch = recorder.select_notifications(start=start, limit=BATCH)
        yield from batch
        if len(batch) < BATCH:
            return
        start = batch[-1].id + 1


def metadata_mapper() -> Mapper:
    """Decodes events as stored: personal fields remain sealed ciphertext."""
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)
