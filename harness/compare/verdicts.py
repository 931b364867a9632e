"""A metric of two runs judged figure by figure: the verdicts, and how one is reached.

A figure (a percentile, or a ratio) changes by current minus baseline; its interval comes
from the two runs' replicates (``harness.compare.resample``); it is

- *regressed*: the interval lies above 0 and the change exceeds its tolerance;
- *improved*: the interval lies below 0 and the decrease exceeds its tolerance;
- *within tolerance*: detectable, but no larger than the tolerance;
- *no detectable change*: the interval holds 0, or the samples are too few to tell
  (``note`` says so);
- *not measured*: a run has no sample of the metric;
- *not comparable*: set for every metric when the runs themselves differ
  (``harness.compare.judge``).

A metric takes its worst figure (``SEVERITY``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.compare.resample import MIN_TAIL, Figures, interval, resolved
from harness.compare.tolerance import Tolerance, Tolerances

REGRESSED_V = "regressed"
IMPROVED_V = "improved"
WITHIN_V = "within tolerance"
NO_CHANGE_V = "no detectable change"
NOT_MEASURED_V = "not measured"
NOT_COMPARABLE_V = "not comparable"
#: Worst first: a metric takes the first of these any of its figures has.
SEVERITY = (NOT_COMPARABLE_V, REGRESSED_V, IMPROVED_V, WITHIN_V, NO_CHANGE_V, NOT_MEASURED_V)


@dataclass(frozen=True)
class Change:
    """One figure of one metric (a percentile, or a ratio) in both runs."""

    figure: str
    baseline: float | None
    current: float | None
    change: float | None
    low: float | None
    high: float | None
    allowed: float | None
    tolerance: str
    verdict: str
    #: Why there is no interval, when there is none.
    note: str = ""


@dataclass
class MetricComparison:
    metric: str
    unit: str
    gates: bool
    verdict: str
    reason: str
    method: str = ""
    samples: tuple[int | None, int | None] = (None, None)
    changes: list[Change] = field(default_factory=list)
    distribution: dict[str, Any] = field(default_factory=dict)


def _fmt(value: float, unit: str, sign: bool = False) -> str:
    text = f"{value:+.4g}" if sign else f"{value:.4g}"
    return f"{text} ms" if unit == "ms" else text


def _change(
    figure: str,
    percentile: int | None,
    base: Figures,
    cur: Figures,
    j: int,
    tol: Tolerance,
    confidence: float,
) -> Change:
    b, c = float(base.point[j]), float(cur.point[j])
    delta, allowed = c - b, tol.allowed(b)
    if percentile is not None and not all(resolved(f.samples, percentile) for f in (base, cur)):
        need = math.ceil(MIN_TAIL / (1 - percentile / 100))
        note = f"too few samples to tell ({base.samples} and {cur.samples}; {need} needed)"
        return Change(figure, b, c, delta, None, None, allowed, tol.text, NO_CHANGE_V, note)
    diffs = cur.replicates[:, j] - base.replicates[:, j]
    ci = interval(delta, diffs, confidence, min(base.df, cur.df))
    if ci is None:
        note = "too few samples to tell (most resamples were empty)"
        return Change(figure, b, c, delta, None, None, allowed, tol.text, NO_CHANGE_V, note)
    lo, hi = ci
    if lo > 0 and delta > allowed:
        verdict = REGRESSED_V
    elif hi < 0 and -delta > allowed:
        verdict = IMPROVED_V
    elif lo > 0 or hi < 0:
        verdict = WITHIN_V
    else:
        verdict = NO_CHANGE_V
    return Change(figure, b, c, delta, lo, hi, allowed, tol.text, verdict)


def _describe(c: Change, unit: str) -> str:
    assert c.change is not None and c.baseline is not None
    rel = f" ({c.change / c.baseline:+.1%})" if c.baseline else ""
    ci = (
        f", CI {_fmt(c.low, '', True)}..{_fmt(c.high, '', True)}"
        if c.low is not None and c.high is not None
        else f", {c.note}"
    )
    return f"{c.figure} {_fmt(c.change, unit, True)}{rel}{ci}; allowed {_fmt(c.allowed or 0, unit)}"


def largest(m: MetricComparison) -> str:
    """The metric's decisive figure that went furthest beyond its tolerance, briefly."""
    decisive = [c for c in m.changes if c.verdict == m.verdict and c.change is not None]
    c = max(decisive, key=lambda c: abs(c.change or 0) - (c.allowed or 0))
    rel = f" ({c.change / c.baseline:+.1%})" if c.baseline and c.change is not None else ""
    return f"{m.metric} {c.figure} {_fmt(c.change or 0, m.unit, True)}{rel}"


def _summarize(m: MetricComparison) -> None:
    """The metric's verdict (its worst figure) and the reason in one line."""
    m.verdict = next(v for v in SEVERITY if any(c.verdict == v for c in m.changes))
    decisive = [c for c in m.changes if c.verdict == m.verdict]
    m.reason = "; ".join(_describe(c, m.unit) for c in decisive)


def compare_figures(
    name: str,
    labels: Sequence[str],
    percentiles: Sequence[int | None],
    pair: Sequence[Figures | None],
    tolerances: Tolerances,
    unit: str,
    gates: bool,
) -> MetricComparison:
    base, cur = pair
    if base is None or cur is None:
        missing = [run for run, f in (("baseline", base), ("current", cur)) if f is None]
        why = f"no sample in the {' and the '.join(missing)} run"
        return MetricComparison(name, unit, gates, NOT_MEASURED_V, why)
    changes = [
        _change(label, pct, base, cur, j, tolerances.get(name, pct), tolerances.confidence)
        for j, (label, pct) in enumerate(zip(labels, percentiles, strict=True))
    ]
    method = base.method if base.method == cur.method else f"{base.method}; {cur.method}"
    m = MetricComparison(name, unit, gates, "", "", method, (base.samples, cur.samples), changes)
    _summarize(m)
    return m
