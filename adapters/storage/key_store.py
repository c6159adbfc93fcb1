"""Data keys, one per owner of personal data, kept apart from the events.

Each key is stored wrapped (AES-256-GCM) under the master key from the
configuration. Shredding deletes the wrapped key for good: SQLite's
secure_delete overwrites the freed bytes, and a checkpoint right after each
round of shredding empties the write-ahead log, so no old copy lingers there.
What remains of a shredded key is the fact and the time of its deletion.
"""

import os
import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from typing import Protocol
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
_CHECK_PLAINTEXT = b"sprechzimmer key store"


class MasterKeyMismatch(Exception):
    """The configured master key is not the one the key store was made with."""


def seal_master_key_check(master: AESGCM) -> bytes:
    """A token only this master key opens, stored with a new key store."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + master.encrypt(nonce, _CHECK_PLAINTEXT, b"check")


def verify_master_key(master: AESGCM, sealed: bytes) -> None:
    """Raises MasterKeyMismatch unless `master` opens the stored token."""
    try:
        master.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], b"check")
    except InvalidTag:
        raise MasterKeyMismatch(
            "the configured master key does not open this key store"
        ) from None


class KeyStore(Protocol):
    def data_key(self, owner_id: UUID, create: bool = False) -> bytes | None: ...

    def shred(self, owner_id: UUID, at: datetime) -> bool: ...

    def flush_shredded(self) -> None: ...

    def forget(self, owner_id: UUID) -> None: ...

    def close(self) -> None: ...


class SQLiteKeyStore:
    def __init__(self, path: Path, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise MasterKeyMismatch("the master key must be 32 bytes")
        self._master = AESGCM(master_key)
        self._lock = threading.Lock()
        self._cache: dict[UUID, bytes] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=10
        )
        os.chmod(path, 0o600)
        with self._lock:
            self._connection.execute("PRAGMA secure_delete=ON")
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=FULL")
            self._connection.execute(
                "CREATE TABLE IF NOT EXISTS data_keys ("
                "owner_id TEXT PRIMARY KEY, wrapped BLOB, "
                "created_at TEXT NOT NULL, shredded_at TEXT)"
            )
            self._connection.execute(
                "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB)"
            )
            self._check_master_key()

    def _check_master_key(self) -> None:
        row = self._connection.execute(
            "SELECT value FROM meta WHERE name = 'check'"
        ).fetchone()
        if row is None:
            self._connection.execute(
                "INSERT INTO meta (name, value) VALUES ('check', ?)",
                (seal_master_key_check(self._master),),
            )
            return
        verify_master_key(self._master, bytes(row[0]))

    def data_key(self, owner_id: UUID, create: bool = False) -> bytes | None:
        """The owner's key; a new one if `create` and none was ever made; None
        once it was shredded."""
        with self._lock:
            cached = self._cache.get(owner_id)
            if cached is not None:
                return cached
            row = self._connection.execute(
                "SELECT wrapped, shredded_at FROM data_keys WHERE owner_id = ?",
                (str(owner_id),),
            ).fetchone()
            if row is None:
                if not create:
                    return None
                key = self._new_key(owner_id)
            elif row[1] is not None:
                return None
            else:
                key = self._unwrap(owner_id, bytes(row[0]))
            self._cache[owner_id] = key
            return key

    def shred(self, owner_id: UUID, at: datetime) -> bool:
        """Deletes the owner's key; returns whether there was one to delete."""
        with self._lock:
            self._cache.pop(owner_id, None)
            changed = self._connection.execute(
                "UPDATE data_keys SET wrapped = NULL, shredded_at = ? "
                "WHERE owner_id = ? AND shredded_at IS NULL",
                (at.isoformat(), str(owner_id)),
            ).rowcount
            if not changed:
                self._connection.execute(
                    "INSERT OR IGNORE INTO data_keys VALUES (?, NULL, ?, ?)",
                    (str(owner_id), at.isoformat(), at.isoformat()),
                )
            return bool(changed)

    def flush_shredded(self) -> None:
        """Moves everything into the database file and empties the write-ahead
        log, which would otherwise keep copies of shredded keys for a while."""
        with self._lock:
            self._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def forget(self, owner_id: UUID) -> None:
        """Drops a cached key (another process may have shredded it)."""
        with self._lock:
            self._cache.pop(owner_id, None)

    def shredded_at(self, owner_id: UUID) -> str | None:
        with self._lock:
            row = self._connection.execute(
                "SELECT shredded_at FROM data_keys WHERE owner_id = ?",
                (str(owner_id),),
            ).fetchone()
        return None if row is None else row[0]

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def _new_key(self, owner_id: UUID) -> bytes:
        key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(NONCE_BYTES)
        wrapped = nonce + self._master.encrypt(nonce, key, str(owner_id).encode())
        self._connection.execute(
            "INSERT INTO data_keys VALUES (?, ?, datetime('now'), NULL)",
            (str(owner_id), wrapped),
        )
        return key

    def _unwrap(self, owner_id: UUID, wrapped: bytes) -> bytes:
        return self._master.decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], str(owner_id).encode()
        )
