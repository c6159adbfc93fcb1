"""Identities that are derived instead of looked up."""

from uuid import UUID, uuid5

SPRECHZIMMER_NAMESPACE = UUID("5b0c3f7e-8a57-4f3e-9d43-2a1f7c1d6e90")


def derived_id(kind: str, key: str) -> UUID:
    return uuid5(SPRECHZIMMER_NAMESPACE, f"{kind}:{key}")
