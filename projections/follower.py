"""Keeps read models in step with an application's notification log.

The follower pulls what is new, in log order, and hands each event to its read
models; then it tells listeners which events arrived (the web layer pushes
live updates from there). Pulling is cheap when nothing is new, so the web
process pulls right after each command and also on a short timer, which also
picks up events written by other processes.
"""

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import Application

logger = logging.getLogger(__name__)

BATCH_SIZE = 500


class ReadModel(Protocol):
    def apply(self, domain_event: Any) -> None: ...


Listener = Callable[[Sequence[Any]], None]


class LogFollower:
    def __init__(
        self, app: Application[UUID], read_models: Sequence[ReadModel]
    ) -> None:
        self._app = app
        self._read_models = list(read_models)
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self.position = 0

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def pull(self) -> int:
        """Applies everything new; returns how many events that was."""
        with self._lock:
            arrived: list[Any] = []
            while True:
                notifications = self._app.recorder.select_notifications(
                    start=self.position + 1, limit=BATCH_SIZE
                )
                for notification in notifications:
                    domain_event = self._app.mapper.to_domain_event(notification)
                    for read_model in self._read_models:
                        read_model.apply(domain_event)
                    self.position = notification.id
                    arrived.append(domain_event)
                if len(notifications) < BATCH_SIZE:
                    break
        if arrived:
            for listener in self._listeners:
                try:
                    listener(arrived)
                except Exception:
                    logger.exception("A live-update listener failed")
        return len(arrived)


class LogSubscriber:
    """Wakes followers as soon as another process records something, through
    the event store's subscription (PostgreSQL LISTEN/NOTIFY), instead of
    waiting for the next poll. A lost database connection is logged and the
    subscription taken up again where it stopped; the followers' own pulls
    keep them correct in between."""

    RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)

    def __init__(
        self, app: Application[UUID], listeners: Sequence[Callable[[], object]]
    ) -> None:
        self._app = app
        self._listeners = list(listeners)
        self._stopping = threading.Event()
        self._subscription: Any = None
        self._thread = threading.Thread(
            target=self._run, name=f"subscriber-{app.name}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        subscription = self._subscription
        if subscription is not None:
            subscription.stop()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        failures = 0
        position: int | None = None
        while not self._stopping.is_set():
            try:
                if position is None:
                    position = self._app.recorder.max_notification_id() or 0
                with self._app.recorder.subscribe(gt=position) as subscription:
                    self._subscription = subscription
                    if failures:
                        logger.info("Following %s live again", self._app.name)
                        self._wake()
                    failures = 0
                    for notification in subscription:
                        position = notification.id
                        self._wake()
            except Exception as error:
                if self._stopping.is_set():
                    return
                pause = self.RETRY_SECONDS[min(failures, len(self.RETRY_SECONDS) - 1)]
                failures += 1
                logger.warning(
                    "Lost the live feed of %s (%s); retrying in %.1f s",
                    self._app.name,
                    type(error).__name__,
                    pause,
                )
                self._stopping.wait(pause)
            finally:
                self._subscription = None

    def _wake(self) -> None:
        for listener in self._listeners:
            try:
                listener()
            except Exception as error:
                # Mostly the database being away for a moment: one line.
                logger.warning(
                    "A follower failed to catch up (%s); the next poll retries",
                    type(error).__name__,
                )
