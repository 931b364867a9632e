"""Real-time pacing with absolute deadlines (docs/protocol.md §5, send lateness).

The frame starting at byte ``offset`` is due at ``t0 + offset / bytes_per_second / speed``:
with constant frames that is ``t0 + k x frame duration``. Deadlines come from ``t0``, never
from the previous send, so a late frame does not push the rest back (no drift); each
frame's lateness is what the harness reports about its own health.

Every adapter sends with the same loop::

    schedule = FrameSchedule(clock(), speed)
    for frame in frames:
        now = clock()
        due = schedule.next(len(frame), now)
        if due > now:
            sleep(due - now)
        ... send, then session.frame_sent(len(frame), due, sent)
"""

from __future__ import annotations

from harness.protocol.audio import BYTES_PER_SECOND


class FrameSchedule:
    """Deadlines of consecutive frames; ``speed=None`` is unpaced (each frame due at once,
    for a live source that paces itself or a deliberate flood)."""

    __slots__ = ("t0", "_offset", "_seconds_per_byte")

    def __init__(self, t0: float, speed: float | None = 1.0) -> None:
        if speed is not None and not speed > 0:
            raise ValueError("speed must be > 0")
        self.t0 = t0
        self._offset = 0
        self._seconds_per_byte = None if speed is None else 1.0 / (BYTES_PER_SECOND * speed)

    def next(self, size: int, now: float) -> float:
        """The deadline of the next frame, of ``size`` bytes; unpaced: ``now``."""
        offset = self._offset
        self._offset = offset + size
        spb = self._seconds_per_byte
        return now if spb is None else self.t0 + offset * spb
