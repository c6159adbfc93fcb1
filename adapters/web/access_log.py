"""One log line per request, with link tokens cut out of the path.

Uvicorn's own access log would print join and cancellation tokens; this one
prints the route's shape instead.
"""

import logging
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("sprechzimmer.access")

_SECRET_SEGMENT = re.compile(r"^(/(?:ws/)?(?:j|c|einrichtung))/[^/]+")


def redacted(path: str) -> str:
    return _SECRET_SEGMENT.sub(r"\1/…", path)


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def remember_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "websocket.accept":
                status = 101
            await send(message)

        try:
            await self.app(scope, receive, remember_status)
        finally:
            logger.info(
                "%s %s %s %.0fms",
                scope.get("method", "WS"),
                redacted(scope["path"]),
                status or "-",
                (time.perf_counter() - started) * 1000,
            )
