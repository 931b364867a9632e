"""The latencies docs/protocol.md §5 derives from a session's timeline, and their summaries.

All values are milliseconds. ``None`` in a per-sentence list means the value is not
defined for that sentence (no text arrived, or the sentence counts differ).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from harness.protocol.audio import ms_to_bytes
from harness.protocol.timeline import Timeline

#: A run whose p99 send lateness exceeds this is "harness saturated" (docs/protocol.md §5).
DEFAULT_LATENESS_BOUND_MS = 10.0
PERCENTILES = (50, 90, 95, 99)

Segment = tuple[float, float]  # speech [on_ms, off_ms] within the utterance


@dataclass
class SessionMetrics:
    connect_ms: float | None
    first_partial_ms: list[float | None]
    sentence_ms: list[float | None]
    close_ms: float | None
    lateness_ms: list[float]
    sentences: list[str]
    #: None when the corpus segments are unknown.
    segmentation_mismatch: bool | None
    corpus_segments: int | None
    #: What a caller adds to the session's summary (``asrx stream``: accuracy).
    extra: dict[str, object] = field(default_factory=dict)


def session_metrics(
    timeline: Timeline, segments: Sequence[Segment] | None = None
) -> SessionMetrics:
    """Derive every §5 metric of one session.

    ``segments`` are the utterance's speech segments from its manifest. Without them
    only connect, close latency, lateness and the transcripts are known.
    """
    tl = timeline
    connect = _ms(tl.connected, tl.connect_started)
    close = _ms(tl.confirmed_at, tl.end_of_stream_at)
    lateness = tl.frames.lateness_ms()
    sentences = tl.sentences()
    texts = [s.final_text for s in sentences]
    if segments is None:
        return SessionMetrics(connect, [], [], close, lateness, texts, None, None)

    first: list[float | None] = []
    final: list[float | None] = []
    n = min(len(sentences), len(segments))
    for i in range(n):
        on_at = tl.sent_at(ms_to_bytes(segments[i][0]))
        first.append(_ms(sentences[i].first_text_at, on_at))
    mismatch = len(sentences) != len(segments)
    if not mismatch:
        for s, (_, off) in zip(sentences, segments, strict=True):
            final.append(_ms(s.final_at, tl.sent_at(ms_to_bytes(off))))
    return SessionMetrics(connect, first, final, close, lateness, texts, mismatch, len(segments))


def _ms(later: float | None, earlier: float | None) -> float | None:
    if later is None or earlier is None:
        return None
    return (later - earlier) * 1000.0


def percentile(values: Iterable[float], p: float) -> float | None:
    """Nearest-rank percentile (the smallest value with at least p% at or below it)."""
    data = sorted(values)
    if not data:
        return None
    rank = max(1, math.ceil(p / 100.0 * len(data)))
    return data[rank - 1]


@dataclass(frozen=True)
class Summary:
    count: int
    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None
    max: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "count": self.count,
            "p50": self.p50,
            "p90": self.p90,
            "p95": self.p95,
            "p99": self.p99,
            "max": self.max,
        }


def summarize(values: Iterable[float | None]) -> Summary:
    """Count, p50/p90/p95/p99 and max of the defined values (never an average alone)."""
    data = sorted(v for v in values if v is not None)
    p50, p90, p95, p99 = (percentile(data, p) for p in PERCENTILES)
    return Summary(len(data), p50, p90, p95, p99, data[-1] if data else None)
