"""Encrypts the personal fields of events under their owner's data key.

Every event passes through the mapper on its way into and out of the store,
whether through the repository, a notification log or a follower, so this is
the one place where personal data is sealed and opened. AES-256-GCM with a
random nonce per value; the associated data binds each value to its event
(originator and version) and field, so a sealed value cannot be moved to
another event or field unnoticed. Once the owner's key is shredded, the fields
read as a neutral placeholder.
"""

import base64
import os
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder

from adapters.storage.key_store import NONCE_BYTES, KeyStore
from domain.personal_data import SHREDDED, personal_fields_of

SEALED = "sealed:v1:"


class PersonalDataMapper(Mapper[UUID]):
    def __init__(self, transcoder: Transcoder, key_store: KeyStore) -> None:
        super().__init__(transcoder=transcoder)
        self.key_store = key_store

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        fields = personal_fields_of(type(domain_event))
        if not fields:
            return super().to_stored_event(domain_event)
        state = dict(vars(domain_event))
        owner = state["originator_id"]
        key = self.key_store.data_key(owner, create=True)
        if key is None:
            raise PersonalDataShredded(owner)
        for field in fields:
            # Nothing is nothing: an empty field stays empty, and reads so
            # after shredding too.
            if state[field]:
                state[field] = _seal(key, state[field], _binding(state, field))
        sealed = object.__new__(type(domain_event))
        object.__setattr__(sealed, "__dict__", state)
        return super().to_stored_event(sealed)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        domain_event = super().to_domain_event(stored_event)
        fields = personal_fields_of(type(domain_event))
        if fields:
            state = vars(domain_event)
            key = self.key_store.data_key(state["originator_id"])
            for field in fields:
                if not state[field]:
                    continue
                state[field] = (
                    _open(key, state[field], _binding(state, field))
                    if key is not None
                    else SHREDDED
                )
        return domain_event


class PersonalDataShredded(Exception):
    """New personal data for an owner whose key was already shredded."""

    def __init__(self, owner: UUID) -> None:
        super().__init__(f"personal data of {owner} was shredded; nothing new is kept")


def _binding(state: dict[str, Any], field: str) -> bytes:
    return f"{state['originator_id']}|{state['originator_version']}|{field}".encode()


def _seal(key: bytes, value: str, binding: bytes) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = nonce + AESGCM(key).encrypt(nonce, value.encode(), binding)
    return SEALED + base64.urlsafe_b64encode(sealed).decode()


def _open(key: bytes, value: str, binding: bytes) -> str:
    if not value.startswith(SEALED):
        raise ValueError("an unsealed personal field in the store")
    sealed = base64.urlsafe_b64decode(value[len(SEALED) :])
    return (
        AESGCM(key)
        .decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], binding)
        .decode()
    )
