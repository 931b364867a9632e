"""Accuracy against a corpus's reference text: WER, or CER for scripts written without spaces.

Both sides are normalized the same way before jiwer aligns them (the normalization lives in
``harness.protocol.text``; ``harness.protocol.words`` aligns partial hypotheses for word
latencies with it):

- Unicode NFKC, then case folded;
- apostrophes inside words dropped (``don't`` -> ``dont``), every other punctuation or
  symbol character turned into a space, whitespace collapsed;
- for languages written without spaces between words (``th``, ``zh``, ``ja``, ``lo``,
  ``km``, ``my``) whitespace is removed and the units are characters (code points after
  NFC, so a Thai vowel mark counts as one), giving CER; otherwise the units are words (WER).

The language is taken from the tag's primary subtag (``th-TH`` -> ``th``). ``pool`` adds
errors and reference units over utterances, so long utterances weigh more than short ones,
which is what a corpus-level WER means.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass

import jiwer

from harness.protocol.text import Metric, metric_for, normalize

__all__ = ["Metric", "Score", "metric_for", "normalize", "pool", "score"]


@dataclass(frozen=True)
class Score:
    metric: Metric
    #: Substitutions + deletions + insertions.
    errors: int
    #: Words (WER) or characters (CER) in the normalized reference.
    ref_units: int
    #: errors / ref_units; 0.0 for an empty reference and hypothesis, inf for an empty
    #: reference with something recognized.
    rate: float

    def __str__(self) -> str:
        return f"{self.metric.upper()} {self.rate:.1%} ({self.errors}/{self.ref_units})"


def _rate(errors: int, units: int) -> float:
    if units:
        return errors / units
    return 0.0 if errors == 0 else math.inf


@functools.lru_cache(maxsize=1024)
def score(reference: str, hypothesis: str, lang: str) -> Score:
    """WER or CER of ``hypothesis`` against ``reference`` for language ``lang``.

    Remembered for the last 1024 distinct inputs: a load run scores the same utterance
    thousands of times, and a server that transcribes it the same way each time then costs
    a dictionary look-up instead of an alignment (and none of the few cyclic objects each
    of jiwer's alignments leaves to the garbage collector).
    """
    metric = metric_for(lang)
    ref = normalize(reference, lang)
    hyp = normalize(hypothesis, lang)
    if metric == "cer":
        ref_units, hyp_units = len(ref), len(hyp)
    else:
        ref_units, hyp_units = len(ref.split()), len(hyp.split())
    if ref_units == 0 or hyp_units == 0:
        # Nothing to align: every reference unit is deleted or every hypothesis unit inserted.
        errors = ref_units + hyp_units
    else:
        align = jiwer.process_characters if metric == "cer" else jiwer.process_words
        out = align(ref, hyp)
        errors = out.substitutions + out.deletions + out.insertions
    return Score(metric=metric, errors=errors, ref_units=ref_units, rate=_rate(errors, ref_units))


def pool(scores: Iterable[Score]) -> Score:
    """Corpus-level score: total errors over total reference units (one metric only)."""
    items = list(scores)
    if not items:
        raise ValueError("pool() needs at least one score")
    metrics = {s.metric for s in items}
    if len(metrics) > 1:
        raise ValueError(f"cannot pool different metrics: {', '.join(sorted(metrics))}")
    errors = sum(s.errors for s in items)
    units = sum(s.ref_units for s in items)
    return Score(metric=items[0].metric, errors=errors, ref_units=units, rate=_rate(errors, units))
