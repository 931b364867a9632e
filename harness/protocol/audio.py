"""The audio format the API takes (docs/protocol.md §2) and frame arithmetic on it."""

from __future__ import annotations

SAMPLE_RATE = 16_000
SAMPLE_WIDTH = 2  # bytes, signed 16-bit little-endian
CHANNELS = 1
BYTES_PER_SECOND = SAMPLE_RATE * SAMPLE_WIDTH * CHANNELS
BYTES_PER_MS = BYTES_PER_SECOND // 1000  # 32
#: The public file example sends 1024-byte frames: 32 ms of audio.
DEFAULT_FRAME_BYTES = 1024


def bytes_to_ms(n: int) -> float:
    """Duration in milliseconds of ``n`` bytes of PCM."""
    return n * 1000.0 / BYTES_PER_SECOND


def ms_to_bytes(ms: float) -> int:
    """Byte offset of audio position ``ms``, aligned down to a whole sample."""
    n = int(ms * BYTES_PER_MS)
    return n - (n % SAMPLE_WIDTH)


def frame_duration_s(frame_bytes: int) -> float:
    """Real-time duration of a frame of ``frame_bytes`` bytes, in seconds."""
    return frame_bytes / BYTES_PER_SECOND


def split_frames(pcm: bytes, frame_bytes: int) -> list[bytes]:
    """``pcm`` cut into frames of ``frame_bytes`` (any size, odd ones included; the last may
    be shorter). For audio already in memory; ``harness.audio.convert.reframe`` streams."""
    return [pcm[i : i + frame_bytes] for i in range(0, len(pcm), frame_bytes)]
