"""The last packets of one published stream, for answering retransmission
requests of every subscriber from the SFU instead of the publisher."""

from aiortc.rtp import RtpPacket

HISTORY_SIZE = 512  # about two seconds of a 1 Mbit/s video stream


class PacketHistory:
    def __init__(self, size: int = HISTORY_SIZE) -> None:
        self._size = size
        self._packets: list[RtpPacket | None] = [None] * size

    def add(self, packet: RtpPacket) -> bool:
        """Stores the packet; False if it was there already (a duplicate)."""
        index = packet.sequence_number % self._size
        stored = self._packets[index]
        if stored is not None and stored.sequence_number == packet.sequence_number:
            return False
        self._packets[index] = packet
        return True

    def get(self, sequence_number: int) -> RtpPacket | None:
        stored = self._packets[sequence_number % self._size]
        if stored is not None and stored.sequence_number == sequence_number:
            return stored
        return None
