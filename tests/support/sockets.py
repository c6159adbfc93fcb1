"""The signaling WebSockets opened as a browser opens them, with or without an
Origin and a login cookie, and what the server answers or how it hangs up."""

from dataclasses import dataclass

import httpx
import orjson
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.support.server import RunningServer

SESSION_COOKIE = "sprechzimmer_session"
SAME_ORIGIN = "same"
TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Closed:
    """How the server hung up: the close code and its reason."""

    code: int
    reason: str


def open_socket(
    server: RunningServer,
    path: str,
    *,
    origin: str | None = SAME_ORIGIN,
    logged_in: httpx.Client | None = None,
) -> ClientConnection:
    """Opens ws://… on the server; use it in a `with` block. `origin` is sent as
    the Origin header (the server's own by default, none if None); `logged_in`
    lends its session cookie, as the practitioner's browser would."""
    headers: dict[str, str] = {}
    if origin == SAME_ORIGIN:
        headers["Origin"] = server.base_url
    elif origin is not None:
        headers["Origin"] = origin
    if logged_in is not None:
        session = logged_in.cookies.get(SESSION_COOKIE)
        assert session, "this client has not logged in"
        headers["Cookie"] = f"{SESSION_COOKIE}={session}"
    return connect(
        server.base_url.replace("http://", "ws://", 1) + path,
        additional_headers=headers,
        open_timeout=TIMEOUT_SECONDS,
        close_timeout=TIMEOUT_SECONDS,
    )


def next_message(socket: ClientConnection) -> dict:
    raw = socket.recv(timeout=TIMEOUT_SECONDS)
    message = orjson.loads(raw)
    assert isinstance(message, dict), raw
    return message


def send(socket: ClientConnection, message: dict) -> None:
    socket.send(orjson.dumps(message).decode())


def closing(socket: ClientConnection) -> Closed:
    """Waits for the server to hang up and tells how; fails if it does not."""
    try:
        while True:
            socket.recv(timeout=TIMEOUT_SECONDS)
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, "the connection broke without a close frame"
        return Closed(closed.rcvd.code, closed.rcvd.reason)
    except TimeoutError:
        raise AssertionError("the server kept the socket open") from None


def refusal(
    server: RunningServer,
    path: str,
    *,
    origin: str | None = SAME_ORIGIN,
    logged_in: httpx.Client | None = None,
) -> Closed:
    """Opens a socket the server is expected to refuse and tells how it did."""
    with open_socket(server, path, origin=origin, logged_in=logged_in) as socket:
        return closing(socket)
