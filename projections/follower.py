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
