"""The room bus between web processes that share one PostgreSQL database.

Envelopes travel as NOTIFY payloads on one channel. Each process LISTENs on a
connection of its own and publishes through a second one; publishing through a
single connection keeps a process's envelopes in order (an offer before its
candidates), which a pool of connections would not.

A NOTIFY payload must stay under 8000 bytes. A larger envelope (an offer with
many candidates) is compressed; if it is still too large, it waits in a table
and only its row id travels. Such envelopes are signals addressed to one
process, which deletes the row when it takes it; rows nobody took (the process
died) expire.

When the listening connection breaks (PostgreSQL restarted, a network
failure), the bus reconnects with growing pauses and asks the hub to announce
its members again, since envelopes sent in the meantime are lost.
"""

import asyncio
import base64
import contextlib
import logging
import zlib
from typing import Any

import orjson
import psycopg
from psycopg import sql

from adapters.web.room_bus import RoomListener
from adapters.web.room_envelopes import BadEnvelope, Envelope

logger = logging.getLogger(__name__)

CHANNEL = "sprechzimmer_rooms"
PAYLOAD_TABLE = "sprechzimmer_room_payloads"
# PostgreSQL refuses NOTIFY payloads of 8000 bytes and more.
MAX_NOTIFY_BYTES = 7900
STORED_PAYLOAD_SECONDS = 120
HEARTBEAT_SECONDS = 15.0
CONNECT_TIMEOUT_SECONDS = 5
FIRST_RETRY_SECONDS = 0.2
LAST_RETRY_SECONDS = 10.0
# After a failed publish, envelopes are dropped for this long instead of each
# waiting for a connection attempt.
PUBLISH_PAUSE_SECONDS = 1.0


