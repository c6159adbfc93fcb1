"""How often the SFU passes keyframe requests on to a publisher.

Every subscriber that loses a picture asks for a keyframe (PLI or FIR), and
so does every slot that starts showing a publisher. Keyframes are large; one
per ``interval`` serves all who asked in that time, since it reaches all of
them.
"""

KEYFRAME_REQUEST_INTERVAL_SECONDS = 0.5


class KeyframeRequestThrottle:
    def __init__(self, interval: float = KEYFRAME_REQUEST_INTERVAL_SECONDS) -> None:
        self.interval = interval
        self.passed = 0
        self.held_back = 0
        self._last_passed_at: float | None = None

    def allow(self, now: float) -> bool:
        """Whether a request arriving ``now`` goes on to the publisher."""
        if self._last_passed_at is not None and now - self._last_passed_at < (
            self.interval
        ):
            self.held_back += 1
            return False
        self._last_passed_at = now
        self.passed += 1
        return True
