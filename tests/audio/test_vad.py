import math
from pathlib import Path

import numpy as np
import pytest

from harness.audio.vad import SpeechEnd, SpeechSegmenter, SpeechStart, find_segments, rms_dbfs
from harness.corpus import load_corpus

CORPUS = Path(__file__).resolve().parents[2] / "harness" / "corpora" / "en-synth"


@pytest.fixture(scope="module")
def single():  # type: ignore[no-untyped-def]
    utt = load_corpus(CORPUS).get("en-single-01")
    return utt, utt.pcm()


def test_segments_match_the_manifest(single) -> None:  # type: ignore[no-untyped-def]
    utt, pcm = single
    ((on, off),) = find_segments(pcm)
    assert abs(on - utt.segments[0][0]) <= 60 and abs(off - utt.segments[0][1]) <= 60


def test_short_trailing_silence_is_not_speech(single) -> None:  # type: ignore[no-untyped-def]
    """Audio ending 300 ms after the speech (less than the 600 ms pause) ends at the speech."""
    utt, pcm = single
    cut = pcm[: int((utt.segments[0][1] + 300) * 32)]
    ((_, off),) = find_segments(cut)
    assert abs(off - utt.segments[0][1]) <= 60


def test_any_block_sizes_give_the_same_events(single) -> None:  # type: ignore[no-untyped-def]
    _, pcm = single
    whole = SpeechSegmenter()
    expected = whole.feed(pcm) + whole.flush()
    pieces = SpeechSegmenter()
    got = []
    for i in range(0, len(pcm), 777 * 2):
        got += pieces.feed(pcm[i : i + 777 * 2])
    got += pieces.flush()
    assert got == expected
    assert [type(e) for e in got] == [SpeechStart, SpeechEnd]


def test_silence_and_faint_noise_are_not_speech() -> None:
    assert find_segments(b"\0" * 32_000 * 2) == []
    rng = np.random.default_rng(1)
    hiss = rng.normal(0, 30, 16_000 * 2).astype("<i2").tobytes()  # about -60 dBFS
    assert find_segments(hiss) == []


def test_rms_dbfs_of_known_signals() -> None:
    full_square = np.array([32767, -32768] * 240, dtype="<i2").tobytes()
    assert rms_dbfs(full_square) == pytest.approx(0.0, abs=0.001)
    t = np.arange(480) / 16000
    sine = (16384 * np.sin(2 * np.pi * 1000 * t)).astype("<i2").tobytes()  # half scale
    assert rms_dbfs(sine) == pytest.approx(-6.02 - 3.01, abs=0.01)
    assert rms_dbfs(bytes(960)) == -math.inf
    assert rms_dbfs(b"") == -math.inf
