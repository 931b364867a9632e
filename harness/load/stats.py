"""Run statistics for load tests: full-resolution latency histograms, failures, accuracy.

Locust's own response-time buckets round to 10 ms above 100 ms and 100 ms above 1 s,
too coarse for p99 gates; every metric here is also kept in an HdrHistogram (1 us to
10 min, 3 significant digits), which merges *exactly*: a master's histogram is the sum
of its workers', count for count. ``RunStats.to_dict``/``from_dict`` carry them between
processes (Locust's ``report_to_master`` / ``worker_report`` events).
"""

from __future__ import annotations

import base64
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

from harness.protocol.metrics import PERCENTILES, SessionMetrics

#: Metric name -> what it measures (PROTOCOL.md §5). Also the Locust request names.
METRICS: dict[str, str] = {
    "connect": "TCP + TLS + WebSocket handshake",
    "first_partial": "first non-empty text of a sentence minus W(speech onset)",
    "sentence": "final text of a sentence minus W(speech end)",
    "close": "confirmation minus end-of-stream send time",
    "send_lateness": "actual minus scheduled send time of each frame (harness health)",
}
#: How a failed session is classified (Locust failures carry these names).
FAILURE_KINDS: dict[str, str] = {
    "rejected": "handshake refused (HTTP status) or closed as unauthenticated",
    "connect_failed": "refused, unknown host, TLS failure",
    "schema_violation": "a server message broke PROTOCOL.md §3/§4",
    "segmentation_mismatch": "server sentences != corpus speech segments",
    "timeout": "a named wait ran out (handshake, confirmation, close)",
    "dropped": "the connection closed before the protocol's closing sequence",
}

_LOWEST_US = 1
_HIGHEST_US = 600_000_000  # 10 minutes
_DIGITS = 3


class LatencyHistogram:
    """Milliseconds in, kept in microseconds; negative values clamp to 0 and are counted."""

    def __init__(self) -> None:
        self.h = HdrHistogram(_LOWEST_US, _HIGHEST_US, _DIGITS)
        self.negative = 0

    def record(self, ms: float) -> None:
        us = round(ms * 1000.0)
        if us < 0:
            self.negative += 1
            us = 0
        self.h.record_value(min(max(us, 0), _HIGHEST_US))

    @property
    def count(self) -> int:
        return int(self.h.get_total_count())

    def percentile(self, p: float) -> float | None:
        """hdrh's ``get_value_at_percentile``, exactly, in one numpy pass instead of a
        Python loop over every bucket (about 1 ms, which stalled all sends in a worker)."""
        if not self.count:
            return None
        h = self.h
        counts = np.ctypeslib.as_array(h.counts)[: h.counts_len]
        cumulative = np.cumsum(counts, dtype=np.int64)
        index = int(np.searchsorted(cumulative, h.get_target_count_at_percentile(p)))
        value = h.get_value_from_index(min(index, h.counts_len - 1))
        if p:
            return h.get_highest_equivalent_value(value) / 1000.0
        return h.get_lowest_equivalent_value(value) / 1000.0

    @property
    def max(self) -> float | None:
        return self.h.get_max_value() / 1000.0 if self.count else None

    def summary(self) -> dict[str, float | int | None]:
        out: dict[str, float | int | None] = {"count": self.count}
        for p in PERCENTILES:
            out[f"p{p}"] = self.percentile(p)
        out["max"] = self.max
        return out

    def merge(self, other: LatencyHistogram) -> None:
        self.h.add(other.h)
        self.negative += other.negative

    def encode(self) -> str:
        return base64.b64encode(self.h.encode()).decode("ascii") if self.count else ""

    @classmethod
    def decode(cls, data: str, negative: int = 0) -> LatencyHistogram:
        hist = cls()
        if data:
            hist.h.add(HdrHistogram.decode(base64.b64decode(data)))
        hist.negative = negative
        return hist


