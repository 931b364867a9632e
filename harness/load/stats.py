"""Run statistics for load tests: full-resolution latency histograms, failures, accuracy.

Locust's own response-time buckets round to 10 ms above 100 ms and 100 ms above 1 s,
too coarse for p99 gates; every metric here is also kept in an HdrHistogram (1 us to
10 min, 3 significant digits), which merges *exactly*: a master's histogram is the sum
of its workers', count for count. ``RunStats.to_dict``/``from_dict`` carry them between
processes (Locust's ``report_to_master`` / ``worker_report`` events).

``METRICS`` is the registry of what a run measures: a new metric is one ``Metric`` entry
(its histogram, its row in the report's tables and its distribution chart follow), fed by
``RunStats.record`` with samples under its name. Beside the histograms a run keeps what
became of the reference words (``words``: final, lost, missed, untimed, unsent) and the
last completed session of each utterance (``samples``, for the report's pictures).
"""

from __future__ import annotations

import base64
import weakref
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

from harness.corpus.utterance import Utterance
from harness.load.outcome import FailureKind
from harness.load.samples import MAX_SAMPLES, SessionSample, keep
from harness.protocol.metrics import PERCENTILES
from harness.protocol.timeline import Timeline
from harness.protocol.words import WordLatencies, WordStatus


@dataclass(frozen=True)
class Metric:
    """One distribution a run records, in milliseconds."""

    name: str
    #: What it measures, one line (the report's tables).
    description: str
    #: True for a latency of the server under test (fed by whole sessions only); False for
    #: the harness's own health.
    server_latency: bool = True


#: Every metric a run records, by name: the §5 latencies (also Locust's request names)
#: and the harness's health.
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("connect", "TCP + TLS + WebSocket handshake"),
        Metric("first_partial", "first non-empty text of a sentence minus W(speech onset)"),
        Metric("sentence", "final text of a sentence minus W(speech end)"),
        Metric("close", "confirmation minus end-of-stream send time"),
        Metric("word_upl", "per word: first text holding it minus W(word end) (UPL)"),
        Metric("word_final", "per word: text after which it no longer changes minus W(word end)"),
        Metric(
            "send_lateness",
            "actual minus scheduled send time of each frame (harness health)",
            server_latency=False,
        ),
    )
}
#: The server latencies, in report order.
LATENCY_METRICS = tuple(name for name, m in METRICS.items() if m.server_latency)
#: Word statuses of the timed words whose audio was sent: the base of the word ratios.
TIMED_STATUSES: tuple[WordStatus, ...] = ("final", "lost", "missed")
#: Distinct failure messages kept per kind (the rest are counted, not kept).
MAX_MESSAGES_PER_KIND = 5

_LOWEST_US = 1
_HIGHEST_US = 600_000_000  # 10 minutes
_DIGITS = 3
#: Below this many values are recorded one by one: numpy's fixed cost (18 us a call) is
#: more than hdrh's 1.5 us per value.
_FEW = 12


def _acyclic(h: HdrHistogram) -> HdrHistogram:
    """``h`` without its reference cycle (its encoder holds it back): a histogram let go is
    freed at once with its 170 kB of counts, instead of waiting for the cyclic garbage
    collector (every time-series sample lets go of dozens, whose collection paused sends)."""
    h.encoder.histogram = weakref.proxy(h)
    return h


