"""Audio sources for a streaming session: a file (any format) or the microphone.

Both yield 16 kHz mono s16le frames. While frames go out, a ``SpeechSegmenter`` watches
them, so latencies can be measured against local speech segments when no corpus manifest
gives them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from types import ModuleType

from harness.audio.convert import iter_pcm16k, reframe
from harness.audio.vad import SpeechSegmenter, SpeechStart
from harness.errors import UsageError
from harness.protocol.audio import SAMPLE_RATE, SAMPLE_WIDTH


class SegmentWatcher:
    """Collects speech segments of the audio that passes through it."""

    def __init__(self) -> None:
        self._vad = SpeechSegmenter()
        self._open: float | None = None
        self.segments: list[tuple[float, float]] = []

    def watch(self, frame: bytes) -> bytes:
        for ev in self._vad.feed(frame):
            self._record(ev)
        return frame

    def finish(self) -> list[tuple[float, float]]:
        for ev in self._vad.flush():
            self._record(ev)
        return self.segments

    def _record(self, ev: object) -> None:
        if isinstance(ev, SpeechStart):
            self._open = ev.at_ms
        elif self._open is not None:
            self.segments.append((self._open, ev.at_ms))  # type: ignore[attr-defined]
            self._open = None


def file_frames(path: str | Path, frame_bytes: int, raw_rate: int | None = None) -> Iterator[bytes]:
    """Frames of a file; decoding problems surface as ``UsageError`` before any is sent."""
    blocks = iter_pcm16k(path, raw_rate=raw_rate)
    first = next(blocks, b"")
    if not first:
        raise UsageError(f"{path}: contains no audio samples")

    def chained() -> Iterable[bytes]:
        yield first
        yield from blocks

    return reframe(chained(), frame_bytes)


async def mic_frames(frame_bytes: int, device: str | int | None = None) -> AsyncIterator[bytes]:
    """Frames captured live from the microphone (needs the ``mic`` extra)."""
    sd = import_sounddevice()
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=256)

    def callback(indata: object, frames: int, time: object, status: object) -> None:
        data = bytes(indata)  # type: ignore[call-overload]
        loop.call_soon_threadsafe(_put_nowait, queue, data)

    try:
        stream = sd.RawInputStream(
            samplerate=SAMPLE_RATE,
            channels=1,
            dtype="int16",
            blocksize=frame_bytes // SAMPLE_WIDTH,
            device=device,
            callback=callback,
        )
    except Exception as exc:  # PortAudioError, ValueError for a bad device
        raise UsageError(f"cannot open the microphone: {exc}") from None
    with stream:
        while True:
            yield await queue.get()


def _put_nowait(queue: asyncio.Queue[bytes], data: bytes) -> None:
    if not queue.full():  # a stalled consumer drops audio rather than growing without bound
        queue.put_nowait(data)


def import_sounddevice() -> ModuleType:
    try:
        import sounddevice
    except ImportError:
        raise UsageError(
            "microphone support needs sounddevice: pip install 'asrx-harness[mic]'"
        ) from None
    except OSError as exc:  # sounddevice is there but the PortAudio library is not
        raise UsageError(
            f"microphone support needs PortAudio (apt-get install libportaudio2): {exc}"
        ) from None
    return sounddevice
