"""Signaling round trips through real `sprechzimmer serve` processes, for
benchmarks.signaling_round_trip.

Two servers run on one fresh PostgreSQL database and share a data folder, so
that they open the same keys. A practice is set up on the first, its
practitioner logs in there and schedules two appointments; both patients
agree to the terms, wait and are admitted. In one room the practitioner's and
the patient's sockets are on the first server; in the other the patient's is
on the second.
"""

import asyncio
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from benchmarks.common import read_mail
from tests.support.practice import (
    JOIN_LINK,
    PracticeClient,
    csrf_of,
    give_consent,
    soon,
    text_of,
)
from tests.support.production import fresh_database
from tests.support.server import RunningServer

APPOINTMENT_LINK = re.compile(r'href="/termine/([0-9a-f-]{36})"')
ONE_PROCESS = "one serve process"
TWO_PROCESSES = "two serve processes"
# The server closes a socket that sends more than 50 messages a second (after
# a burst of 200). A round trip sends one message on each socket, so one
# round trip per room is started at most every 25 ms, however quick they are.
# The clients send no "ping" message of their own (a browser sends one every
# 20 s); the WebSocket protocol's pings never reach the server's count.
PACE_SECONDS = 0.025


@dataclass
class Appointment:
    id: str
    join_link: str

    @property
    def token(self) -> str:
        return urlsplit(self.join_link).path.rsplit("/", 1)[-1]


class SignalingClient:
    """A browser's signaling socket without the browser. With an `answer`, it
    sends that at once for each candidate it gets, as the patient's side."""

    def __init__(self, socket: ClientConnection, answer: str | None) -> None:
        self.socket = socket
        self.answer = answer
        self.received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(
        cls,
        server: RunningServer,
        path: str,
        cookie: str = "",
        answer: str | None = None,
    ) -> "SignalingClient":
        socket = await connect(
            "ws://" + urlsplit(server.base_url).netloc + path,
            origin=Origin(server.base_url),
            additional_headers={"Cookie": cookie} if cookie else {},
            proxy=None,
        )
        return cls(socket, answer)

    async def _read(self) -> None:
        async for raw in self.socket:
            message = orjson.loads(raw)
            if self.answer is not None and message.get("type") == "candidate":
                await self.socket.send(self.answer)
            else:
                self.received.put_nowait(message)

    async def wait_for(self, kind: str, timeout: float = 10) -> dict[str, Any]:
        try:
            async with asyncio.timeout(timeout):
                while (message := await self.received.get())["type"] != kind:
                    pass
        except TimeoutError:
            raise RuntimeError(
                f"no {kind!r} message within {timeout} s; the socket is "
                f"{self.socket.state.name} (close code {self.socket.close_code}, "
                f"{self.socket.close_reason!r})"
            ) from None
        return message

    def forget_received(self) -> None:
        while not self.received.empty():
            self.received.get_nowait()

    async def close(self) -> None:
        await self.socket.close()
        await asyncio.gather(self._reader, return_exceptions=True)


class Call:
    """A practitioner's and a patient's socket in one room, the call allowed."""

    def __init__(
        self, practitioner: SignalingClient, patient: SignalingClient, message: str
    ) -> None:
        self.practitioner = practitioner
        self.patient = patient
        self.message = message

    async def meet(self) -> None:
        """The first round trip, tried again until both servers know the room."""
        for _ in range(10):
            try:
                await self.round_trip(timeout=1)
                break
            except RuntimeError:
                continue
        else:
            raise RuntimeError("no signal went round in ten tries")

        # A late answer to a lost try would end a measured trip early.
        await asyncio.sleep(0.2)
        self.practitioner.forget_received()

    async def round_trip(self, timeout: float = 10) -> float:
        started = time.perf_counter()
        await self.practitioner.socket.send(self.message)
        await self.practitioner.wait_for("candidate", timeout)
        return time.perf_counter() - started

    async def close(self) -> None:
        await asyncio.gather(self.practitioner.close(), self.patient.close())


def logged_in_practice(server: RunningServer) -> PracticeClient:
    first_start = PracticeClient(server)
    first_start.set_up()
    first_start.http.close()
    practice = PracticeClient(server)
    response = practice.log_in("weber@praxis.test")
    assert response.status_code == 303, response.text
    return practice


