"""Forced alignment of English reference text with pocketsphinx (``asrx corpus import --align``).

pocketsphinx's wheel ships the en-us acoustic model and the CMU dictionary; nothing is
downloaded. Each reference word is looked up in the dictionary (hyphenated words by
parts); a word it lacks cannot be aligned: it stands in the alignment as the ``[SPEECH]``
filler and gets no times (a neighbour that took its audio fails the quality check below).
Two passes, as ``pocketsphinx align`` does them: a word alignment
(``Decoder.set_align_text``), then a phone and state realignment
(``set_alignment``/``get_alignment``) that scores every word.

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
from dataclasses import dataclass

from harness.corpus.timings import Placement
from harness.errors import UsageError
from harness.protocol.words import ReferenceWord, units

#: Languages the shipped model aligns.
ALIGN_LANGUAGES = frozenset({"en"})
#: pocketsphinx's frame rate: 100 frames a second, so one frame is 10 ms.
FRAME_MS = 10.0
#: A word scoring worse per frame than this many times the median word is not trusted.
QUALITY_FACTOR = 4.5
FILLER = "[SPEECH]"
_NOT_WORDS = frozenset({"<sil>", "<s>", "</s>", "[NOISE]"})
_VARIANT = re.compile(r"\(\d+\)$")
_EDGE_PUNCTUATION = re.compile(r"^[^\w']+|[^\w']+$")


@dataclass(frozen=True)
class _Form:
    """One dictionary word of the text to align and the reference word it belongs to."""

    word: str
    owner: int


class Aligner:
    """One pocketsphinx decoder (the model loads once), aligning one utterance at a time."""

    def __init__(self) -> None:
        try:
            import pocketsphinx
        except ImportError:
            raise UsageError("--align needs pocketsphinx (pip install pocketsphinx)") from None
        self._decoder = pocketsphinx.Decoder(samprate=16000, bestpath=False, loglevel="FATAL")

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
        floor = QUALITY_FACTOR * statistics.median(scores) if scores else 0.0
        trusted = [
            f.owner not in unknown and score >= floor
            for (_, _, score), f in zip(timed, forms, strict=True)
        ]
        out: list[ReferenceWord] = []
        unplaced: list[str] = []
        for k, word in enumerate(written):
            mine = [i for i, f in enumerate(forms) if f.owner == k]
            if all(trusted[i] for i in mine):
                out.append(ReferenceWord(word, timed[mine[0]][0], timed[mine[-1]][1]))
            else:
                out.append(ReferenceWord(word))
                unplaced.append(word)
        return Placement(tuple(out), unplaced)

    def _run(self, pcm: bytes, text: str) -> list[tuple[float, float, float]] | None:
        """``(start_ms, end_ms, score per frame)`` of each word of ``text``, or None."""
        d = self._decoder
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


def can_align(lang: str) -> bool:
    return lang.strip().replace("_", "-").split("-", 1)[0].lower() in ALIGN_LANGUAGES
