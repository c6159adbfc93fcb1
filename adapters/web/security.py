"""Protections every response and every form gets."""

import hmac
import re
import secrets
import time
from collections import deque
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 64 * 1024
#: Routes that read their body as a stream and enforce a larger limit themselves.
OWN_BODY_LIMIT_PATHS = frozenset({"/technikcheck/upload"})
_PLAIN_HOST = re.compile(
    r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?"
)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class SecurityHeaders:
    """Adds a strict Content-Security-Policy (no inline script), no-referrer
    (join tokens must never leak through a Referer), and the usual hardening
    headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._by_host: dict[str, list[tuple[bytes, bytes]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = self._headers_for(_header(scope, b"host") or "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += added
                if not any(name == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _headers_for(self, host: str) -> list[tuple[bytes, bytes]]:
        if not _PLAIN_HOST.fullmatch(host):
            host = "localhost"
        headers = self._by_host.get(host)
        if headers is None:
            policy = (
                "default-src 'self'; script-src 'self'; style-src 'self'; "
                "img-src 'self' data: blob:; media-src 'self' blob: mediastream:; "
                f"connect-src 'self' ws://{host} wss://{host}; "
                "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
                "object-src 'none'"
            )
            headers = [
                (b"content-security-policy", policy.encode()),
                (b"referrer-policy", b"no-referrer"),
                (b"x-content-type-options", b"nosniff"),
                (b"x-frame-options", b"DENY"),
                (b"cross-origin-opener-policy", b"same-origin"),
                (
                    b"permissions-policy",
                    b"camera=(self), microphone=(self), geolocation=()",
                ),
            ]
            if len(self._by_host) < 64:
                self._by_host[host] = headers
        return headers


class BodySizeLimit:
    """Refuses request bodies over a size limit before anything parses them."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OWN_BODY_LIMIT_PATHS:
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and (
            not declared.isdigit() or int(declared) > self.max_bytes
        ):
            await _refuse_too_large(send)
            return

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge()
            return message

        try:
            await self.app(scope, counting_receive, send)
        except BodyTooLarge:
            await _refuse_too_large(send)


class BodyTooLarge(Exception):
    pass


async def _refuse_too_large(send: Send) -> None:
    body = "Die gesendeten Daten sind zu groß.".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def csrf_token(connection: HTTPConnection) -> str:
    token = connection.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        connection.session["csrf"] = token
    return token


def csrf_is_valid(request: Request, submitted: str | None) -> bool:
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())


def same_origin(connection: HTTPConnection, public_base_url: str) -> bool:
    """A WebSocket from another site must not ride on our cookies. Behind a
    proxy that ends TLS, the page's origin is the public base URL."""
    origin = connection.headers.get("origin")
    host = connection.headers.get("host")
    if origin is None or host is None:
        return False
    scheme = "https" if connection.url.scheme in ("https", "wss") else "http"
    public = urlsplit(public_base_url)
    return origin in (f"{scheme}://{host}", f"{public.scheme}://{public.netloc}")


class AttemptLimit:
    """Counts attempts per key in a sliding window: failed logins per address
    and per client, connections per video room."""

    def __init__(self, max_attempts: int, window_seconds: float) -> None:
        self.max_attempts = max_attempts
        self.window_seconds = window_seconds
        self._failures: dict[str, deque[float]] = {}

    def exceeded(self, *keys: str) -> bool:
        now = time.monotonic()
        return any(len(self._recent(key, now)) >= self.max_attempts for key in keys)

    def record(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            self._recent(key, now).append(now)

    def clear(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        attempts = self._failures.setdefault(key, deque())
        while attempts and now - attempts[0] > self.window_seconds:
            attempts.popleft()
        if len(self._failures) > 10_000:
            self._failures.clear()
        return attempts
