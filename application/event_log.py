"""Reading the stored event logs as they are, for the auditors' tools.

The tools open the SQLite files read-only (or, in production mode, the
PostgreSQL tables in read-only transactions) and decode events without any
data key: personal fields stay sealed, and nothing a tool does can change the
log.
"""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    database_url = os.environ.get("SPRECHZIMMER_DATABASE_URL", "").strip()
    if database_url:
        return _open_postgres_log(database_url, name, writable)
    path = data_dir / LOG_FILES[name]
    if not path.exists():
        raise EventLogMissing(f"no event log '{name}' in {data_dir}")
    mode = "rw" if writable else "ro"
    return SQLiteApplicationRecorder(
        SQLiteDatastore(db_name=f"file:{path}?mode={mode}")
    )


def _open_postgres_log(
    database_url: str, name: str, writable: bool
) -> ApplicationRecorder:
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    from application.persistence import postgres_environment

    env = postgres_environment(database_url, pool_size=1)
    datastore = PostgresDatastore(
        dbname=env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"],
        pool_size=1,
        connect_timeout=int(env["POSTGRES_CONNECT_TIMEOUT"]),
    )
    if not writable:
        _read_only_sessions(datastore)
    table = f"{name}_events"
    with datastore.get_connection() as connection:
        found = connection.execute(
            "SELECT to_regclass(%s) AS found", (table,)
        ).fetchone()
    if found is None or found["found"] is None:
        datastore.close()
        raise EventLogMissing(f"no event log '{name}' in the database")
    return PostgresApplicationRecorder(datastore, events_table_name=table)


def _read_only_sessions(datastore: Any) -> None:
    """Every connection the tool opens refuses to write."""
    configure = datastore.pool.kwargs.setdefault("options", "")
    datastore.pool.kwargs["options"] = (
        f"{configure} -c default_transaction_read_only=on".strip()
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
