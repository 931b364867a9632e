"""Forced alignment of English reference text with pocketsphinx (``asrx corpus import --align``).

pocketsphinx's wheel ships the en-us acoustic model and the CMU dictionary; nothing is
downloaded. Each reference word is looked up in the dictionary (hyphenated words by
parts); a word it lacks cannot be aligned: it stands in the alignment as the ``[SPEECH]``
filler and gets no times (a neighbour that took its audio fails the quality check below).
Two passes, as ``pocketsphinx align`` does them: a word alignment
(``Decoder.set_align_text``), then a phone and state realignment
(``set_alignment``/``get_alignment``) that scores every word.

Word edges are then moved in to where the sound is (``SoundEdges``): pocketsphinx hands
the silence before a pause to the word before it.

Quality check: a word whose acoustic score per frame is more than ``QUALITY_FACTOR``
times worse than the utterance's median word was forced onto audio that does not sound
like it (a word not said, a neighbour of an unknown word): it is reported and gets no
times. Measured on the five LibriVox utterances of pocketsphinx's sources, the words of a
right transcript stay within 3.5 times the median; a word added to the transcript scores
6 to 10 times it, a neighbour of an unknown word 5.6 times (docs/corpora.md). Nothing is
invented: a word either has the times the aligner found and vouched for, or none.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.corpus.timings import Placement
from harness.errors import UsageError
from harness.protocol.text import units
from harness.protocol.words import ReferenceWord

#: Languages the shipped model aligns.
ALIGN_LANGUAGES = frozenset({"en"})
#: pocketsphinx's frame rate: 100 frames a second, so one frame is 10 ms.
FRAME_MS = 10.0
#: A word scoring worse per frame than this many times the median word is not trusted.
QUALITY_FACTOR = 4.5
#: A median score per frame worse than this: the text is not what the audio says.
TEXT_FIT_FLOOR = -45.0
FILLER = "[SPEECH]"
ALIGN_BEAM = 1e-80
#: Word edges move in to where the sound is: 10 ms frames quieter than the recording's
#: floor (``FLOOR_PERCENTILE`` of its frame levels) plus ``EDGE_DB`` are taken off the ends.
EDGE_DB = 8.0
FLOOR_PERCENTILE = 10
#: Below this spread between floor and speech there is no silence to tell apart: no moving.
MIN_SPREAD_DB = 20.0
_NOT_WORDS = frozenset({"<sil>", "<s>", "</s>", "[NOISE]"})
_VARIANT = re.compile(r"\(\d+\)$")
_EDGE_PUNCTUATION = re.compile(r"^[^\w']+|[^\w']+$")


@dataclass(frozen=True)
class _Form:
    """One dictionary word of the text to align and the reference word it belongs to."""

    word: str
    owner: int


class Aligner:
    """Aligns one utterance at a time, each with a decoder of its own: a pocketsphinx
    decoder aligns its first utterance slightly differently from later ones (state it keeps
    between utterances), and an utterance's timings must not depend on which came before."""

    def __init__(self) -> None:
        try:
            import pocketsphinx
        except ImportError:
            raise UsageError("--align needs pocketsphinx (pip install pocketsphinx)") from None
        self._new_decoder: Callable[[], Any] = lambda: pocketsphinx.Decoder(
            samprate=16000,
            bestpath=False,
            loglevel="FATAL",
            # Beams wider than recognition's (1e-48): a forced path through unusual speech
            # (a synthesizer's, say) is otherwise pruned away and the whole alignment lost.
            beam=ALIGN_BEAM,
            wbeam=ALIGN_BEAM,
            pbeam=ALIGN_BEAM,
        )
        self._decoder = self._new_decoder()

    def forms_of(self, word: str) -> list[str] | None:
        """The dictionary words that spell ``word``, or None when the dictionary lacks it."""
        plain = _EDGE_PUNCTUATION.sub("", word.casefold().replace("\u2019", "'"))
        for parts in ([plain], plain.split("-")):
            if all(p and self._decoder.lookup_word(p) is not None for p in parts):
                return parts
        return None

    def align(self, pcm: bytes, text: str) -> Placement:
        """``text``'s words with their times in ``pcm`` (16 kHz mono s16le)."""
        written = [w for w in text.split() if units(w, "en")]
        forms: list[_Form] = []
        unknown: set[int] = set()
        for k, word in enumerate(written):
            found = self.forms_of(word)
            if found is None:
                unknown.add(k)
                forms.append(_Form(FILLER, k))
            else:
                forms += [_Form(f, k) for f in found]
        if not forms:
            return Placement(tuple(ReferenceWord(w) for w in written), list(written))
        timed = self._run(pcm, " ".join(f.word for f in forms))
        if timed is None or len(timed) != len(forms):
            return Placement(tuple(ReferenceWord(w) for w in written), list(written))
        scores = [s for (_, _, s), f in zip(timed, forms, strict=True) if f.owner not in unknown]
        if not scores or statistics.median(scores) < TEXT_FIT_FLOOR:
            return Placement(tuple(ReferenceWord(w) for w in written), list(written))
        floor = QUALITY_FACTOR * statistics.median(scores)
        trusted = [
            f.owner not in unknown and score >= floor
            for (_, _, score), f in zip(timed, forms, strict=True)
        ]
        out: list[ReferenceWord] = []
        unplaced: list[str] = []
        edges = SoundEdges(pcm)
        for k, word in enumerate(written):
            mine = [i for i, f in enumerate(forms) if f.owner == k]
            if all(trusted[i] for i in mine):
                start, end = edges.snap(timed[mine[0]][0], timed[mine[-1]][1])
                out.append(ReferenceWord(word, start, end))
            else:
                out.append(ReferenceWord(word))
                unplaced.append(word)
        return Placement(tuple(out), unplaced)

    def _run(self, pcm: bytes, text: str) -> list[tuple[float, float, float]] | None:
        """``(start_ms, end_ms, score per frame)`` of each word of ``text``, or None."""
        d = self._decoder = self._new_decoder()
        try:
            d.set_align_text(text)
            d.start_utt()
            d.process_raw(pcm, full_utt=True)
            d.end_utt()
            if d.hyp() is None:
                return None
            d.set_alignment()
            d.start_utt()
            d.process_raw(pcm, full_utt=True)
            d.end_utt()
            alignment = d.get_alignment()
        except RuntimeError:  # pocketsphinx's word for "no alignment found"
            return None
        if alignment is None:
            return None
        out = []
        for entry in alignment.words():
            name = _VARIANT.sub("", entry.name)
            if name in _NOT_WORDS:
                continue
            frames = max(1, entry.duration)
            start = entry.start * FRAME_MS
            out.append((start, start + frames * FRAME_MS, entry.score / frames))
        return out