class PostgresRoomBus:
    def __init__(
        self,
        database_url: str,
        channel: str = CHANNEL,
        first_retry_seconds: float = FIRST_RETRY_SECONDS,
    ) -> None:
        self._database_url = database_url
        self._channel = channel
        self._first_retry_seconds = first_retry_seconds
        self._listener: RoomListener | None = None
        self._listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._publisher: psycopg.AsyncConnection[Any] | None = None
        self._publish_lock = asyncio.Lock()
        self._publish_paused_until = 0.0
        self._lost_envelopes = False
        self._table_ready = False
        self.reconnects = 0
        self.listener_backend_pid: int | None = None

    def attach(self, listener: RoomListener) -> None:
        self._listener = listener

    async def start(self, wait_seconds: float = CONNECT_TIMEOUT_SECONDS) -> None:
        """Starts listening; waits a little for the first connection, but a
        database that is down only delays the bus, it does not stop the app."""
        self._task = asyncio.create_task(self._listen_forever())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), wait_seconds)

    async def wait_until_listening(self, timeout: float) -> None:
        await asyncio.wait_for(self._listening.wait(), timeout)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        async with self._publish_lock:
            if self._publisher is not None:
                await self._publisher.close()
                self._publisher = None

    # Publishing

    async def publish(self, envelope: Envelope) -> None:
        loop = asyncio.get_running_loop()
        async with self._publish_lock:
            if loop.time() < self._publish_paused_until:
                self._lost_envelopes = True
                logger.debug("Room bus paused; dropped a %s envelope", envelope.kind)
                return
            try:
                await self._send_on_a_live_connection(envelope)
            except (psycopg.Error, OSError) as error:
                self._publish_paused_until = loop.time() + PUBLISH_PAUSE_SECONDS
                self._lost_envelopes = True
                await self._drop_publisher()
                logger.warning(
                    "Room bus could not publish a %s envelope (%s)",
                    envelope.kind,
                    type(error).__name__,
                )
                return
        if self._lost_envelopes and self._listening.is_set():
            # The database is back while the listener never noticed it gone.
            self._lost_envelopes = False
            self._resync_soon()

    async def _send_on_a_live_connection(self, envelope: Envelope) -> None:
        reused = self._publisher is not None
        try:
            await self._send(envelope)
        except psycopg.OperationalError:
            if not reused:
                raise
            # The connection may have died with a restart since its last use.
            await self._drop_publisher()
            await self._send(envelope)

    async def _send(self, envelope: Envelope) -> None:
        connection = await self._publishing_connection()
        frame = notify_payload(envelope)
        if frame is not None:
            await connection.execute(
                "SELECT pg_notify(%s, %s)", (self._channel, frame.decode())
            )
            return
        await self._ensure_payload_table(connection)
        await connection.execute(
            sql.SQL(
                "WITH stored AS ("
                " INSERT INTO {table} (payload) VALUES (%s) RETURNING id)"
                " SELECT pg_notify(%s, json_build_object("
                " 'origin', %s::text, 'target', %s::text, 'stored', id)::text)"
                " FROM stored"
            ).format(table=sql.Identifier(PAYLOAD_TABLE)),
            (
                zlib.compress(envelope.to_bytes()),
                self._channel,
                envelope.origin,
                envelope.target,
            ),
        )
        await connection.execute(
            sql.SQL(
                "DELETE FROM {table} WHERE created_at < now() - make_interval("
                "secs => %s)"
            ).format(table=sql.Identifier(PAYLOAD_TABLE)),
            (STORED_PAYLOAD_SECONDS,),
        )

    async def _publishing_connection(self) -> psycopg.AsyncConnection[Any]:
        if self._publisher is None or self._publisher.closed:
            self._publisher = await _connect(self._database_url)
        return self._publisher

    async def _drop_publisher(self) -> None:
        if self._publisher is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                await self._publisher.close()
            self._publisher = None

    async def _ensure_payload_table(
        self, connection: psycopg.AsyncConnection[Any]
    ) -> None:
        if self._table_ready:
            return
        await connection.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {table} ("
                " id bigserial PRIMARY KEY,"
                " payload bytea NOT NULL,"
                " created_at timestamptz NOT NULL DEFAULT now())"
            ).format(table=sql.Identifier(PAYLOAD_TABLE))
        )
        self._table_ready = True

    async def _take_stored(self, row_id: int) -> bytes | None:
        async with self._publish_lock:
            try:
                connection = await self._publishing_connection()
                cursor = await connection.execute(
                    sql.SQL(
                        "DELETE FROM {table} WHERE id = %s RETURNING payload"
                    ).format(table=sql.Identifier(PAYLOAD_TABLE)),
                    (row_id,),
                )
                row = await cursor.fetchone()
            except (psycopg.Error, OSError) as error:
                await self._drop_publisher()
                logger.warning(
                    "Room bus could not fetch a stored envelope (%s)",
                    type(error).__name__,
                )
                return None
        return zlib.decompress(row[0]) if row else None

    # Listening

    async def _listen_forever(self) -> None:
        pause = self._first_retry_seconds
        while True:
            try:
                async with await _connect(self._database_url) as connection:
                    await connection.execute(
                        sql.SQL("LISTEN {}").format(sql.Identifier(self._channel))
                    )
                    self.listener_backend_pid = connection.info.backend_pid
                    self._listening.set()
                    pause = self._first_retry_seconds
                    if self.reconnects:
                        logger.info("Room bus listening again")
                    await self._resync()
                    await self._listen(connection)
            except (psycopg.Error, OSError) as error:
                logger.warning(
                    "Room bus lost PostgreSQL (%s); reconnecting in %.1f s",
                    type(error).__name__,
                    pause,
                )
            except Exception:
                logger.exception("Room bus listener failed; restarting it")
            self._listening.clear()
            self.reconnects += 1
            await asyncio.sleep(pause)
            pause = min(pause * 2, LAST_RETRY_SECONDS)

    async def _listen(self, connection: psycopg.AsyncConnection[Any]) -> None:
        while True:
            async for notification in connection.notifies(timeout=HEARTBEAT_SECONDS):
                await self._deliver(notification.payload)
            # A silent network may hide a dead connection; asking reveals it.
            await connection.execute("SELECT 1")

    async def _deliver(self, payload: str) -> None:
        listener = self._listener
        if listener is None:
            return
        try:
            frame = orjson.loads(payload)
            if frame.get("origin") == listener.process_id:
                return
            if frame.get("target") not in (None, listener.process_id):
                return
            envelope = await self._unpack(frame)
        except (orjson.JSONDecodeError, BadEnvelope, ValueError, zlib.error) as error:
            logger.warning("Room bus dropped an unreadable envelope: %s", error)
            return
        if envelope is None:
            return
        try:
            await listener.receive(envelope)
        except Exception:
            logger.exception("Room hub failed on a %s envelope", envelope.kind)

    async def _unpack(self, frame: dict[str, Any]) -> Envelope | None:
        if "envelope" in frame:
            return Envelope.from_dict(frame["envelope"])
        if "zlib" in frame:
            return Envelope.from_bytes(zlib.decompress(base64.b64decode(frame["zlib"])))
        if "stored" in frame:
            raw = await self._take_stored(int(frame["stored"]))
            if raw is None:
                logger.warning("Room bus missed a stored envelope; it had expired")
                return None
            return Envelope.from_bytes(raw)
        raise BadEnvelope("frame without an envelope")

    async def _resync(self) -> None:
        self._lost_envelopes = False
        if self._listener is not None:
            await self._listener.resync()

    def _resync_soon(self) -> None:
        task = asyncio.create_task(self._resync())
        task.add_done_callback(_log_failure)


def notify_payload(envelope: Envelope) -> bytes | None:
    """The NOTIFY payload, or None when the envelope has to be stored."""
    raw = envelope.to_bytes()
    header: dict[str, Any] = {"origin": envelope.origin, "target": envelope.target}
    frame = orjson.dumps({**header, "envelope": orjson.Fragment(raw)})
    if len(frame) <= MAX_NOTIFY_BYTES:
        return frame
    packed = base64.b64encode(zlib.compress(raw)).decode()
    frame = orjson.dumps({**header, "zlib": packed})
    if len(frame) <= MAX_NOTIFY_BYTES:
        return frame
    return None


async def _connect(database_url: str) -> psycopg.AsyncConnection[Any]:
    return await psycopg.AsyncConnection.connect(
        database_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
    )


def _log_failure(task: "asyncio.Task[None]") -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("Room bus resync failed", exc_info=task.exception())
