"""Forced alignment with pocketsphinx (``asrx corpus import --align``): timings close to
the truth where the truth is known, and words it cannot vouch for reported, not timed."""

from __future__ import annotations

import statistics

import numpy as np
import pytest

from harness.corpus import (
    REAL_SPEECH_CORPUS,
    Corpus,
    default_corpus_dir,
    load_corpus,
    shipped_corpus,
)
from harness.corpus.align import FRAME_MS, Aligner, SoundEdges


@pytest.fixture(scope="module")
def aligner() -> Aligner:
    return Aligner()


@pytest.fixture(scope="module")
def real() -> Corpus:
    return load_corpus(shipped_corpus(REAL_SPEECH_CORPUS))


def test_shipped_real_speech_alignment_is_reproduced(aligner: Aligner, real: Corpus) -> None:
    for utt in real:
        assert utt.text is not None
        placed = aligner.align(utt.pcm(), utt.text)
        assert placed.unplaced == [], utt.id
        assert placed.words == utt.words, utt.id


def test_espeak_words_are_found_near_their_exact_ends(aligner: Aligner) -> None:
    """On en-synth the truth is known (eSpeak's own phoneme events): measured 19 ms median,
    117 ms p90, 211 ms max of |aligned end - exact end| over its 72 words."""
    errors: list[float] = []
    for utt in load_corpus(default_corpus_dir("en")):
        if not utt.words:
            continue
        assert utt.text is not None
        placed = aligner.align(utt.pcm(), utt.text)
        for exact, found in zip(utt.words, placed.words, strict=True):
            if found.end_ms is not None and exact.end_ms is not None:
                errors.append(abs(found.end_ms - exact.end_ms))
    assert len(errors) >= 60, "most words placed"
    assert statistics.median(errors) <= 40 and max(errors) <= 250, sorted(errors)[-5:]


@pytest.mark.parametrize(
    ("text", "unplaced"),
    [
        ("he was not a very ill disposed young man", {"a", "very"}),  # neither is said
        ("he was not an Dashwoodington disposed young man", {"Dashwoodington", "an"}),
        ("the cat sat on the mat today", {"the", "cat", "sat", "on", "mat", "today"}),
    ],
    ids=["word not said", "word not in the dictionary", "another text"],
)
def test_words_it_cannot_vouch_for_are_reported_not_timed(
    aligner: Aligner, real: Corpus, text: str, unplaced: set[str]
) -> None:
    utt = real.get("austen-0880")
    placed = aligner.align(utt.pcm(), text)
    assert set(placed.unplaced) == unplaced
    for word in placed.words:
        assert (word.end_ms is None) == (word.text in unplaced)


def test_hyphens_and_punctuation_are_looked_up_by_parts(aligner: Aligner) -> None:
    assert aligner.forms_of("Cold-hearted,") == ["cold", "hearted"]
    assert aligner.forms_of("Don’t") == ["don't"]
    assert aligner.forms_of("Dashwoodington") is None


def test_edges_move_in_to_the_sound_and_never_out() -> None:
    rng = np.random.default_rng(1)
    quiet = rng.standard_normal(16 * 1000) * 30  # a floor well under the tone
    tone = (np.sin(np.arange(16 * 200) * 0.3) * 8000).astype(np.float64)
    audio = quiet.copy()
    audio[16 * 400 : 16 * 600] += tone
    edges = SoundEdges(audio.astype("<i2").tobytes())
    assert edges.snap(300.0, 800.0) == (400.0, 600.0)
    assert edges.snap(450.0, 550.0) == (450.0, 550.0)  # already inside: unchanged
    assert edges.snap(700.0, 900.0) == (700.0, 900.0)  # nothing loud: the aligner's span
    flat = SoundEdges((np.ones(16 * 1000) * 5000).astype("<i2").tobytes())
    assert flat.threshold is None and flat.snap(100.0, 200.0) == (100.0, 200.0)
    assert FRAME_MS == 10.0
