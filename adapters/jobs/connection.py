"""How this service reaches Redis: one place for addresses, timeouts and the
encoding of jobs."""

import dataclasses
from typing import Any
from urllib.parse import urlsplit

import orjson
import redis
from arq.connections import ArqRedis, RedisSettings, create_pool

CONNECT_TIMEOUT_SECONDS = 1


class JobQueueUnavailable(Exception):
    """Redis did not answer; the message says where it was looked for."""


def redis_address(url: str) -> str:
    """Host, port and database of a Redis URL without any password, for
    messages and logs."""
    parts = urlsplit(url)
    database = parts.path.lstrip("/") or "0"
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}/{database}"


def redis_settings(url: str) -> RedisSettings:
    # No retries inside arq: each caller decides whether to wait or carry on.
    return dataclasses.replace(
        RedisSettings.from_dsn(url),
        conn_timeout=CONNECT_TIMEOUT_SECONDS,
        conn_retries=0,
    )


def encode_job(data: dict[str, Any]) -> bytes:
    # JSON, not arq's default pickle: whoever can write to Redis must not be
    # able to run code in a worker. Anything else (an error as a job result)
    # is written as its text.
    return orjson.dumps(data, default=str)


def decode_job(raw: bytes) -> Any:
    return orjson.loads(raw)


async def open_pool(url: str, queue_name: str) -> ArqRedis:
    """A connection pool to Redis; raises JobQueueUnavailable at once when
    Redis does not answer."""
    try:
        return await create_pool(
            redis_settings(url),
            job_serializer=encode_job,
            job_deserializer=decode_job,
            default_queue_name=queue_name,
        )
    except (redis.RedisError, OSError, TimeoutError) as error:
        raise JobQueueUnavailable(
            f"no Redis answers at {redis_address(url)} ({type(error).__name__})"
        ) from None


def check_reachable(url: str) -> None:
    """Raises when Redis does not answer a ping; for the readiness report."""
    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=CONNECT_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    finally:
        client.close()
