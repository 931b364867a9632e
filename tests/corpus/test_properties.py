"""Conversion invariants, for any rate, channel count, length and loudness (hypothesis)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.audio.convert import float_to_s16le, read_pcm16k
from harness.corpus.importer import ImportOptions, convert_one

RATES = st.sampled_from([8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 96000])
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def signals(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    """Bursts of tone and noise (some louder than full scale) between silences."""
    rate = draw(RATES)
    channels = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        silence = draw(st.integers(0, 800)) * rate // 1000
        burst = draw(st.integers(1, 900)) * rate // 1000
        gain = draw(st.floats(0.0, 3.0))
        t = np.arange(burst) / rate
        tone = np.sin(2 * np.pi * draw(st.floats(100, 3000)) * t) * gain
        parts += [np.zeros(silence), tone + rng.standard_normal(burst) * gain * 0.1]
    mono = np.concatenate(parts)
    if len(mono) == 0:
        mono = np.zeros(1)
    multi = np.stack([mono * (1 - 0.2 * c) for c in range(channels)], axis=1)
    return multi, rate


def _write(samples: np.ndarray, rate: int, folder: Path) -> Path:
    path = folder / "in.wav"
    sf.write(str(path), samples, rate, subtype="FLOAT")  # float keeps > full-scale values
    return path


@SETTINGS
@given(signals())
def test_conversion_keeps_duration_and_never_wraps(signal: tuple[np.ndarray, int]) -> None:
    samples, rate = signal
    with tempfile.TemporaryDirectory() as tmp:
        pcm = read_pcm16k(_write(samples, rate, Path(tmp)))
    out = np.frombuffer(pcm, dtype="<i2")
    expected = len(samples) * 16000 / rate
    assert abs(len(out) - expected) <= 1, f"{len(samples)} samples at {rate} Hz -> {len(out)}"
    # Saturation, not wrap-around: where the input is far beyond full scale, the output
    # sits at the rail with the input's sign.
    mono = samples.mean(axis=1)
    if rate == 16000:
        loud = np.abs(mono) > 1.5
        assert np.all(np.sign(out[loud]) == np.sign(mono[loud]))
        assert np.all(np.abs(out[loud].astype(np.int32)) >= 32767)


@SETTINGS
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=0, max_size=200))
def test_float_to_s16le_clips(values: list[float]) -> None:
    out = np.frombuffer(float_to_s16le(np.array(values)), dtype="<i2").astype(np.int64)
    expected = np.clip(np.rint(np.array(values, dtype=np.float64) * 32768), -32768, 32767)
    assert out.tolist() == expected.astype(np.int64).tolist()


@SETTINGS
@given(signals())
def test_import_segments_are_inside_and_ordered(signal: tuple[np.ndarray, int]) -> None:
    samples, rate = signal
    with tempfile.TemporaryDirectory() as tmp:
        src = _write(samples, rate, Path(tmp))
        duration, segments = convert_one(src, Path(tmp) / "out.pcm", ImportOptions(lang="en"))
        assert duration == (Path(tmp) / "out.pcm").stat().st_size / 32
    prev_off = 0.0
    for on, off in segments:
        assert prev_off <= on < off <= duration, segments
        prev_off = off