def schedule(practice: PracticeClient, number: int) -> Appointment:
    """Schedules an appointment soon and gives the patient's consent."""
    starts = soon()
    known_ids = appointment_ids(practice, starts.date().isoformat())
    known_links = join_links(practice.server.data_dir)
    response = practice.schedule(
        patient_name=f"Patientin Nummer {number}",
        patient_email=f"patientin{number}@example.test",
        starts=starts,
    )
    assert response.status_code == 303, response.text
    (appointment_id,) = appointment_ids(practice, starts.date().isoformat()) - known_ids

    deadline = time.monotonic() + 30
    while not (new_links := join_links(practice.server.data_dir) - known_links):
        if time.monotonic() > deadline:
            raise RuntimeError("the invitation never reached the outbox folder")
        time.sleep(0.1)
    (join_link,) = new_links
    give_consent(join_link)
    return Appointment(appointment_id, join_link)


def appointment_ids(practice: PracticeClient, day: str) -> set[str]:
    calendar = practice.http.get("/", params={"datum": day})
    return set(APPOINTMENT_LINK.findall(calendar.text))


def join_links(data_dir: Path) -> set[str]:
    links = set()
    for path in (data_dir / "outbox").glob("*.eml"):
        found = JOIN_LINK.search(text_of(read_mail(path)))
        if found:
            links.add(found.group(0))
    return links


def admit(practice: PracticeClient, appointment_id: str) -> None:
    response = practice.http.post(
        f"/termine/{appointment_id}/einlassen",
        headers={"X-CSRF-Token": csrf_of(practice.http.get("/"))},
    )
    assert response.json() == {"ok": True}, response.text


async def open_call(
    practice: PracticeClient,
    appointment: Appointment,
    practitioners_server: RunningServer,
    patients_server: RunningServer,
    message: str,
) -> Call:
    patient = await SignalingClient.open(
        patients_server, f"/ws/j/{appointment.token}", answer=message
    )
    await patient.wait_for("waiting")
    cookie = "; ".join(
        f"{name}={value}" for name, value in practice.http.cookies.items()
    )
    practitioner = await SignalingClient.open(
        practitioners_server, f"/ws/termine/{appointment.id}", cookie=cookie
    )
    await asyncio.to_thread(admit, practice, appointment.id)
    await patient.wait_for("admitted")
    await practitioner.wait_for("start-call")
    call = Call(practitioner, patient, message)
    await call.meet()
    return call


async def round_trips(
    calls: dict[str, Call], count: int, warmup: int
) -> dict[str, list[float]]:
    """Takes turns between the rooms, one round trip at a time, so that both
    see the same moments of the machine."""
    seconds: dict[str, list[float]] = {side: [] for side in calls}
    for number in range(warmup + count):
        next_start = time.monotonic() + PACE_SECONDS
        for side, call in calls.items():
            trip = await call.round_trip()
            if number >= warmup:
                seconds[side].append(trip)
        await asyncio.sleep(max(0.0, next_start - time.monotonic()))
    return seconds


async def measure_calls(
    practice: PracticeClient,
    servers: tuple[RunningServer, RunningServer],
    message: str,
    count: int,
    warmup: int,
) -> dict[str, list[float]]:
    first, second = servers
    calls: dict[str, Call] = {}
    try:
        for side, patients_server, number in (
            (ONE_PROCESS, first, 1),
            (TWO_PROCESSES, second, 2),
        ):
            appointment = await asyncio.to_thread(schedule, practice, number)
            calls[side] = await open_call(
                practice, appointment, first, patients_server, message
            )
        return await round_trips(calls, count, warmup)
    finally:
        await asyncio.gather(*(call.close() for call in calls.values()))


def measure_between_servers(
    message: dict[str, Any], count: int, warmup: int
) -> dict[str, list[float]]:
    """Round trip seconds by side: both sockets on one server, or one on each."""
    text = orjson.dumps(message).decode()
    with tempfile.TemporaryDirectory() as folder, fresh_database() as database_url:
        data_dir = Path(folder) / "data"
        servers: list[RunningServer] = []
        try:
            for _ in range(2):
                servers.append(
                    RunningServer(
                        data_dir, SPRECHZIMMER_DATABASE_URL=database_url
                    ).start()
                )
            practice = logged_in_practice(servers[0])
            try:
                return asyncio.run(
                    measure_calls(
                        practice, (servers[0], servers[1]), text, count, warmup
                    )
                )
            finally:
                practice.http.close()
        finally:
            for server in servers:
                server.stop()