class SoundEdges:
    """Where a word's sound begins and ends inside the span the aligner gave it.

    pocketsphinx gives the silence before a pause (or at the end) to the word before it, so
    a word's end can lie 100-200 ms after its last sound: the word latencies would then be
    short by as much. The edges move in to the first and last frame loud enough to be
    sound; they never move out, and a word with no loud frame keeps the aligner's span.
    """

    def __init__(self, pcm: bytes) -> None:
        samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
        step = int(FRAME_MS * 16)
        n = len(samples) // step
        frames = samples[: n * step].reshape(n, step) / 32768.0
        self.levels = 10 * np.log10(np.mean(frames * frames, axis=1) + 1e-12)
        floor = float(np.percentile(self.levels, FLOOR_PERCENTILE)) if n else 0.0
        spread = float(np.percentile(self.levels, 90)) - floor if n else 0.0
        self.threshold = floor + EDGE_DB if spread >= MIN_SPREAD_DB else None

    def snap(self, start_ms: float, end_ms: float) -> tuple[float, float]:
        if self.threshold is None:
            return start_ms, end_ms
        first, last = int(start_ms // FRAME_MS), int(end_ms // FRAME_MS)
        loud = np.flatnonzero(self.levels[first:last] >= self.threshold)
        if not loud.size:
            return start_ms, end_ms
        return (first + int(loud[0])) * FRAME_MS, (first + int(loud[-1]) + 1) * FRAME_MS


def can_align(lang: str) -> bool:
    return lang.strip().replace("_", "-").split("-", 1)[0].lower() in ALIGN_LANGUAGES