@dataclass
class UtteranceAccuracy:
    """Pooled accuracy of one utterance over every session that replayed it."""

    utterance_id: str
    lang: str
    metric: str  # "wer" or "cer"
    reference: str
    last_hypothesis: str = ""
    errors: int = 0
    units: int = 0
    sessions: int = 0

    @property
    def rate(self) -> float | None:
        return self.errors / self.units if self.units else None


@dataclass
class RunStats:
    histograms: dict[str, LatencyHistogram] = field(
        default_factory=lambda: {name: LatencyHistogram() for name in METRICS}
    )
    failures: Counter[str] = field(default_factory=Counter)
    sessions: int = 0
    sessions_ok: int = 0
    accuracy: dict[str, UtteranceAccuracy] = field(default_factory=dict)

    def record_session(self, metrics: SessionMetrics) -> None:
        """Add every latency of one finished session."""
        self.sessions += 1
        for name, value in (("connect", metrics.connect_ms), ("close", metrics.close_ms)):
            if value is not None:
                self.histograms[name].record(value)
        for v in metrics.first_partial_ms:
            if v is not None:
                self.histograms["first_partial"].record(v)
        for v in metrics.sentence_ms:
            if v is not None:
                self.histograms["sentence"].record(v)
        for v in metrics.lateness_ms:
            self.histograms["send_lateness"].record(v)

    def record_failure(self, kind: str) -> None:
        if kind not in FAILURE_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}")
        self.failures[kind] += 1

    def record_accuracy(
        self,
        utterance_id: str,
        lang: str,
        metric: str,
        reference: str,
        hypothesis: str,
        errors: int,
        units: int,
    ) -> None:
        acc = self.accuracy.setdefault(
            utterance_id, UtteranceAccuracy(utterance_id, lang, metric, reference)
        )
        acc.last_hypothesis = hypothesis
        acc.errors += errors
        acc.units += units
        acc.sessions += 1

    def pooled_error_rate(self, metric: str | None = None) -> float | None:
        accs = [a for a in self.accuracy.values() if metric is None or a.metric == metric]
        units = sum(a.units for a in accs)
        return sum(a.errors for a in accs) / units if units else None

    @property
    def error_ratio(self) -> float:
        """Failed sessions over all sessions (0 when none ran)."""
        total = self.sessions_ok + sum(self.failures.values())
        return sum(self.failures.values()) / total if total else 0.0

    def summary(self) -> dict[str, dict[str, float | int | None]]:
        return {name: h.summary() for name, h in self.histograms.items()}

    # -- between processes -----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "histograms": {n: h.encode() for n, h in self.histograms.items()},
            "negative": {n: h.negative for n, h in self.histograms.items()},
            "failures": dict(self.failures),
            "sessions": self.sessions,
            "sessions_ok": self.sessions_ok,
            "accuracy": [vars(a) for a in self.accuracy.values()],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunStats:
        stats = cls()
        for name, enc in data.get("histograms", {}).items():
            stats.histograms[name] = LatencyHistogram.decode(
                enc, data.get("negative", {}).get(name, 0)
            )
        stats.failures.update(data.get("failures", {}))
        stats.sessions = int(data.get("sessions", 0))
        stats.sessions_ok = int(data.get("sessions_ok", 0))
        for a in data.get("accuracy", []):
            stats.accuracy[a["utterance_id"]] = UtteranceAccuracy(**a)
        return stats

    def merge(self, other: RunStats) -> None:
        """Add ``other`` into this (exact: histogram counts add bucket by bucket)."""
        for name, hist in other.histograms.items():
            self.histograms.setdefault(name, LatencyHistogram()).merge(hist)
        self.failures.update(other.failures)
        self.sessions += other.sessions
        self.sessions_ok += other.sessions_ok
        for uid, acc in other.accuracy.items():
            mine = self.accuracy.get(uid)
            if mine is None:
                self.accuracy[uid] = UtteranceAccuracy(**vars(acc))
            else:
                mine.errors += acc.errors
                mine.units += acc.units
                mine.sessions += acc.sessions
                mine.last_hypothesis = acc.last_hypothesis or mine.last_hypothesis
