"""Link tokens for patients: unguessable, personal-data free, never stored.

A token is an HMAC of a random nonce under the server's secret key. The event
log keeps the nonce and the token's SHA-256 hash; the token itself exists only
in the e-mail. Whoever holds the log without the key cannot rebuild a link, and
minting a new nonce (for a new invitation) kills the old link.
"""

import base64
import hashlib
import hmac
import re
import secrets

from domain.access_token import TokenPurpose

TOKEN_LENGTH = 32  # base64url characters: 192 bits
_TOKEN_SHAPE = re.compile(rf"^[A-Za-z0-9_-]{{{TOKEN_LENGTH}}}$")


class LinkTokens:
    def __init__(self, secret_key: bytes) -> None:
        self._secret_key = secret_key

    def mint(self, purpose: TokenPurpose, nonce: str) -> str:
        digest = hmac.new(
            self._secret_key, f"{purpose.value}:{nonce}".encode(), hashlib.sha256
        ).digest()
        return base64.urlsafe_b64encode(digest).decode()[:TOKEN_LENGTH]


def new_nonce() -> str:
    return secrets.token_hex(16)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_well_formed(token: str) -> bool:
    return bool(_TOKEN_SHAPE.match(token))
