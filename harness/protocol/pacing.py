"""Real-time pacing with absolute deadlines (PROTOCOL.md §5, send lateness).

The frame starting at byte ``offset`` is due at ``t0 + offset / bytes_per_second / speed``:
with constant frames that is ``t0 + k x frame duration``. Deadlines come from ``t0``, never
from the previous send, so a late frame does not push the rest back (no drift); each
frame's lateness is what the harness reports about its own health.
"""

from __future__ import annotations

from harness.protocol.audio import BYTES_PER_SECOND


class Pacer:
    def __init__(self, t0: float, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError("speed must be > 0")
        self.t0 = t0
        self._seconds_per_byte = 1.0 / (BYTES_PER_SECOND * speed)

    def due(self, offset: int) -> float:
        """When the frame starting at byte ``offset`` of the stream is due."""
        return self.t0 + offset * self._seconds_per_byte
