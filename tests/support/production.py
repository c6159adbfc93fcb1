"""The production parts the tests use: PostgreSQL and Redis on this machine.

The servers are the ones already running here (PostgreSQL on 127.0.0.1:5432
with trust auth, Redis on 127.0.0.1:6379). Each test gets a database of its
own, created fresh and dropped afterwards, and a job queue name of its own.
`SPRECHZIMMER_TEST_MODE=production` makes the whole suite run in production
mode; the tests of production-only behaviour use these helpers directly.
"""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from tests.support.required import missing_part

ADMIN_DATABASE_URL = os.environ.get(
    "SPRECHZIMMER_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("SPRECHZIMMER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def production_mode() -> bool:
    return os.environ.get("SPRECHZIMMER_TEST_MODE", "").lower() == "production"


def require_postgres() -> None:
    import psycopg

    try:
        with psycopg.connect(ADMIN_DATABASE_URL, connect_timeout=3):
            pass
    except psycopg.Error as error:
        missing_part(f"PostgreSQL at {_without_password(ADMIN_DATABASE_URL)}: {error}")


def require_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        missing_part(f"Redis at {REDIS_URL}: {error}")
    finally:
        client.close()


@contextmanager
def fresh_database() -> Iterator[str]:
    """Creates an empty database, yields its URL, and drops it afterwards."""
    import psycopg

    require_postgres()
    name = f"sprechzimmer_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url(name)
    finally:
        with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url(name: str) -> str:
    parts = urlsplit(ADMIN_DATABASE_URL)
    return urlunsplit(parts._replace(path="/" + name))


def fresh_job_queue() -> str:
    return f"sprechzimmer:test:{uuid.uuid4().hex[:12]}"


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def runtime_environment(data_dir: object) -> dict[str, str]:
    """The settings a test gives a Runtime it builds itself: the data folder,
    and in production mode the test's database."""
    environment = {"SPRECHZIMMER_DATA_DIR": str(data_dir)}
    database = os.environ.get("SPRECHZIMMER_DATABASE_URL")
    if database:
        environment["SPRECHZIMMER_DATABASE_URL"] = database
    return environment


def database_files_content(url: str) -> bytes:
    """The raw bytes of every file holding the database's own tables, their
    indexes and TOAST, as PostgreSQL wrote them to disk (after a checkpoint),
    dead rows included: what someone with the disk would find."""
    from pathlib import Path

    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CHECKPOINT")
        data_directory = connection.execute("SHOW data_directory").fetchone()
        rows = connection.execute(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname IN ('public', 'pg_toast') "
            "AND c.relkind IN ('r', 't', 'i') "
            "AND pg_relation_filepath(c.oid) IS NOT NULL"
        ).fetchall()
    assert data_directory is not None
    base = Path(data_directory[0])
    content = bytearray()
    for (relative,) in rows:
        for path in sorted(base.glob(relative + "*")):
            content += path.read_bytes()
    return bytes(content)


def tamper_with_event(offset: int) -> int:
    """Flips one byte of the consultations log's event at `offset` (0-based,
    in log order) in the test's PostgreSQL database; returns its position."""
    import psycopg

    with psycopg.connect(os.environ["SPRECHZIMMER_DATABASE_URL"]) as connection:
        row = connection.execute(
            "SELECT notification_id, state FROM consultations_events "
            "ORDER BY notification_id LIMIT 1 OFFSET %s",
            (offset,),
        ).fetchone()
        assert row is not None
        position, state = row
        tampered = bytearray(state)
        tampered[len(tampered) // 2] ^= 0x01
        connection.execute(
            "UPDATE consultations_events SET state = %s WHERE notification_id = %s",
            (bytes(tampered), position),
        )
    return int(position)


def delete_event(position: int) -> None:
    import psycopg

    with psycopg.connect(os.environ["SPRECHZIMMER_DATABASE_URL"]) as connection:
        connection.execute(
            "DELETE FROM consultations_events WHERE notification_id = %s", (position,)
        )


def drop_job_queue(queue: str, url: str = REDIS_URL) -> None:
    """Deletes what a test's own job queue left in Redis (its sorted set and
    its workers' health key); the job keys expire by themselves."""
    import redis

    assert queue.startswith("sprechzimmer:test:"), "only a test's own queue"
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.delete(queue, queue + ":health-check")
    except redis.RedisError:
        pass
    finally:
        client.close()
