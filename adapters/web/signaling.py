"""WebSocket endpoints: the call's signaling and the practitioner's live feed."""

import logging
import time
from uuid import UUID

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from adapters.web.context import WebContext, logged_in_practitioner, web_context
from adapters.web.rooms import (
    CLOSE_BAD_MESSAGE,
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_TOO_MANY,
    Participant,
)
from adapters.web.security import same_origin
from adapters.web.signal_messages import BadSignal, parse_signal
from application.ice_servers import IceConfigRenewal
from domain.access_token import TokenPurpose
from domain.appointment import Appointment
from domain.errors import DomainError
from domain.video_session import PRACTITIONER, Role

logger = logging.getLogger(__name__)

MAX_CLOSE_REASON_BYTES = 123
TOO_MANY_CONNECTS = "Zu viele Verbindungsversuche. Bitte warten Sie eine Minute."


class MessageRate:
    """A token bucket: bursts of ICE candidates pass, floods do not."""

    def __init__(self, per_second: float = 50, burst: float = 200) -> None:
        self.per_second = per_second
        self.burst = burst
        self.tokens = burst
        self.updated = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(
            self.burst, self.tokens + (now - self.updated) * self.per_second
        )
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def close_reason(text: str) -> str:
    encoded = text.encode()
    if len(encoded) <= MAX_CLOSE_REASON_BYTES:
        return text
    return encoded[: MAX_CLOSE_REASON_BYTES - 3].decode(errors="ignore") + "..."


async def refuse(websocket: WebSocket, code: int, reason: str) -> None:
    await websocket.accept()
    await websocket.close(code=code, reason=close_reason(reason))


async def patient_signaling(websocket: WebSocket) -> None:
    context = web_context(websocket)
    if not same_origin(websocket, context.runtime.settings.base_url):
        await refuse(websocket, CLOSE_FORBIDDEN, "Ungültige Herkunft.")
        return
    consultations = context.runtime.consultations
    try:
        appointment, seat = await context.query(
            consultations.seat_by_token,
            websocket.path_params["token"],
            TokenPurpose.JOIN,
        )
        if _too_many_connects(context, appointment.id, seat.patient_id):
            await refuse(websocket, CLOSE_TOO_MANY, TOO_MANY_CONNECTS)
            return
        participant = Participant(
            websocket,
            Role.PATIENT,
            appointment.id,
            connection_id=context.runtime.new_connection_id(),
            patient_id=seat.patient_id,
            group=appointment.is_group,
        )
        await context.command(
            consultations.patient_enters_room,
            appointment.id,
            participant.connection_id,
            context.now(),
            seat.patient_id,
        )
    except DomainError as error:
        await refuse(websocket, _close_code(error), error.message)
        return

    await websocket.accept()
    logger.info("Patient connected to room %s", appointment.id)
    await _serve(context, participant, appointment)


async def practitioner_signaling(websocket: WebSocket) -> None:
    context = web_context(websocket)
    practitioner_id = await _practitioner_or_refuse(context, websocket)
    if practitioner_id is None:
        return
    consultations = context.runtime.consultations
    try:
        appointment_id = UUID(websocket.path_params["appointment_id"])
    except ValueError:
        await refuse(websocket, CLOSE_NOT_FOUND, "Diesen Termin gibt es nicht.")
        return
    try:
        appointment = await context.query(
            consultations.practitioners_appointment, practitioner_id, appointment_id
        )
        if appointment.is_finished:
            await refuse(websocket, CLOSE_FORBIDDEN, "Dieser Termin ist beendet.")
            return
        if _too_many_connects(context, appointment.id, PRACTITIONER):
            await refuse(websocket, CLOSE_TOO_MANY, TOO_MANY_CONNECTS)
            return
        participant = Participant(
            websocket,
            Role.PRACTITIONER,
            appointment.id,
            connection_id=context.runtime.new_connection_id(),
            group=appointment.is_group,
        )
        await context.command(
            consultations.practitioner_enters_room,
            practitioner_id,
            appointment.id,
            participant.connection_id,
            context.now(),
        )
    except DomainError as error:
        await refuse(websocket, _close_code(error), error.message)
        return

    await websocket.accept()
    logger.info("Practitioner connected to room %s", appointment.id)
    await _serve(context, participant, appointment)


