"""Fixtures for the corpus tests: speech made with espeak-ng, laid out with known silence."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from harness.corpus import default_corpus_dir

HAVE_ESPEAK = shutil.which("espeak-ng") is not None
needs_espeak = pytest.mark.skipif(not HAVE_ESPEAK, reason="espeak-ng is not installed")

#: Where the test files put speech: (sentence, silence before it in ms).
LAYOUT = (("the weather is nice today", 1000), ("we are going to the market", 1500))
TAIL_MS = 1000


@pytest.fixture(scope="session")
def en_corpus() -> Path:
    return default_corpus_dir("en")


@pytest.fixture(scope="session")
def th_corpus() -> Path:
    return default_corpus_dir("th")


@pytest.fixture(scope="session")
def speech_16k() -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Two espeak-ng sentences at 16 kHz (float) with known silence, and where they are."""
    if not HAVE_ESPEAK:
        pytest.skip("espeak-ng is not installed: cannot make test speech")
    from harness.corpus.synth import VOICES, synthesize_sentence

    voice, wpm = VOICES["en"]
    parts: list[np.ndarray] = []
    segments: list[tuple[float, float]] = []
    pos = 0
    with tempfile.TemporaryDirectory() as tmp:
        for text, gap_ms in LAYOUT:
            piece = synthesize_sentence(text, voice, wpm, Path(tmp)).samples
            gap = gap_ms * 16
            parts += [np.zeros(gap), piece]
            start = pos + gap
            segments.append((start / 16, (start + len(piece)) / 16))
            pos = start + len(piece)
    parts.append(np.zeros(TAIL_MS * 16))
    return np.concatenate(parts), segments


WriteAudio = Callable[..., Path]


@pytest.fixture
def write_audio(tmp_path: Path) -> WriteAudio:
    """Write 16 kHz float samples as a file at another rate and channel count."""

    def write(
        samples: np.ndarray,
        name: str,
        rate: int = 16000,
        channels: int = 1,
        subtype: str | None = None,
    ) -> Path:
        x = samples if rate == 16000 else soxr.resample(samples, 16000, rate)
        if channels > 1:
            # Different gains per channel: the downmix must average them, not pick one.
            x = np.stack([x * (1.0 - 0.3 * c / channels) for c in range(channels)], axis=1)
        path = tmp_path / name
        sf.write(str(path), x, rate, subtype=subtype)
        return path

    return write