class LatencyHistogram:
    """Milliseconds in, kept in microseconds; negative values clamp to 0 and are counted.

    Values wait in a list and go into the histogram ``BATCH`` at a time, or as soon as
    anything reads it (``h``, ``negative``, and all that reads through them): a load worker
    records a session's hundred frame latenesses and a few latencies at each session's end,
    and numpy's fixed cost per call made that 30-45 us a session, all sends held meanwhile.
    """

    #: Values recorded at once (one numpy pass: about 60 us for 4096).
    BATCH = 4096

    def __init__(self) -> None:
        self._h = _acyclic(HdrHistogram(_LOWEST_US, _HIGHEST_US, _DIGITS))
        self._negative = 0
        self._pending: list[float] = []

    @property
    def h(self) -> HdrHistogram:
        """The HdrHistogram, every value recorded so far in it."""
        if self._pending:
            self._record(self._pending)
        return self._h

    @property
    def negative(self) -> int:
        """Values recorded below 0 (clamped to 0)."""
        if self._pending:
            self._record(self._pending)
        return self._negative

    @negative.setter
    def negative(self, n: int) -> None:
        if self._pending:
            self._record(self._pending)
        self._negative = n

    def record(self, ms: float) -> None:
        self._pending.append(ms)
        if len(self._pending) >= self.BATCH:
            self._record(self._pending)

    def record_many(self, ms: Iterable[float]) -> None:
        self._pending += ms
        if len(self._pending) >= self.BATCH:
            self._record(self._pending)

    def _record(self, ms: list[float]) -> None:
        """Put ``ms`` into the histogram: hdrh's ``record_value`` of each, rounded as
        ``round`` rounds (half to even, as ``np.rint``), in one numpy pass instead of
        hdrh's Python call per value.

        The bucket index is hdrh's ``_counts_index_for``, vectorized: the bit length of
        ``value | sub_bucket_mask`` (``frexp``'s exponent, exact below 2**53) gives the
        bucket, the value shifted by it the sub-bucket.
        """
        self._pending = []
        h = self._h
        if len(ms) < _FEW:
            for v in ms:
                one = round(v * 1000.0)
                if one < 0:
                    self._negative += 1
                h.record_value(min(max(one, 0), _HIGHEST_US))
            return
        us = np.rint(np.asarray(ms, dtype=np.float64) * 1000.0)
        self._negative += int(np.count_nonzero(us < 0))
        values = np.clip(us, 0, _HIGHEST_US).astype(np.int64)
        bits = np.frexp((values | h.sub_bucket_mask).astype(np.float64))[1].astype(np.int64)
        bucket = bits - h.unit_magnitude - (h.sub_bucket_half_count_magnitude + 1)
        sub_bucket = values >> (bucket + h.unit_magnitude)
        index = ((bucket + 1) << h.sub_bucket_half_count_magnitude) + sub_bucket
        index -= h.sub_bucket_half_count
        added = np.bincount(index).astype(np.uint64)
        np.ctypeslib.as_array(h.counts)[: len(added)] += added
        h.total_count += len(values)
        h.min_value = min(h.min_value, int(values.min()))
        h.max_value = max(h.max_value, int(values.max()))

    @property
    def count(self) -> int:
        return int(self.h.get_total_count())

    def percentile(self, p: float) -> float | None:
        """hdrh's ``get_value_at_percentile``, exactly (``percentiles``)."""
        return self.percentiles((p,))[0]

    def percentiles(self, ps: Sequence[float]) -> list[float | None]:
        """hdrh's ``get_value_at_percentile`` of each of ``ps``, exactly, from one numpy
        cumulative sum instead of hdrh's Python loop over every bucket per percentile
        (about 1 ms each, which stalled all sends in a worker). The sum stops at the
        bucket of the largest value recorded: the counts after it are zero."""
        if not self.count:
            return [None] * len(ps)
        h = self.h
        counts = np.ctypeslib.as_array(h.counts)[: h.counts_len].view(np.int64)
        cumulative = np.cumsum(counts[: h.get_counts_array_index(h.max_value) + 1])
        if not len(cumulative) or cumulative[-1] != h.total_count:  # max_value not kept up
            cumulative = np.cumsum(counts)
        targets = [h.get_target_count_at_percentile(p) for p in ps]
        out: list[float | None] = []
        for p, index in zip(ps, np.searchsorted(cumulative, targets).tolist(), strict=True):
            value = h.get_value_from_index(min(index, h.counts_len - 1))
            if p:
                out.append(h.get_highest_equivalent_value(value) / 1000.0)
            else:
                out.append(h.get_lowest_equivalent_value(value) / 1000.0)
        return out

    @property
    def max(self) -> float | None:
        return self.h.get_max_value() / 1000.0 if self.count else None

    def summary(self) -> dict[str, float | int | None]:
        out: dict[str, float | int | None] = {"count": self.count}
        for p, value in zip(PERCENTILES, self.percentiles(PERCENTILES), strict=True):
            out[f"p{p}"] = value
        out["max"] = self.max
        return out

    def merge(self, other: LatencyHistogram) -> None:
        self.h.add(other.h)
        self._negative += other.negative

    def encode(self) -> str:
        return base64.b64encode(self.h.encode()).decode("ascii") if self.count else ""

    @classmethod
    def decode(cls, data: str, negative: int = 0) -> LatencyHistogram:
        hist = cls()
        if data:
            hist.h.add(_acyclic(HdrHistogram.decode(base64.b64decode(data))))
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
    #: Sample failure messages per kind (at most ``MAX_MESSAGES_PER_KIND``), each counted.
    failure_messages: dict[str, Counter[str]] = field(default_factory=dict)
    #: Sessions that opened.
    sessions: int = 0
    sessions_ok: int = 0
    #: Sessions in which each rule was broken (a failing finding), by rule id.
    findings: Counter[str] = field(default_factory=Counter)
    #: Sessions with a finding only strict grading fails (NON-STRICT), by rule id.
    non_strict: Counter[str] = field(default_factory=Counter)
    accuracy: dict[str, UtteranceAccuracy] = field(default_factory=dict)
    #: Reference words of completed sessions by what became of them (``WordStatus``).
    words: Counter[str] = field(default_factory=Counter)
    #: The last completed session of each utterance (``harness.load.samples``' bounds),
    #: read through ``samples``.
    _samples: dict[str, SessionSample] = field(default_factory=dict)
    #: Sessions kept as their utterance's latest, not yet made into a ``SessionSample``
    #: (that costs a load worker about 50 us, and only the last of each is ever read).
    _latest: dict[str, tuple[Utterance, Timeline]] = field(default_factory=dict)
    #: Completed sessions too large to keep as a sample.
    samples_too_large: int = 0
    #: Completed sessions whose server cut a different number of sentences than the
    #: corpus has speech segments: lawful, but their sentence latency is undefined.
    segmentation_mismatches: int = 0

    def record(self, samples: Mapping[str, Iterable[float]]) -> None:
        """Add samples (ms) by metric name (``latency_samples``' shape)."""
        for name, values in samples.items():
            hist = self.histograms.get(name)
            if hist is None:
                hist = self.histograms[name] = LatencyHistogram()
            hist.record_many(values if isinstance(values, Sequence) else list(values))

    def record_words(self, latencies: WordLatencies) -> None:
        """One completed session's reference words, counted by status."""
        self.words.update(w.status for w in latencies.words)

    def record_sample(self, utt: Utterance, timeline: Timeline) -> None:
        """Keep a completed session as its utterance's latest sample, or count it too large."""
        if not SessionSample.fits(timeline):
            self.samples_too_large += 1
            return
        latest = self._latest
        latest[utt.id] = (utt, timeline)
        if len(latest) > MAX_SAMPLES:  # ``keep`` would drop the same one
            del latest[max(latest)]

    @property
    def samples(self) -> dict[str, SessionSample]:
        """The last completed session of each utterance, by utterance id."""
        if self._latest:
            latest, self._latest = self._latest, {}
            made = (SessionSample.of(utt, tl) for utt, tl in latest.values())
            keep(self._samples, (s for s in made if s is not None))
        return self._samples

    @samples.setter
    def samples(self, samples: dict[str, SessionSample]) -> None:
        self._samples, self._latest = samples, {}

    def word_ratio(self, status: WordStatus) -> float | None:
        """Words of ``status`` over the timed words whose audio was sent (None: none)."""
        timed = sum(self.words[s] for s in TIMED_STATUSES)
        return self.words[status] / timed if timed else None

    def record_failure(self, kind: str, message: str = "") -> None:
        kind = FailureKind(kind).value  # an unknown kind is a bug: ValueError
        self.failures[kind] += 1
        if message:
            _keep_message(self.failure_messages.setdefault(kind, Counter()), message, 1)

    def record_findings(self, rules: Iterable[str], non_strict: Iterable[str] = ()) -> None:
        """One session's broken rules (each counted once per session)."""
        self.findings.update(set(rules))
        self.non_strict.update(set(non_strict))

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
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def attempts(self) -> int:
        """Sessions judged: completed plus failed (refused ones included)."""
        return self.sessions_ok + self.failed

    @property
    def error_ratio(self) -> float:
        """Failed sessions over all judged sessions (0 when none ran)."""
        return self.failed / self.attempts if self.attempts else 0.0

    def summary(self) -> dict[str, dict[str, float | int | None]]:
        return {name: h.summary() for name, h in self.histograms.items()}

    # -- between processes -----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "histograms": {n: h.encode() for n, h in self.histograms.items()},
            "negative": {n: h.negative for n, h in self.histograms.items()},
            "failures": dict(self.failures),
            "failure_messages": {k: dict(v) for k, v in self.failure_messages.items()},
            "sessions": self.sessions,
            "sessions_ok": self.sessions_ok,
            "findings": dict(self.findings),
            "non_strict": dict(self.non_strict),
            "accuracy": [vars(a) for a in self.accuracy.values()],
            "words": dict(self.words),
            "samples": [s.to_dict() for s in self.samples.values()],
            "samples_too_large": self.samples_too_large,
            "segmentation_mismatches": self.segmentation_mismatches,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunStats:
        stats = cls()
        for name, enc in data.get("histograms", {}).items():
            stats.histograms[name] = LatencyHistogram.decode(
                enc, data.get("negative", {}).get(name, 0)
            )
        stats.failures.update(data.get("failures", {}))
        for kind, messages in data.get("failure_messages", {}).items():
            stats.failure_messages[kind] = Counter(messages)
        stats.sessions = int(data.get("sessions", 0))
        stats.sessions_ok = int(data.get("sessions_ok", 0))
        stats.findings.update(data.get("findings", {}))
        stats.non_strict.update(data.get("non_strict", {}))
        for a in data.get("accuracy", []):
            stats.accuracy[a["utterance_id"]] = UtteranceAccuracy(**a)
        stats.words.update(data.get("words", {}))
        keep(stats.samples, (SessionSample.from_dict(s) for s in data.get("samples", [])))
        stats.samples_too_large = int(data.get("samples_too_large", 0))
        stats.segmentation_mismatches = int(data.get("segmentation_mismatches", 0))
        return stats

    def merge(self, other: RunStats) -> None:
        """Add ``other`` into this (exact: histogram counts add bucket by bucket)."""
        for name, hist in other.histograms.items():
            into = self.histograms.get(name)
            if into is None:
                into = self.histograms[name] = LatencyHistogram()
            into.merge(hist)
        self.failures.update(other.failures)
        for kind, messages in other.failure_messages.items():
            mine = self.failure_messages.setdefault(kind, Counter())
            for message, n in messages.items():
                _keep_message(mine, message, n)
        self.sessions += other.sessions
        self.sessions_ok += other.sessions_ok
        self.findings.update(other.findings)
        self.non_strict.update(other.non_strict)
        for uid, acc in other.accuracy.items():
            mine_acc = self.accuracy.get(uid)
            if mine_acc is None:
                self.accuracy[uid] = UtteranceAccuracy(**vars(acc))
            else:
                mine_acc.errors += acc.errors
                mine_acc.units += acc.units
                mine_acc.sessions += acc.sessions
                mine_acc.last_hypothesis = acc.last_hypothesis or mine_acc.last_hypothesis
        self.words.update(other.words)
        keep(self.samples, other.samples.values())
        self.samples_too_large += other.samples_too_large
        self.segmentation_mismatches += other.segmentation_mismatches


def _keep_message(messages: Counter[str], message: str, n: int) -> None:
    """Count ``message`` if it is kept or there is room for one more distinct message."""
    if message in messages or len(messages) < MAX_MESSAGES_PER_KIND:
        messages[message] += n
