"""Finding the first packet of a VP8 keyframe without looking at the picture.

Only two things are read: the VP8 payload descriptor (RFC 7741 section 4.2),
which the sender's packetizer writes around the encoded frame, and the lowest
bit of the first byte of the frame (the P bit of the VP8 payload header,
RFC 6386 section 9.1). Browsers that encrypt frames end to end leave both in
the clear; everything after them may be ciphertext.
"""

EXTENDED = 0x80
START_OF_PARTITION = 0x10
PARTITION_ID = 0x0F
HAS_PICTURE_ID = 0x80
HAS_TL0PICIDX = 0x40
HAS_TID = 0x20
HAS_KEYIDX = 0x10
LONG_PICTURE_ID = 0x80
INTER_FRAME = 0x01


def descriptor_length(payload: bytes) -> int | None:
    """The VP8 payload descriptor's length in bytes, or None if truncated."""
    if not payload:
        return None
    length = 1
    if payload[0] & EXTENDED:
        if len(payload) < 2:
            return None
        extension = payload[1]
        length = 2
        if extension & HAS_PICTURE_ID:
            if len(payload) < 3:
                return None
            length += 2 if payload[2] & LONG_PICTURE_ID else 1
        if extension & HAS_TL0PICIDX:
            length += 1
        if extension & (HAS_TID | HAS_KEYIDX):
            length += 1
    return length if length <= len(payload) else None


def starts_keyframe(payload: bytes) -> bool:
    """Whether this RTP payload is the first packet of a VP8 keyframe."""
    length = descriptor_length(payload)
    if length is None or length >= len(payload):
        return False
    first = payload[0]
    if not first & START_OF_PARTITION or first & PARTITION_ID:
        return False
    return not payload[length] & INTER_FRAME
