"""A tamper-evident hash chain over the stored events, and its verification.

Each stored event is hashed as stored: position, originator, version, topic
and the state bytes (personal fields are ciphertext there, so shredding a key
changes no byte and leaves the chain intact). Each link's chain hash covers
the chain before it. Signed checkpoints (Ed25519) pin the chain at intervals.
"""

import base64
import hashlib
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from eventsourcing.persistence import ApplicationRecorder, Notification

from adapters.storage.chain_store import ChainStore, Checkpoint, Link
from application.event_log import read_all

GENESIS = bytes(32)
_HEADER = struct.Struct(">QQIII")


def event_hash(notification: Notification) -> bytes:
    # Fixed-size fields first, then lengths: no two events hash the same bytes.
    originator = notification.originator_id
    originator_bytes = (
        originator.bytes if isinstance(originator, UUID) else str(originator).encode()
    )
    topic = notification.topic.encode()
    state = bytes(notification.state)
    return hashlib.sha256(
        _HEADER.pack(
            notification.id,
            notification.originator_version,
            len(originator_bytes),
            len(topic),
            len(state),
        )
        + originator_bytes
        + topic
        + state
    ).digest()


def next_chain_hash(previous: bytes, this_event: bytes) -> bytes:
    return hashlib.sha256(previous + this_event).digest()


class ChainKeeper:
    """Extends the chain with whatever was stored since, and signs a
    checkpoint when the interval has passed."""

    def __init__(
        self,
        logs: dict[str, ApplicationRecorder],
        store: ChainStore,
        signing_key: bytes,
        checkpoint_seconds: float,
    ) -> None:
        self._logs = logs
        self._store = store
        self._signer = Ed25519PrivateKey.from_private_bytes(signing_key)
        self._checkpoint_seconds = checkpoint_seconds
        self._last_checkpoint: dict[str, datetime] = {}

    def seal(self, at: datetime, force_checkpoint: bool = False) -> int:
        sealed = 0
        for name, recorder in self._logs.items():
            sealed += self._extend(name, recorder)
            self._maybe_checkpoint(name, at, force_checkpoint)
        return sealed

    def _extend(self, name: str, recorder: ApplicationRecorder) -> int:
        last = self._store.last_link(name)
        chain = last.chain_hash if last else GENESIS
        start = last.position + 1 if last else 1
        links: list[Link] = []
        for notification in read_all(recorder, start):
            this_event = event_hash(notification)
            chain = next_chain_hash(chain, this_event)
            links.append(Link(notification.id, this_event, chain))
        if links:
            self._store.add(name, links)
        return len(links)

    def _maybe_checkpoint(self, name: str, at: datetime, forced: bool) -> None:
        last_link = self._store.last_link(name)
        if last_link is None:
            return
        previous = self._last_checkpoint.get(name)
        due = previous is None or (at - previous).total_seconds() >= (
            self._checkpoint_seconds
        )
        if not (forced or due):
            return
        if self._store.last_checkpoint_position(name) == last_link.position:
            self._last_checkpoint[name] = at
            return
        unsigned = Checkpoint(
            log=name,
            position=last_link.position,
            chain_hash=last_link.chain_hash.hex(),
            signed_at=at.isoformat(),
            signature="",
        )
        signature = self._signer.sign(unsigned.signed_text())
        self._store.append_checkpoint(
            Checkpoint(
                **{**vars(unsigned), "signature": base64.b64encode(signature).decode()}
            )
        )
        self._last_checkpoint[name] = at


@dataclass
class Finding:
    log: str
    position: int
    problem: str


@dataclass
class LogReport:
    log: str
    events: int = 0
    sealed: int = 0
    unsealed: int = 0
    checkpoints: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.findings


def verify_log(
    name: str,
    notifications: Iterable[Notification],
    links: list[Link],
    checkpoints: list[Checkpoint],
    public_key: Ed25519PublicKey,
) -> LogReport:
    """Checks each stored event against its link, the links against each other,
    and the links against the signed checkpoints; every finding names the
    position of the event concerned."""
    report = LogReport(log=name, sealed=len(links), checkpoints=len(checkpoints))
    linked = {link.position: link for link in links}
    last_linked = links[-1].position if links else 0
    seen: set[int] = set()

    for notification in notifications:
        report.events += 1
        seen.add(notification.id)
        link = linked.get(notification.id)
        if link is None:
            if notification.id <= last_linked:
                report.findings.append(
                    Finding(name, notification.id, "event inserted after sealing")
                )
            else:
                report.unsealed += 1
        elif link.event_hash != event_hash(notification):
            report.findings.append(
                Finding(name, notification.id, "stored event was altered")
            )

    for position in sorted(set(linked) - seen):
        report.findings.append(Finding(name, position, "sealed event is missing"))

    previous = GENESIS
    for link in links:
        if next_chain_hash(previous, link.event_hash) != link.chain_hash:
            report.findings.append(
                Finding(name, link.position, "chain records were altered")
            )
        previous = link.chain_hash

    for checkpoint in checkpoints:
        report.findings.extend(_check_checkpoint(name, checkpoint, linked, public_key))
    if links and not checkpoints:
        report.findings.append(
            Finding(name, links[-1].position, "sealed events but no signed checkpoint")
        )

    report.findings.sort(key=lambda finding: finding.position)
    return report


def _check_checkpoint(
    name: str,
    checkpoint: Checkpoint,
    linked: dict[int, Link],
    public_key: Ed25519PublicKey,
) -> Iterator[Finding]:
    try:
        public_key.verify(
            base64.b64decode(checkpoint.signature), checkpoint.signed_text()
        )
    except (InvalidSignature, ValueError):
        yield Finding(
            name,
            checkpoint.position,
            "checkpoint signature does not match the configured key",
        )
        return
    link = linked.get(checkpoint.position)
    if link is None or link.chain_hash.hex() != checkpoint.chain_hash:
        yield Finding(
            name, checkpoint.position, "log differs from the signed checkpoint"
        )


def public_key_of(signing_key: bytes) -> Ed25519PublicKey:
    return Ed25519PrivateKey.from_private_bytes(signing_key).public_key()
