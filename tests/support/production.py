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
