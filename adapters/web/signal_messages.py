"""What a browser may send over the signaling socket, checked strictly.

Anything else (not JSON, unknown types, extra or mistyped fields) is refused,
so a socket cannot be used to smuggle data to the other side or to address
another room: a message has no room field; its room is the socket's own. In a
group call a message may name its receiver (`to`); it never names its sender,
which the server adds from the socket's own identity.
"""

import re
from typing import Any

import orjson

MAX_SDP_LENGTH = 48 * 1024
MAX_CANDIDATE_LENGTH = 1024
MAX_SHORT_TEXT = 64
_PARTICIPANT = re.compile(r"practitioner|p[1-9]")


class BadSignal(Exception):
    """A message the server refuses; the text is the socket's close reason."""


def parse_signal(raw: str | bytes) -> dict[str, Any]:
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadSignal("Nachricht ist kein gültiges JSON.") from None
    if not isinstance(message, dict):
        raise BadSignal("Nachricht muss ein JSON-Objekt sein.")

    kind = message.get("type")
    check = _CHECKS.get(kind) if isinstance(kind, str) else None
    if check is None:
        raise BadSignal("Unbekannter Nachrichtentyp.")
    check(message)
    return message


def _only(message: dict[str, Any], *allowed: str) -> None:
    extra = set(message) - {"type", *allowed}
    if extra:
        raise BadSignal("Nachricht enthält unerlaubte Felder.")
    receiver = message.get("to")
    if "to" in message and (
        not isinstance(receiver, str) or not _PARTICIPANT.fullmatch(receiver)
    ):
        raise BadSignal("Nachricht nennt einen ungültigen Empfänger.")


def _text(value: Any, limit: int, nullable: bool = False) -> None:
    if value is None and nullable:
        return
    if not isinstance(value, str) or len(value) > limit:
        raise BadSignal("Nachricht enthält ein ungültiges Feld.")


def _description(message: dict[str, Any]) -> None:
    _only(message, "sdp", "to")
    _text(message.get("sdp"), MAX_SDP_LENGTH)
    if not message["sdp"].startswith("v=0"):
        raise BadSignal("Sitzungsbeschreibung ist ungültig.")


def _candidate(message: dict[str, Any]) -> None:
    _only(message, "candidate", "to")
    candidate = message.get("candidate")
    if candidate is None:
        return
    if not isinstance(candidate, dict):
        raise BadSignal("Verbindungskandidat ist ungültig.")
    if set(candidate) - {"candidate", "sdpMid", "sdpMLineIndex", "usernameFragment"}:
        raise BadSignal("Verbindungskandidat enthält unerlaubte Felder.")
    _text(candidate.get("candidate"), MAX_CANDIDATE_LENGTH)
    _text(candidate.get("sdpMid"), MAX_SHORT_TEXT, nullable=True)
    _text(candidate.get("usernameFragment"), MAX_SHORT_TEXT, nullable=True)
    index = candidate.get("sdpMLineIndex")
    if index is not None and (
        not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 64
    ):
        raise BadSignal("Verbindungskandidat ist ungültig.")


def _media_state(message: dict[str, Any]) -> None:
    _only(message, "audio", "video", "to")
    if not isinstance(message.get("audio"), bool) or not isinstance(
        message.get("video"), bool
    ):
        raise BadSignal("Medienstatus ist ungültig.")


def _bare(message: dict[str, Any]) -> None:
    _only(message)


def _mute(message: dict[str, Any]) -> None:
    _only(message, "to")
    if "to" not in message:
        raise BadSignal("Nachricht nennt keinen Empfänger.")


_CHECKS = {
    "offer": _description,
    "answer": _description,
    "candidate": _candidate,
    "media-state": _media_state,
    "hangup": _bare,
    "ping": _bare,
    "mute": _mute,
}
