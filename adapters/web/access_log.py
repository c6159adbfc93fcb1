"""One log line per request, with link tokens cut out of the path.

Uvicorn's own access log would print join and cancellation tokens; this one
prints the route's shape instead.
"""

import logging
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("sprechzimmer.access")

# Link and setup tokens are runs of 32 URL-safe characters. IDs (UUIDs) are
# the only other such runs we log, and they stay: they name no person.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def redacted(text: str) -> str:
    return _TOKEN.sub(_hide_unless_id, text)


def _hide_unless_id(found: re.Match[str]) -> str:
    return found.group(0) if _UUID.fullmatch(found.group(0)) else "…"


class TokenRedaction(logging.Filter):
    """Cuts tokens out of every log line, whoever writes it (uvicorn logs the
    paths of WebSocket connections on its own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redacted(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


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
