"""What a browser may send over the signaling socket, checked strictly.

Anything else (not JSON, unknown types, extra or mistyped fields) is refused,
so a socket cannot be used to smuggle data to the other side or to address
another room: a message has no room field; its room is the socket's own. In a
group call a message may name its receiver (`to`); it never names its sender,
which the server adds from the socket's own identity.

In an SFU call a browser sends its offer to the server (`sfu-offer`, larger
than a peer's: it offers a receiving slot per other member), and passes the
end-to-end encryption's keys to one other member (`e2ee-public-key`, the
public half of its ECDH key pair; `e2ee-key`, its sending key sealed for that
member). The server checks their shape and relays them; it cannot open them.
"""

import re
from typing import Any

import orjson

MAX_SDP_LENGTH = 48 * 1024
MAX_SFU_SDP_LENGTH = 128 * 1024
MAX_PUBLIC_KEY_LENGTH = 128
MAX_SEALED_KEY_LENGTH = 128
MAX_IV_LENGTH = 24
MAX_CANDIDATE_LENGTH = 1024
MAX_SHORT_TEXT = 64
_PARTICIPANT = re.compile(r"practitioner|p[1-9]")
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


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


def _sfu_offer(message: dict[str, Any]) -> None:
    _only(message, "sdp")
    _text(message.get("sdp"), MAX_SFU_SDP_LENGTH)
    if not message["sdp"].startswith("v=0"):
        raise BadSignal("Sitzungsbeschreibung ist ungültig.")


def _addressed(message: dict[str, Any], *allowed: str) -> None:
    _only(message, "to", *allowed)
    if "to" not in message:
        raise BadSignal("Nachricht nennt keinen Empfänger.")


def _base64(value: Any, limit: int) -> None:
    _text(value, limit)
    if not _BASE64.fullmatch(value):
        raise BadSignal("Schlüssel ist ungültig.")


def _public_key(message: dict[str, Any]) -> None:
    _addressed(message, "publicKey")
    _base64(message.get("publicKey"), MAX_PUBLIC_KEY_LENGTH)


def _sealed_key(message: dict[str, Any]) -> None:
    _addressed(message, "keyId", "iv", "wrapped")
    key_id = message.get("keyId")
    if (
        not isinstance(key_id, int)
        or isinstance(key_id, bool)
        or not 0 <= key_id < 2**32
    ):
        raise BadSignal("Schlüssel ist ungültig.")
    _base64(message.get("iv"), MAX_IV_LENGTH)
    _base64(message.get("wrapped"), MAX_SEALED_KEY_LENGTH)


def _bare(message: dict[str, Any]) -> None:
    _only(message)


def _mute(message: dict[str, Any]) -> None:
    _addressed(message)


_CHECKS = {
    "offer": _description,
    "answer": _description,
    "candidate": _candidate,
    "media-state": _media_state,
    "hangup": _bare,
    "ping": _bare,
    "mute": _mute,
    "sfu-offer": _sfu_offer,
    "e2ee-public-key": _public_key,
    "e2ee-key": _sealed_key,
}
