"""Windows of a running ``RunStats``: what happened between two moments.

The capacity ramp judges each step on that step's sessions only, and the report's
time series shows each interval's percentiles. Both take a ``snapshot`` of the (merged)
``RunStats`` and later ``subtract`` it from the then-current one. HdrHistogram has no
subtraction, but its count arrays do: the difference of two cumulative histograms is
exact, bucket by bucket, so a window's p95 is as precise as the whole run's.
"""

from __future__ import annotations

import numpy as np

from harness.load.stats import LatencyHistogram, RunStats


def copy_histogram(hist: LatencyHistogram) -> LatencyHistogram:
    out = LatencyHistogram()
    if hist.count:
        out.h.add(hist.h)
    out.negative = hist.negative
    return out


def subtract_histogram(now: LatencyHistogram, before: LatencyHistogram) -> LatencyHistogram:
    """The values recorded into ``now`` since it equalled ``before``: the count arrays'
    difference written in one numpy pass (as recording each bucket's lowest value that
    many times would, min and max included)."""
    out = LatencyHistogram()
    a = np.ctypeslib.as_array(now.h.counts).view(np.int64)
    b = np.ctypeslib.as_array(before.h.counts).view(np.int64)
    diff = np.maximum(a - b, 0)
    filled = np.flatnonzero(diff)
    if len(filled):
        h = out.h
        np.ctypeslib.as_array(h.counts).view(np.int64)[:] = diff
        h.total_count = int(diff.sum())
        h.min_value = h.get_value_from_index(int(filled[0]))
        h.max_value = h.get_value_from_index(int(filled[-1]))
    out.negative = max(now.negative - before.negative, 0)
    return out


def snapshot(stats: RunStats) -> RunStats:
    """A deep copy of the parts a window needs (histograms, counters, session counts)."""
    copy = RunStats()
    copy.histograms = {n: copy_histogram(h) for n, h in stats.histograms.items()}
    copy.failures.update(stats.failures)
    copy.findings.update(stats.findings)
    copy.non_strict.update(stats.non_strict)
    copy.words.update(stats.words)
    copy.sessions = stats.sessions
    copy.sessions_ok = stats.sessions_ok
    copy.segmentation_mismatches = stats.segmentation_mismatches
    return copy


def subtract(now: RunStats, before: RunStats) -> RunStats:
    """What ``now`` gained since ``before`` (accuracy, failure messages and session samples
    are not windowed: kept from ``now``)."""
    out = RunStats()
    for name, hist in now.histograms.items():
        base = before.histograms.get(name)
        out.histograms[name] = (
            subtract_histogram(hist, base) if base is not None else copy_histogram(hist)
        )
    for name in ("failures", "findings", "non_strict", "words"):
        counts = getattr(out, name)
        counts.update(getattr(now, name))
        counts.subtract(getattr(before, name))
        setattr(out, name, +counts)  # drop zero and negative counts
    out.failure_messages = now.failure_messages
    out.sessions = now.sessions - before.sessions
    out.sessions_ok = now.sessions_ok - before.sessions_ok
    out.segmentation_mismatches = now.segmentation_mismatches - before.segmentation_mismatches
    out.accuracy = now.accuracy
    out.samples = now.samples
    return out
