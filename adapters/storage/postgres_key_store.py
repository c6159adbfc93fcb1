"""Data keys in PostgreSQL, for production mode with several processes.

The same contract as the SQLite key store: each key is stored wrapped
(AES-256-GCM) under the master key, and shredding deletes the wrapped key for
good. PostgreSQL keeps a deleted row's bytes in the table file until it is
vacuumed, so every round of shredding ends with a VACUUM of the key table.
"""

import hmac
import os
import threading
from datetime import datetime
from uuid import UUID

import psycopg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg_pool import ConnectionPool

from adapters.storage.key_store import (
    KEY_BYTES,
    NONCE_BYTES,
    MasterKeyMismatch,
    seal_master_key_check,
    verify_master_key,
)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS data_keys ("
    " owner_id uuid PRIMARY KEY,"
    " wrapped bytea,"
    " created_at timestamptz NOT NULL DEFAULT now(),"
    " shredded_at timestamptz)",
    "CREATE TABLE IF NOT EXISTS key_store_meta (name text PRIMARY KEY, value bytea)",
)


class PostgresKeyStore:
    def __init__(self, conninfo: str, master_key: bytes, pool_size: int = 3) -> None:
        if len(master_key) != KEY_BYTES:
            raise MasterKeyMismatch("the master key must be 32 bytes")
        self._master = AESGCM(master_key)
        self._lock = threading.Lock()
        self._cache: dict[UUID, bytes] = {}
        self._pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "connect_timeout": 2},
            timeout=2,
            # A connection broken by a database restart is replaced, not used.
            check=ConnectionPool.check_connection,
            open=False,
        )
        self._pool.open(wait=True, timeout=10)
        # Several processes may start at once: one creates, the others wait.
        with self._pool.connection() as connection, connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(7247310001)")
            for statement in _SCHEMA:
                connection.execute(statement)
            self._check_master_key(connection)

    def _check_master_key(self, connection: psycopg.Connection) -> None:
        row = connection.execute(
            "SELECT value FROM key_store_meta WHERE name = 'check'"
        ).fetchone()
        if row is None:
            connection.execute(
                "INSERT INTO key_store_meta (name, value) VALUES ('check', %s)",
                (seal_master_key_check(self._master),),
            )
            return
        verify_master_key(self._master, bytes(row[0]))

    def agree_on(self, name: str, key: bytes) -> bool:
        """Whether `key` is the one this installation's first process used
        under `name` (only a fingerprint is kept); the first one stays."""
        fingerprint = hmac.new(key, b"sprechzimmer installation key", "sha256")
        with self._pool.connection() as connection:
            connection.execute(
                "INSERT INTO key_store_meta (name, value) VALUES (%s, %s) "
                "ON CONFLICT (name) DO NOTHING",
                (f"fingerprint:{name}", fingerprint.digest()),
            )
            row = connection.execute(
                "SELECT value FROM key_store_meta WHERE name = %s",
                (f"fingerprint:{name}",),
            ).fetchone()
        return row is not None and hmac.compare_digest(
            bytes(row[0]), fingerprint.digest()
        )

    def data_key(self, owner_id: UUID, create: bool = False) -> bytes | None:
        """The owner's key; a new one if `create` and none was ever made; None
        once it was shredded."""
        with self._lock:
            cached = self._cache.get(owner_id)
        if cached is not None:
            return cached
        with self._pool.connection() as connection:
            row = None
            if create:
                # Usually a new owner: one round trip makes and returns the
                # key; if another process made one first, that one stays.
                row = connection.execute(
                    "INSERT INTO data_keys (owner_id, wrapped) VALUES (%s, %s) "
                    "ON CONFLICT (owner_id) DO NOTHING "
                    "RETURNING wrapped, shredded_at",
                    (owner_id, self._wrap(owner_id, AESGCM.generate_key(256))),
                ).fetchone()
            if row is None:
                row = self._select(connection, owner_id)
            if row is None:
                return None
        wrapped, shredded_at = row
        if shredded_at is not None or wrapped is None:
            return None
        key = self._unwrap(owner_id, bytes(wrapped))
        with self._lock:
            self._cache[owner_id] = key
        return key

    def shred(self, owner_id: UUID, at: datetime) -> bool:
        """Deletes the owner's key; returns whether there was one to delete."""
        with self._lock:
            self._cache.pop(owner_id, None)
        with self._pool.connection() as connection:
            changed = connection.execute(
                "UPDATE data_keys SET wrapped = NULL, shredded_at = %s "
                "WHERE owner_id = %s AND shredded_at IS NULL",
                (at, owner_id),
            ).rowcount
            if not changed:
                connection.execute(
                    "INSERT INTO data_keys (owner_id, wrapped, created_at, "
                    "shredded_at) VALUES (%s, NULL, %s, %s) "
                    "ON CONFLICT (owner_id) DO NOTHING",
                    (owner_id, at, at),
                )
        return bool(changed)

    def flush_shredded(self) -> None:
        """Frees the table space that still held the shredded keys' bytes."""
        with self._pool.connection() as connection:
            connection.execute("VACUUM data_keys")

    def forget(self, owner_id: UUID) -> None:
        """Drops a cached key (another process may have shredded it)."""
        with self._lock:
            self._cache.pop(owner_id, None)

    def shredded_at(self, owner_id: UUID) -> str | None:
        with self._pool.connection() as connection:
            row = connection.execute(
                "SELECT shredded_at FROM data_keys WHERE owner_id = %s", (owner_id,)
            ).fetchone()
        return None if row is None or row[0] is None else row[0].isoformat()

    def check(self) -> None:
        with self._pool.connection() as connection:
            connection.execute("SELECT 1")

    def close(self) -> None:
        self._pool.close()

    @staticmethod
    def _select(
        connection: psycopg.Connection, owner_id: UUID
    ) -> tuple[bytes | None, datetime | None] | None:
        row = connection.execute(
            "SELECT wrapped, shredded_at FROM data_keys WHERE owner_id = %s",
            (owner_id,),
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def _wrap(self, owner_id: UUID, key: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._master.encrypt(nonce, key, str(owner_id).encode())

    def _unwrap(self, owner_id: UUID, wrapped: bytes) -> bytes:
        return self._master.decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], str(owner_id).encode()
        )
