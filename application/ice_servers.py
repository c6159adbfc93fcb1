"""The ICE servers a browser gets for its calls, with TURN credentials of its own.

The relay is a coturn server with `use-auth-secret`: it shares a secret with
this service and accepts any username of the form "<expiry>:<anything>" whose
password is the base64 HMAC-SHA1 of that username under the secret, until the
expiry passes. So each signaling connection gets a credential that nobody else
holds and that stops working by itself; the server stores nothing. The opaque
part of the username is random: it names no person and carries no link token.
"""

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from application.config import Settings


@dataclass(frozen=True)
class TurnCredential:
    username: str
    credential: str
    expires_at: int


def turn_credential(
    secret: str, now: float, valid_seconds: int, opaque_id: str | None = None
) -> TurnCredential:
    """A credential valid from `now` (Unix time) for `valid_seconds`."""
    expires_at = int(now) + valid_seconds
    username = f"{expires_at}:{opaque_id or secrets.token_hex(8)}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredential(username, base64.b64encode(digest).decode(), expires_at)


def ice_config(settings: Settings, now: float) -> dict[str, Any]:
    """The `ice-config` message for one signaling connection."""
    servers = list(settings.ice_servers)
    if settings.turn_urls:
        credential = turn_credential(
            settings.turn_secret, now, settings.turn_credential_seconds
        )
        servers.append(
            {
                "urls": list(settings.turn_urls),
                "username": credential.username,
                "credential": credential.credential,
            }
        )
    return {
        "type": "ice-config",
        "iceServers": servers,
        "iceTransportPolicy": settings.ice_transport_policy,
    }


class IceConfigRenewal:
    """When a connection needs an `ice-config` message: at once, and again when
    half of the credential's time has passed, so that a patient who waits long
    before being admitted still has a credential the relay accepts. Without a
    TURN server the page's static list is all there is, and nothing is sent."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._renew_at: float | None = None

    def due(self, now: float) -> dict[str, Any] | None:
        settings = self._settings
        if not settings.turn_urls:
            return None
        if self._renew_at is not None and now < self._renew_at:
            return None
        self._renew_at = now + settings.turn_credential_seconds / 2
        return ice_config(settings, now)
