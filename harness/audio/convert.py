"""Decode any audio file into the API's format: 16 kHz mono s16le PCM, in blocks.

Raw PCM (``.pcm``, ``.raw``, or any file when ``raw_rate`` is given) is read as s16le;
everything else goes through soundfile (libsndfile: WAV, FLAC, OGG, MP3, ...). Channels
are averaged, the rate converted with soxr's streaming resampler (a real band-limited
resampler, chosen over scipy's polyphase filter because it streams block by block with
state and is what sox itself uses), and floats clipped before the int16 conversion so
loud input saturates instead of wrapping around. Memory stays bounded by the block size,
whatever the file's length.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from harness.errors import UsageError
from harness.protocol.audio import SAMPLE_RATE, SAMPLE_WIDTH

RAW_SUFFIXES = frozenset({".pcm", ".raw", ".s16le"})
#: Samples per block read from the input (about 4 s at 16 kHz).
BLOCK_FRAMES = 65_536


def is_raw(path: Path) -> bool:
    return path.suffix.lower() in RAW_SUFFIXES


def float_to_s16le(samples: np.ndarray) -> bytes:
    """Float samples in [-1, 1] to s16le bytes; out-of-range values saturate."""
    scaled = np.rint(np.asarray(samples, dtype=np.float64) * 32768.0)
    return np.clip(scaled, -32768, 32767).astype("<i2").tobytes()


def _check_readable(path: Path) -> None:
    try:
        with path.open("rb") as fh:
            head = fh.read(1)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not an audio file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not head:
        raise UsageError(f"{path}: file is empty")


def iter_pcm16k(
    path: str | Path,
    *,
    raw_rate: int | None = None,
    raw_channels: int = 1,
    block_frames: int = BLOCK_FRAMES,
) -> Iterator[bytes]:
    """Yield the file's audio as 16 kHz mono s16le bytes, block by block.

    Raises ``UsageError`` (one line, naming the file) for a missing, unreadable, empty or
    undecodable file. The check happens before the first block is yielded.
    """
    p = Path(path)
    _check_readable(p)
    if raw_rate is not None or is_raw(p):
        return _iter_raw(p, raw_rate or SAMPLE_RATE, raw_channels, block_frames)
    try:
        info = sf.info(str(p))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        reason = _unsupported_wav_width(p) or _sf_reason(exc)
        raise UsageError(f"{p}: cannot decode audio: {reason}") from None
    if info.frames == 0:
        raise UsageError(f"{p}: contains no audio samples")
    return _iter_soundfile(p, info.samplerate, block_frames)


#: WAVE format tags: integer PCM, IEEE float, WAVE_FORMAT_EXTENSIBLE.
_WAV_PCM, _WAV_FLOAT, _WAV_EXTENSIBLE = 1, 3, 0xFFFE
_WAV_WIDTHS = {_WAV_PCM: (8, 16, 24, 32), _WAV_FLOAT: (32, 64)}


def _unsupported_wav_width(p: Path) -> str | None:
    """Why libsndfile refused a WAV file, when it is the sample width ("40-bit PCM")."""
    try:
        with p.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return None
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(head):
        chunk, size = head[pos : pos + 4], int.from_bytes(head[pos + 4 : pos + 8], "little")
        if chunk == b"fmt " and pos + 24 <= len(head):
            tag = int.from_bytes(head[pos + 8 : pos + 10], "little")
            bits = int.from_bytes(head[pos + 22 : pos + 24], "little")
            if tag == _WAV_EXTENSIBLE and pos + 34 <= len(head):
                tag = int.from_bytes(head[pos + 32 : pos + 34], "little")  # sub-format GUID
            widths = _WAV_WIDTHS.get(tag)
            if widths is not None and bits not in widths:
                kind = "PCM" if tag == _WAV_PCM else "float"
                allowed = ", ".join(str(w) for w in widths)
                return f"unsupported sample width {bits}-bit {kind} (supported: {allowed}-bit)"
            return None
        pos += 8 + size + (size & 1)
    return None


def _sf_reason(exc: Exception) -> str:
    return str(exc).splitlines()[-1].strip() if str(exc) else type(exc).__name__


def _iter_raw(p: Path, rate: int, channels: int, block_frames: int) -> Iterator[bytes]:
    size = p.stat().st_size
    if size % (SAMPLE_WIDTH * channels):
        raise UsageError(
            f"{p}: {size} bytes is not a whole number of {channels}-channel 16-bit samples"
        )
    if rate == SAMPLE_RATE and channels == 1:
        return _copy_blocks(p, block_frames * SAMPLE_WIDTH)

    def convert() -> Iterator[bytes]:
        with p.open("rb") as fh:
            blocks = iter(lambda: fh.read(block_frames * SAMPLE_WIDTH * channels), b"")
            floats = (
                np.frombuffer(b, dtype="<i2").reshape(-1, channels).astype(np.float32) / 32768.0
                for b in blocks
            )
            yield from _resample_blocks(floats, rate)

    return convert()


def _copy_blocks(p: Path, block_bytes: int) -> Iterator[bytes]:
    with p.open("rb") as fh:
        while block := fh.read(block_bytes):
            yield block


def _iter_soundfile(p: Path, rate: int, block_frames: int) -> Iterator[bytes]:
    def gen() -> Iterator[bytes]:
        try:
            blocks = sf.blocks(str(p), blocksize=block_frames, dtype="float32", always_2d=True)
            yield from _resample_blocks(blocks, rate)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise UsageError(f"{p}: cannot decode audio: {_sf_reason(exc)}") from None

    return gen()


def _resample_blocks(blocks: Iterable[np.ndarray], rate: int) -> Iterator[bytes]:
    """Downmix (channel mean) and resample 2-D float blocks to 16 kHz s16le."""
    resampler = (
        None if rate == SAMPLE_RATE else soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32")
    )
    for block in blocks:
        mono = block.mean(axis=1, dtype=np.float32) if block.ndim == 2 else block
        if resampler is not None:
            mono = resampler.resample_chunk(mono, last=False)
        if len(mono):
            yield float_to_s16le(mono)
    if resampler is not None:
        tail = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        if len(tail):
            yield float_to_s16le(tail)


def read_pcm16k(path: str | Path, **kwargs: object) -> bytes:
    """The whole file as 16 kHz mono s16le bytes (for short files: tests, corpora)."""
    return b"".join(iter_pcm16k(path, **kwargs))  # type: ignore[arg-type]


def reframe(blocks: Iterable[bytes], frame_bytes: int) -> Iterator[bytes]:
    """Re-cut a stream of blocks into frames of ``frame_bytes`` (the last may be shorter)."""
    if frame_bytes <= 0 or frame_bytes % SAMPLE_WIDTH:
        raise UsageError(f"frame size must be a positive even number of bytes, got {frame_bytes}")
    buf = bytearray()
    for block in blocks:
        buf += block
        while len(buf) >= frame_bytes:
            yield bytes(buf[:frame_bytes])
            del buf[:frame_bytes]
    if buf:
        yield bytes(buf)
