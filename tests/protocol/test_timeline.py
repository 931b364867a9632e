"""The timeline's frame log: records read back as written, W(a), and no object per frame."""

from __future__ import annotations

import gc

from harness.protocol.session import ClientSession
from harness.protocol.timeline import FrameRecord


def _session_with_frames(n: int, size: int = 1024) -> ClientSession:
    s = ClientSession()
    s.connect_started(0.0)
    s.opened(0.01)
    for i in range(n):
        s.frame_sent(size, 1.0 + i * 0.032, 1.0 + i * 0.032 + 0.001 * (i % 3))
    return s


def test_frames_read_back_as_records() -> None:
    tl = _session_with_frames(5).timeline
    assert len(tl.frames) == 5
    assert tl.frames[0] == FrameRecord(0, 1024, 1.0, 1.0)
    assert tl.frames[-1] == FrameRecord(4096, 1024, 1.0 + 4 * 0.032, 1.0 + 4 * 0.032 + 0.001)
    assert [f.offset for f in tl.frames] == [0, 1024, 2048, 3072, 4096]
    assert tl.audio_bytes == 5 * 1024
    late = tl.frames.lateness_ms()
    assert [round(v, 6) for v in late] == [0.0, 1.0, 2.0, 0.0, 1.0]


def test_sent_at_maps_bytes_to_their_frame() -> None:
    tl = _session_with_frames(3).timeline
    assert tl.sent_at(0) == 1.0
    assert tl.sent_at(1023) == 1.0
    assert tl.sent_at(1024) == tl.frames[1].sent
    assert tl.sent_at(10**9) == tl.frames[2].sent  # past the end: the last frame
    assert ClientSession().timeline.sent_at(0) is None


def test_frame_log_holds_no_object_per_frame() -> None:
    """Frames are numbers in arrays: the cyclic GC has nothing per frame to walk."""
    frames = _session_with_frames(10_000).timeline.frames
    reachable = [obj for obj in gc.get_referents(frames) if not isinstance(obj, type)]
    assert len(reachable) == 4
    inside = [obj for a in reachable for obj in gc.get_referents(a) if not isinstance(obj, type)]
    assert inside == []
