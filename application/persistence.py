"""Where events and keys are stored: SQLite files in the data folder on the
embedded default, or one PostgreSQL database in production mode.

In PostgreSQL each application gets tables named after it
(`consultations_events`, `mailroom_events`, `mailroom_tracking`), created on
first start; the data keys live in `data_keys` beside them.
"""

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

from adapters.storage.key_store import KeyStore, MasterKeyMismatch, SQLiteKeyStore
from application.config import ConfigurationError, Settings

CONNECT_TIMEOUT_SECONDS = 5
# How long a request waits for a pooled connection. eventsourcing tries each
# operation ten times, so a database that is away holds a request about ten
# times this long before it gets its 503; a restart of a few seconds is ridden
# out without an error.
POOL_WAIT_SECONDS = 2


class DatabaseUnreachable(ConfigurationError):
    """The configured PostgreSQL cannot be reached or refuses us."""


def eventsourcing_environment(settings: Settings) -> dict[str, str]:
    if settings.database_url:
        return postgres_environment(settings.database_url, settings.database_pool_size)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "CONSULTATIONS_SQLITE_DBNAME": str(settings.data_dir / "consultations.sqlite"),
        "MAILROOM_SQLITE_DBNAME": str(settings.data_dir / "mailroom.sqlite"),
        "SQLITE_LOCK_TIMEOUT": "10",
    }


def postgres_environment(database_url: str, pool_size: int) -> dict[str, str]:
    """eventsourcing's settings from a postgresql:// URL. A socket folder may
    be given as `?host=/var/run/postgresql`."""
    parts = urlsplit(database_url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or ""])[0]
    dbname = unquote(parts.path.lstrip("/"))
    if not host or not dbname:
        raise ConfigurationError(
            "SPRECHZIMMER_DATABASE_URL must name a host and a database, e.g. "
            "postgresql://sprechzimmer@db.example:5432/sprechzimmer"
        )
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        # Kept open per application; more are opened under load and closed
        # again when idle. A live subscription holds one of them.
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": str(max(8, pool_size * 2)),
        "POSTGRES_CONNECT_TIMEOUT": str(POOL_WAIT_SECONDS),
        # A connection broken by a database restart is noticed and replaced.
        "POSTGRES_PRE_PING": "y",
        "POSTGRES_LOCK_TIMEOUT": "10",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "30",
    }


def open_key_store(settings: Settings) -> KeyStore:
    try:
        if settings.database_url:
            from adapters.storage.postgres_key_store import PostgresKeyStore

            check_database_reachable(settings)
            store = PostgresKeyStore(settings.database_url, settings.master_key)
            _check_shared_keys(store, settings)
            return store
        return SQLiteKeyStore(settings.key_store_path, settings.master_key)
    except MasterKeyMismatch as error:
        if settings.master_key_generated:
            # The key made just now opens nothing; the next start must not
            # mistake it for the configured one.
            (settings.data_dir / "master.key").unlink(missing_ok=True)
            raise ConfigurationError(
                "SPRECHZIMMER_MASTER_KEY is missing: the key store in the database "
                "cannot be opened without the master key it was made with"
            ) from None
        raise ConfigurationError(
            f"SPRECHZIMMER_MASTER_KEY: {error}; refusing to start"
        ) from None


def _check_shared_keys(store: Any, settings: Settings) -> None:
    """Every process of one installation must use the same secret key (links,
    logins) and audit signing key; a process with its own would start and
    hand out links nobody else accepts."""
    for setting, key in (
        ("SECRET_KEY", settings.secret_key),
        ("AUDIT_SIGNING_KEY", settings.audit_signing_key),
    ):
        if not store.agree_on(setting.lower(), key):
            store.close()
            raise ConfigurationError(
                f"SPRECHZIMMER_{setting} differs from the one the other processes "
                "on this database use; set the same value in every process"
            )


def check_database_reachable(settings: Settings) -> None:
    """One plain connection first: its error names the cause (refused, no
    such database, authentication), where a pool would only time out."""
    import psycopg

    try:
        with psycopg.connect(
            settings.database_url or "", connect_timeout=CONNECT_TIMEOUT_SECONDS
        ):
            pass
    except psycopg.Error as error:
        raise describe_unreachable(settings, error) from None


@contextmanager
def tables_created_one_at_a_time(settings: Settings) -> Iterator[None]:
    """Processes started together on a new database would race to create the
    same tables (PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe against
    that); an advisory lock lets one create and the others find them."""
    if not settings.database_url:
        yield
        return
    import psycopg

    with psycopg.connect(
        settings.database_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
    ) as connection:
        connection.execute("SELECT pg_advisory_lock(7247310000)")
        try:
            yield
        finally:
            connection.execute("SELECT pg_advisory_unlock(7247310000)")


def is_database_error(error: Exception) -> bool:
    """Whether the error says the database is unreachable or refuses us
    (psycopg is only imported once production mode asks for it). A conflict
    (two writers at once) is not one: the database answered."""
    import psycopg
    from eventsourcing.persistence import IntegrityError, PersistenceError
    from psycopg_pool import PoolTimeout

    if isinstance(error, IntegrityError | psycopg.IntegrityError):
        return False
    return isinstance(error, PersistenceError | PoolTimeout | psycopg.Error | OSError)


def describe_unreachable(settings: Settings, error: Exception) -> DatabaseUnreachable:
    parts = urlsplit(settings.database_url or "")
    where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"
    reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return DatabaseUnreachable(
        f"PostgreSQL at {where} (SPRECHZIMMER_DATABASE_URL) cannot be reached: "
        f"{reason or type(error).__name__}"
    )


class BackgroundRounds:
    """Lets one process at a time do a round of background work (sending mail,
    shredding) when several share one PostgreSQL database: a round runs only
    while its process holds the round's advisory lock. On the embedded
    default there is one process, and every round runs."""

    LOCK_IDS: ClassVar[dict[str, int]] = {"mail": 7247310101, "retention": 7247310102}

    def __init__(self, database_url: str | None) -> None:
        self._database_url = database_url

    @contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """Yields whether this process may do the round now."""
        if not self._database_url:
            yield True
            return
        import psycopg

        lock_id = self.LOCK_IDS[name]
        with psycopg.connect(
            self._database_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
        ) as connection:
            row = connection.execute(
                "SELECT pg_try_advisory_lock(%s)", (lock_id,)
            ).fetchone()
            mine = bool(row and row[0])
            try:
                yield mine
            finally:
                # A lost connection has already given the lock back.
                if mine and not connection.closed and not connection.broken:
                    with suppress(psycopg.OperationalError):
                        connection.execute("SELECT pg_advisory_unlock(%s)", (lock_id,))
