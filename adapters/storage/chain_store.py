"""Where the hash chain over the event logs is kept: apart from the events.

Links (one per stored event: its hash and the running chain hash) live in
their own SQLite file; signed checkpoints are appended to a JSON-lines file
per log. Someone who alters the event database must also alter these, and
cannot forge the checkpoints' signatures without the signing key.
"""

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import orjson


class Link(NamedTuple):
    position: int
    event_hash: bytes
    chain_hash: bytes


class UnreadableCheckpoint(Exception):
    def __init__(self, log: str, line: int) -> None:
        super().__init__(f"checkpoint file of '{log}': line {line} is not a checkpoint")
        self.log = log
        self.line = line


@dataclass(frozen=True)
class Checkpoint:
    log: str
    position: int
    chain_hash: str
    signed_at: str
    signature: str

    def signed_text(self) -> bytes:
        return f"{self.log}|{self.position}|{self.chain_hash}|{self.signed_at}".encode()


class ChainStore:
    def __init__(self, folder: Path, read_only: bool = False) -> None:
        self.folder = folder
        if not read_only:
            folder.mkdir(parents=True, exist_ok=True)
        path = folder / "chain.sqlite"
        uri = f"file:{path}?mode={'ro' if read_only else 'rwc'}"
        self._connection = sqlite3.connect(
            uri, uri=True, check_same_thread=False, isolation_level=None, timeout=10
        )
        self._lock = threading.Lock()
        if not read_only:
            self._connection.execute(
                "CREATE TABLE IF NOT EXISTS links (log TEXT NOT NULL, "
                "position INTEGER NOT NULL, event_hash BLOB NOT NULL, "
                "chain_hash BLOB NOT NULL, PRIMARY KEY (log, position))"
            )

    def last_link(self, log: str) -> Link | None:
        with self._lock:
            row = self._connection.execute(
                "SELECT position, event_hash, chain_hash FROM links WHERE log = ? "
                "ORDER BY position DESC LIMIT 1",
                (log,),
            ).fetchone()
        return Link(row[0], bytes(row[1]), bytes(row[2])) if row else None

    def add(self, log: str, links: list[Link]) -> None:
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            self._connection.executemany(
                "INSERT OR IGNORE INTO links VALUES (?, ?, ?, ?)",
                [(log, x.position, x.event_hash, x.chain_hash) for x in links],
            )
            self._connection.execute("COMMIT")

    def links(self, log: str) -> list[Link]:
        with self._lock:
            rows = self._connection.execute(
                "SELECT position, event_hash, chain_hash FROM links WHERE log = ? "
                "ORDER BY position",
                (log,),
            ).fetchall()
        return list(map(Link._make, rows))

    def append_checkpoint(self, checkpoint: Checkpoint) -> None:
        line = orjson.dumps(vars(checkpoint)) + b"\n"
        with self._lock, open(self._checkpoint_file(checkpoint.log), "ab") as file:
            file.write(line)

    def checkpoints(self, log: str) -> list[Checkpoint]:
        """Every checkpoint; a line that is not one raises UnreadableCheckpoint."""
        path = self._checkpoint_file(log)
        if not path.exists():
            return []
        found = []
        for number, line in enumerate(path.read_bytes().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                fields = orjson.loads(line)
                checkpoint = Checkpoint(**fields)
                int(checkpoint.position)
            except (orjson.JSONDecodeError, TypeError, ValueError):
                raise UnreadableCheckpoint(log, number) from None
            found.append(checkpoint)
        return found

    def last_checkpoint_position(self, log: str) -> int | None:
        """For extending the chain: a damaged line is skipped here (verify
        reports it), so sealing goes on."""
        try:
            checkpoints = self.checkpoints(log)
        except UnreadableCheckpoint:
            return None
        return checkpoints[-1].position if checkpoints else None

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def _checkpoint_file(self, log: str) -> Path:
        return self.folder / f"checkpoints-{log}.jsonl"
