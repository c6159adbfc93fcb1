"""The one-time link that creates the practice and its first account.

It is printed when the server starts on an empty store, works once, and
expires after a short time; only its hash is kept, in memory.
"""

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

SETUP_LINK_LIFETIME = timedelta(minutes=30)


class SetupLink:
    def __init__(self) -> None:
        self._token_hash: bytes | None = None
        self._expires_at: datetime | None = None

    def issue(self, at: datetime) -> str:
        token = secrets.token_urlsafe(24)
        self._token_hash = hashlib.sha256(token.encode()).digest()
        self._expires_at = at + SETUP_LINK_LIFETIME
        return token

    def is_valid(self, token: str, at: datetime) -> bool:
        if (
            self._token_hash is None
            or self._expires_at is None
            or at > self._expires_at
        ):
            return False
        offered = hashlib.sha256(token.encode()).digest()
        return hmac.compare_digest(offered, self._token_hash)

    def use_up(self) -> None:
        self._token_hash = None
        self._expires_at = None
