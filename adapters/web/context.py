"""What the web handlers share: the runtime, live connections, and helpers."""

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from adapters.web.join_pages import JoinPages
from adapters.web.practice_feed import PracticeFeed
from adapters.web.room_bus import room_bus_for
from adapters.web.rooms import RoomHub
from adapters.web.security import AttemptLimit
from adapters.web.setup_link import SetupLink
from adapters.web.sfu_rooms import PooledSfu
from application.runtime import Runtime
from domain.patient_seat import PatientSeat
from projections.calendar import CalendarEntry

if TYPE_CHECKING:
    from adapters.media.echo_peer import EchoPeers

T = TypeVar("T")


class WebContext:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        settings = runtime.settings
        self.sfu = PooledSfu(
            workers=settings.sfu_workers,
            ice_servers=settings.ice_servers,
            loopback_only=settings.sfu_loopback_only,
        )
        self.rooms = RoomHub(
            room_bus_for(settings), sfu=self.sfu, sfu_threshold=settings.sfu_threshold
        )
        self.feed = PracticeFeed()
        self.login_throttle = AttemptLimit(max_attempts=5, window_seconds=300)
        self.room_connects = AttemptLimit(max_attempts=30, window_seconds=60)
        self.setup_link = SetupLink()
        self.join_pages = JoinPages(runtime)
        self._echo_peers: EchoPeers | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.mail_wanted = asyncio.Event()
        runtime.calendar_follower.add_listener(self._on_calendar_events)
        runtime.mail_queue_follower.add_listener(lambda _events: self._wake_mailer())

    @property
    def echo_peers(self) -> "EchoPeers":
        """The tech check's test-call peers. aiortc is loaded with the first
        test call, not at start: it doubles the idle server's memory."""
        if self._echo_peers is None:
            from adapters.media.echo_peer import EchoLimits, EchoPeers

            settings = self.runtime.settings
            self._echo_peers = EchoPeers(
                settings.ice_servers,
                EchoLimits(
                    max_sessions=settings.tech_check_calls,
                    max_seconds=settings.tech_check_call_seconds,
                    loopback_only=settings.tech_check_loopback_only,
                ),
            )
        return self._echo_peers

    async def start(self) -> None:
        await self.rooms.bus.start()

    async def close(self) -> None:
        await self.rooms.close()
        await self.rooms.bus.close()
        await self.sfu.close()
        if self._echo_peers is not None:
            await self._echo_peers.close()

    def now(self) -> datetime:
        return self.runtime.clock()

    async def command(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Runs an application command in a worker thread (eventsourcing is
        synchronous), then brings the read models up to date."""
        result = await run_in_threadpool(function, *args, **kwargs)
        await run_in_threadpool(self.runtime.calendar_follower.pull)
        await run_in_threadpool(self.runtime.mail_queue_follower.pull)
        return result

    async def query(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await run_in_threadpool(function, *args, **kwargs)

    def waiting_list(self, practitioner_id: UUID) -> list[dict[str, Any]]:
        return [
            _waiting_entry(entry, seat)
            for entry in self.runtime.calendar.waiting_for(practitioner_id)
            for seat in entry.waiting_patients
        ]

    def _on_calendar_events(self, events: Sequence[Any]) -> None:
        # Called in whichever thread pulled; hand over to the event loop.
        practitioners: set[UUID] = set()
        for domain_event in events:
            appointment_id = self.runtime.calendar.appointment_of(domain_event)
            entry = (
                self.runtime.calendar.entry(appointment_id) if appointment_id else None
            )
            if entry is not None:
                practitioners.add(entry.practitioner_id)
        if self.loop is None or not practitioners:
            return
        for practitioner_id in practitioners:
            asyncio.run_coroutine_threadsafe(
                self.publish_waiting_list(practitioner_id), self.loop
            )

    async def publish_waiting_list(self, practitioner_id: UUID) -> None:
        await self.feed.publish(
            practitioner_id,
            {"type": "waiting-room", "waiting": self.waiting_list(practitioner_id)},
        )

    def _wake_mailer(self) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.mail_wanted.set)


def _waiting_entry(entry: CalendarEntry, seat: PatientSeat) -> dict[str, Any]:
    return {
        "appointmentId": str(entry.appointment_id),
        "patientId": seat.patient_id,
        "patientName": seat.name,
        "group": entry.is_group,
        "startsAt": entry.starts_at.isoformat(),
        "waitingSince": entry.waiting_since.isoformat()
        if entry.waiting_since
        else None,
        "url": f"/termine/{entry.appointment_id}",
    }


def web_context(connection: HTTPConnection) -> WebContext:
    context: WebContext = connection.app.state.context
    return context


def logged_in_practitioner(connection: HTTPConnection) -> UUID | None:
    raw = connection.session.get("practitioner_id")
    try:
        return UUID(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