async def _serve(
    context: WebContext, participant: Participant, appointment: Appointment
) -> None:
    """Serves an accepted socket of a participant whose joining is recorded."""
    websocket = participant.websocket
    rate = MessageRate()
    # Before anything that starts a call, so the first connection has them.
    ice_config = IceConfigRenewal(context.runtime.settings)
    await _send_ice_config(participant, ice_config)
    admitted = tuple(
        seat.patient_id
        for seat in appointment.taking_part
        if seat.admitted_at is not None
    )
    seated = await context.rooms.enter(
        participant,
        call_allowed=appointment.admitted_at is not None,
        admitted=admitted if appointment.is_group else None,
    )
    reason = "left" if seated else "room full"
    try:
        while seated:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            if not rate.allow():
                reason = "flooding"
                await websocket.close(CLOSE_TOO_MANY, "Zu viele Nachrichten.")
                break
            raw = message.get("text") or message.get("bytes") or b""
            try:
                signal = parse_signal(raw)
            except BadSignal as error:
                reason = "bad message"
                await websocket.close(CLOSE_BAD_MESSAGE, close_reason(str(error)))
                break
            if signal["type"] == "ping":
                await participant.send({"type": "pong"})
                await _send_ice_config(participant, ice_config)
            else:
                await context.rooms.relay(participant, signal)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        # A member refused for a full room is recorded as gone at once.
        if await context.rooms.leave(participant) or not seated:
            await context.command(
                context.runtime.consultations.participant_leaves,
                participant.appointment_id,
                participant.key,
                participant.connection_id,
                reason,
                context.now(),
            )
        logger.info(
            "%s left room %s", participant.role.value, participant.appointment_id
        )


async def _send_ice_config(participant: Participant, renewal: IceConfigRenewal) -> None:
    # The relay checks a credential's expiry against the wall clock.
    message = renewal.due(time.time())
    if message is not None:
        await participant.send(message)
        logger.debug(
            "Sent ICE servers to the %s in room %s",
            participant.role.value,
            participant.appointment_id,
        )


async def practice_feed(websocket: WebSocket) -> None:
    context = web_context(websocket)
    practitioner_id = await _practitioner_or_refuse(context, websocket)
    if practitioner_id is None:
        return
    await websocket.accept()
    context.feed.subscribe(practitioner_id, websocket)
    try:
        await context.publish_waiting_list(practitioner_id)
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        context.feed.unsubscribe(practitioner_id, websocket)


def _too_many_connects(
    context: WebContext, appointment_id: UUID, participant: str
) -> bool:
    """Reloading now and then is normal; hundreds of connections a minute are
    not, and each one is recorded."""
    key = f"{appointment_id}:{participant}"
    if context.room_connects.exceeded(key):
        return True
    context.room_connects.record(key)
    return False


async def _practitioner_or_refuse(
    context: WebContext, websocket: WebSocket
) -> UUID | None:
    if not same_origin(websocket, context.runtime.settings.base_url):
        await refuse(websocket, CLOSE_FORBIDDEN, "Ungültige Herkunft.")
        return None
    practitioner_id = logged_in_practitioner(websocket)
    if practitioner_id is None:
        await refuse(websocket, CLOSE_FORBIDDEN, "Bitte melden Sie sich an.")
    return practitioner_id


def _close_code(error: DomainError) -> int:
    return CLOSE_NOT_FOUND if error.status_code == 404 else CLOSE_FORBIDDEN


routes = [
    WebSocketRoute("/ws/j/{token}", patient_signaling),
    WebSocketRoute("/ws/termine/{appointment_id}", practitioner_signaling),
    WebSocketRoute("/ws/praxis", practice_feed),
]
