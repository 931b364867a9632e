"""eSpeak NG through its library: the command's samples, and each word's span from its events."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from harness.audio import espeak
from harness.audio.espeak import Event, split_groups, token_starts, word_groups

WORD, END, PHONEME = 1, 5, 7
needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed"
)


def test_token_starts_are_one_based_code_points() -> None:
    assert token_starts("the cat") == [1, 5]
    assert token_starts("วันนี้ อากาศ") == [1, 8]
    assert token_starts("  a  b ") == [3, 6]


def test_a_word_spans_its_sounding_phonemes() -> None:
    events = [
        Event(WORD, 1, 0, b""),
        Event(PHONEME, 0, 100, b"D"),
        Event(PHONEME, 0, 200, b"@"),
        Event(WORD, 5, 290, b""),
        Event(PHONEME, 0, 300, b"k"),
        Event(PHONEME, 0, 400, b"a"),
        Event(PHONEME, 0, 500, b"t"),
        Event(PHONEME, 0, 650, b"_:"),  # a pause ends the last word
        Event(END, 0, 900, b""),
    ]
    groups = word_groups(events, token_starts("the cat"), 1000)
    assert split_groups(groups, "the cat", lambda w: 0) == [(100, 300), (300, 650)]


def test_two_words_read_as_one_are_shared_out_by_their_phonemes() -> None:
    # eSpeak reads "on the" as one word: one event, four phonemes.
    events = [
        Event(WORD, 1, 0, b""),
        Event(PHONEME, 0, 10, b"O2"),
        Event(PHONEME, 0, 20, b"n"),
        Event(PHONEME, 0, 30, b"D"),
        Event(PHONEME, 0, 40, b"@2"),
        Event(WORD, 8, 50, b""),
        Event(PHONEME, 0, 50, b"r"),
        Event(END, 0, 80, b""),
    ]
    text = "on the right"
    groups = word_groups(events, token_starts(text), 100)
    counts = {"on": 2, "the": 2}
    assert split_groups(groups, text, counts.__getitem__) == [(10, 30), (30, 50), (50, 80)]
    # When the counts do not add up, those words get no span: no guessing.
    counts = {"on": 2, "the": 3}
    assert split_groups(groups, text, counts.__getitem__) == [None, None, (50, 80)]


@needs_espeak
def test_speak_gives_the_commands_samples_and_the_same_each_time(tmp_path: Path) -> None:
    wav = tmp_path / "cli.wav"
    text = "the store is on the right"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), text], check=True)
    cli, rate = sf.read(str(wav), dtype="int16")
    th = espeak.speak("วันนี้ อากาศ ดี มาก", "th", 150)  # another voice first: no carry-over
    first = espeak.speak(text, "en-us", 150)
    again = espeak.speak(text, "en-us", 150)
    assert first.rate == rate and np.array_equal(first.samples, cli)
    assert np.array_equal(again.samples, first.samples) and again.words == first.words
    assert len(first.words) == 6 and None not in first.words  # "on the" shared out
    spans = [w for w in first.words if w is not None]
    assert all(a < b for a, b in spans)
    assert all(b1 <= a2 for (_, b1), (a2, _) in zip(spans, spans[1:], strict=False))
    assert len(th.words) == 4 and None not in th.words


@needs_espeak
def test_an_unknown_voice_is_a_usage_error() -> None:
    from harness.errors import UsageError

    with pytest.raises(UsageError, match="no voice 'xx-nope'"):
        espeak.speak("hello", "xx-nope", 150)
