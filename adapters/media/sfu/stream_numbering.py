"""Sequence numbers and timestamps of one forwarded stream.

A subscriber sees one continuous RTP stream per slot, with its own SSRC,
sequence numbers and timestamps, even though what flows through the slot
comes from a publisher whose numbers started elsewhere, and may come from
another publisher later. Numbers are shifted by a constant offset per
binding, so a gap upstream stays a gap downstream (the subscriber asks for
it again, and the SFU can tell which packet it meant).
"""

import random

from aiortc.utils import uint16_add, uint16_gt, uint32_add

SEQUENCE_MODULO = 1 << 16
TIMESTAMP_MODULO = 1 << 32


class StreamNumbering:
    """Offsets from one publisher's numbers to the subscriber's stream."""

    def __init__(self, clock_rate: int) -> None:
        self.clock_rate = clock_rate
        # Lower half, so the first wrap comes late (as aiortc and Chrome do).
        self._last_sequence = random.randrange(SEQUENCE_MODULO // 2)
        self._last_timestamp = random.randrange(TIMESTAMP_MODULO)
        self._last_sent_at: float | None = None
        self._sequence_offset = 0
        self._timestamp_offset = 0
        #: How far the stream has advanced since the binding started.
        self._span = 0
        self.bound = False

    def rebind(self) -> None:
        """Wait for the next ``start``: another publisher, or a fresh start."""
        self.bound = False

    def start(self, sequence: int, timestamp: int, now: float) -> None:
        """Continues the stream with this packet of the (new) publisher."""
        elapsed = 0.0 if self._last_sent_at is None else now - self._last_sent_at
        ticks = max(1, int(elapsed * self.clock_rate))
        first_sequence = uint16_add(self._last_sequence, 1)
        first_timestamp = uint32_add(self._last_timestamp, ticks)
        self._sequence_offset = (first_sequence - sequence) % SEQUENCE_MODULO
        self._timestamp_offset = (first_timestamp - timestamp) % TIMESTAMP_MODULO
        self._span = -1
        self.bound = True

    def rewrite(self, sequence: int, timestamp: int, now: float) -> tuple[int, int]:
        """The subscriber's sequence number and timestamp for this packet, or
        ValueError for a packet older than the start of the binding."""
        if not self.bound:
            raise ValueError("not started")
        out_sequence = (sequence + self._sequence_offset) % SEQUENCE_MODULO
        out_timestamp = (timestamp + self._timestamp_offset) % TIMESTAMP_MODULO
        if not uint16_gt(out_sequence, self._last_sequence):
            if not self._within_span(out_sequence):
                raise ValueError("older than the start of the stream")
        else:
            self._span += (out_sequence - self._last_sequence) % SEQUENCE_MODULO
            self._last_sequence = out_sequence
            self._last_timestamp = out_timestamp
            self._last_sent_at = now
        return out_sequence, out_timestamp

    def publisher_sequence(self, out_sequence: int) -> int | None:
        """The publisher's sequence number behind one the subscriber asks for
        again, or None if this binding never sent it."""
        if not self.bound or uint16_gt(out_sequence, self._last_sequence):
            return None
        if not self._within_span(out_sequence):
            return None
        return (out_sequence - self._sequence_offset) % SEQUENCE_MODULO

    def _within_span(self, out_sequence: int) -> bool:
        """Whether a number not newer than the last one sent belongs to this
        binding (is not from before its start)."""
        behind = (self._last_sequence - out_sequence) % SEQUENCE_MODULO
        return behind <= min(self._span, SEQUENCE_MODULO // 2 - 1)

    def subscriber_timestamp(self, timestamp: int) -> int:
        """A publisher's RTP timestamp in the subscriber's stream (for SRs)."""
        return (timestamp + self._timestamp_offset) % TIMESTAMP_MODULO

    @property
    def last_timestamp(self) -> int:
        return self._last_timestamp
