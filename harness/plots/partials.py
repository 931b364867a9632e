"""The partials-over-time picture of one session: when each spoken word reached the user.

One row per reference word, in spoken order. The horizontal axis is time since the first
audio frame was sent; the audio lies on it where it was sent (a word's bar spans
``W(start)..W(end)``, the audio-time ticks on top), and so do the arrivals:

- grey bar: the word's audio; dashed green line through the bars' ends: zero latency;
- thin line from a bar's end to the first marker: the wait, the word's UPL;
- open circle: first shown; orange: shown, then replaced; red dots: replaced by other text;
  filled circle: final (held by every later message); red cross: missed, or lost at the end;
- shaded bands: speech segments; ticks under the rows: server messages (a tall tick opens a
  sentence), each with its text as a tooltip.

Without word timings the rows are the reference's words, or the final transcript's when
there is no reference: no bars and no zero-latency line, the hypothesis growing over time.
Held or not follows ``harness.protocol.words`` (``held_words``), the rule the latencies use.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.plots.canvas import Canvas, Segment
from harness.plots.legend import subtitle
from harness.plots.rows import Run, WordRow
from harness.protocol.timeline import Timeline
from harness.protocol.words import (
    ReferenceWord,
    held_words,
    running_hypotheses,
    spoken_words,
    word_latencies,
)


def word_rows(timeline: Timeline, words: Sequence[ReferenceWord], lang: str) -> list[WordRow]:
    """Every spoken word of ``words`` with its latencies and held runs."""
    spoken = spoken_words(words, lang)
    runs: list[list[Run]] = [[] for _ in spoken]
    opened: list[float | None] = [None] * len(spoken)
    before = (False,) * len(spoken)
    for at, held in held_words(timeline.messages, words, lang):
        for i, (was, now) in enumerate(zip(before, held, strict=True)):
            if now and not was:
                opened[i] = at
            elif was and not now:
                start = opened[i]
                assert start is not None
                runs[i].append((start, at))
        before = held
    for i, was in enumerate(before):
        if was:
            start = opened[i]
            assert start is not None
            runs[i].append((start, None))
    fates = word_latencies(timeline, words, lang).words
    return [WordRow(words[k], fates[i], tuple(runs[i])) for i, k in enumerate(spoken)]


def transcript_words(timeline: Timeline) -> list[ReferenceWord]:
    """The words of the session's final transcript, untimed: rows when nothing else is known."""
    hyps = running_hypotheses(timeline.messages)
    return [ReferenceWord(w) for w in hyps[-1][1].split()] if hyps else []


def partials_svg(
    timeline: Timeline,
    words: Sequence[ReferenceWord],
    lang: str,
    segments: Sequence[Segment] = (),
    *,
    title: str = "partials over time",
    completed: bool = True,
) -> str:
    """The picture as one ``<svg>`` element (an SVG file, or inline in HTML).

    ``words``: the reference's words, timed or not; empty: the final transcript's words.
    ``segments``: speech ``(on_ms, off_ms)`` to shade. ``completed``: False says in the
    picture that the session's latencies do not count.
    """
    from_transcript = not words
    rows = word_rows(timeline, words or transcript_words(timeline), lang)
    timed = any(w.end_ms is not None for w in words)
    figures = subtitle(rows, completed, from_transcript)
    return Canvas(timeline, rows, segments, timed).draw(title, figures)
