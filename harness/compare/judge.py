"""Two load runs compared: one verdict per metric, one exit code, one line.

Each latency metric both runs recorded is compared at p50, p95 and p99; the error ratio
and, where the server recognizes speech, the pooled WER or CER once each. A change
(current minus baseline) gets an interval at the chosen confidence from the resampling
(``harness.compare.resample``), and a verdict:

- *regressed*: the interval lies above 0 and the change exceeds its tolerance;
- *improved*: the interval lies below 0 and the change exceeds its tolerance;
- *within tolerance*: detectable, but no larger than the tolerance;
- *no detectable change*: the interval holds 0 (or the samples are too few to tell);
- *not measured*: a run has no sample of it;
- *not comparable*: the runs differ in what makes a comparison fair
  (``harness.compare.identity``); every metric says so, with the figures for reference.

A metric takes the worst of its percentiles. Send lateness is the harness's own health:
its verdict is shown but does not decide the exit code (``gates`` false).

Exit codes (``harness.exitcodes``): ``NOT_COMPARABLE`` before ``REGRESSED`` before ``OK``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from harness.compare import identity
from harness.compare.record import RunRecord
from harness.compare.resample import (
    DEFAULT_RESAMPLES,
    MIN_TAIL,
    PERCENTILES,
    Figures,
    error_ratio_figures,
    interval,
    metric_figures,
    paired_rate_replicates,
    plan_blocks,
    resolved,
)
from harness.compare.tolerance import Tolerance, Tolerances
from harness.exitcodes import NOT_COMPARABLE, OK, REGRESSED
from harness.load.stats import METRICS

FORMAT = "asrx-compare/1"
REGRESSED_V = "regressed"
IMPROVED_V = "improved"
WITHIN_V = "within tolerance"
NO_CHANGE_V = "no detectable change"
NOT_MEASURED_V = "not measured"
NOT_COMPARABLE_V = "not comparable"
#: Worst first: a metric takes the first of these any of its figures has.
SEVERITY = (NOT_COMPARABLE_V, REGRESSED_V, IMPROVED_V, WITHIN_V, NO_CHANGE_V, NOT_MEASURED_V)
#: What each exit code of ``asrx compare`` means.
MEANINGS = {
    OK: "no regression",
    REGRESSED: "regressed",
    NOT_COMPARABLE: "not comparable",
}


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


def _largest(m: MetricComparison) -> str:
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


def _compare_figures(
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


def _accuracy(
    kind: str,
    base: RunRecord,
    cur: RunRecord,
    tolerances: Tolerances,
    rng: np.random.Generator,
    resamples: int,
) -> MetricComparison | None:
    """Pooled WER or CER over the utterances both runs scored, paired by utterance, each
    utterance weighed by its reference length, not by how many sessions replayed it."""
    accs = [r.summary.get("accuracy") or {} for r in (base, cur)]
    rows = [
        {a["utterance_id"]: a for a in acc.get("utterances", []) if a.get("metric") == kind}
        for acc in accs
    ]
    if not any(rows):
        return None
    if not all(acc.get("applicable", True) for acc in accs):
        why = next(acc.get("note") for acc in accs if not acc.get("applicable", True))
        return MetricComparison(kind, "ratio", True, NOT_MEASURED_V, str(why or "not applicable"))
    shared = sorted(
        uid
        for uid in rows[0].keys() & rows[1].keys()
        if rows[0][uid]["units"] and rows[1][uid]["units"]
    )
    if not shared:
        return MetricComparison(
            kind, "ratio", True, NOT_MEASURED_V, "no utterance scored in both runs"
        )
    # Per session: each utterance counts once, however often a run happened to replay it.
    per = [[max(r[uid].get("sessions") or 1, 1) for uid in shared] for r in rows]
    errors = np.array([[r[uid]["errors"] for uid in shared] for r in rows], dtype=float) / per
    units = np.array([[r[uid]["units"] for uid in shared] for r in rows], dtype=float) / per
    point = errors.sum(axis=1) / units.sum(axis=1)
    reps = paired_rate_replicates(errors, units, rng, resamples)
    method = f"paired bootstrap over the {len(shared)} utterances both runs scored"
    figures = [
        Figures(point[i : i + 1], reps[:, i : i + 1], len(shared), method, len(shared) - 1.0)
        for i in (0, 1)
    ]
    return _compare_figures(kind, [kind.upper()], [None], figures, tolerances, "ratio", True)


def _order(names: Iterable[str]) -> list[str]:
    known = [n for n in METRICS if n in names]
    return known + sorted(set(names) - set(known))


@dataclass
class Comparison:
    baseline: RunRecord
    current: RunRecord
    tolerances: Tolerances
    differences: list[str]
    allowed: list[str]
    notes: list[str]
    metrics: list[MetricComparison]
    resamples: int
    seed: int

    @property
    def comparable(self) -> bool:
        return not self.differences

    def gating(self, verdict: str) -> list[MetricComparison]:
        return [m for m in self.metrics if m.gates and m.verdict == verdict]

    @property
    def exit_code(self) -> int:
        if not self.comparable:
            return NOT_COMPARABLE
        return REGRESSED if self.gating(REGRESSED_V) else OK

    @property
    def headline(self) -> str:
        """The outcome in one line."""
        code = self.exit_code
        if code == NOT_COMPARABLE:
            return f"not comparable: {'; '.join(self.differences)}"
        counts = {v: sum(m.verdict == v for m in self.metrics) for v in SEVERITY}
        tally = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
        unknown = sum(1 for m in self.metrics if m.gates for c in m.changes if c.note)
        if unknown:  # a short run must not read as a clean bill of health
            tally += f"; {unknown} figure{'s' * (unknown > 1)} with too few samples to tell"
        if code == REGRESSED:
            worst = ", ".join(_largest(m) for m in self.gating(REGRESSED_V))
            return f"regressed: {worst} ({tally})"
        return f"no regression ({tally})"

    def to_dict(self) -> dict[str, Any]:
        def run(r: RunRecord) -> dict[str, Any]:
            s = r.summary
            return {
                "path": r.path,
                "started_at": s.get("started_at"),
                "headline": s.get("headline"),
                "identity": r.identity,
            }

        return {
            "format": FORMAT,
            "exit_code": self.exit_code,
            "verdict": MEANINGS[self.exit_code],
            "headline": self.headline,
            "comparable": self.comparable,
            "differences": self.differences,
            "allowed_differences": self.allowed,
            "notes": self.notes,
            "baseline": run(self.baseline),
            "current": run(self.current),
            "confidence": self.tolerances.confidence,
            "tolerances": dict(self.tolerances.specs),
            "resamples": self.resamples,
            "seed": self.seed,
            "metrics": [asdict(m) for m in self.metrics],
        }


def compare(
    base: RunRecord,
    cur: RunRecord,
    tolerances: Tolerances | None = None,
    *,
    allow: Iterable[str] = (),
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Comparison:
    """Compare ``cur`` with ``base`` (the same inputs and seed give the same verdicts)."""
    tolerances = tolerances or Tolerances()
    rng = np.random.default_rng(seed)
    refused, allowed = identity.differences(base.identity, cur.identity, allow)
    notes = identity.notes(base.identity, cur.identity)
    runs = (base, cur)
    blocks = [plan_blocks(r, rng, resamples) for r in runs]
    labels = [f"p{p}" for p in PERCENTILES]
    metrics: list[MetricComparison] = []
    for name in _order(set(base.histograms) | set(cur.histograms)):
        meta = METRICS.get(name)
        gates = meta.server_latency if meta is not None else True
        pair = [
            metric_figures(r, name, b, rng, resamples) for r, b in zip(runs, blocks, strict=True)
        ]
        m = _compare_figures(name, labels, PERCENTILES, pair, tolerances, "ms", gates)
        m.distribution = {
            "baseline": (base.summary.get("distribution") or {}).get(name) or [],
            "current": (cur.summary.get("distribution") or {}).get(name) or [],
        }
        metrics.append(m)
    ratio = [error_ratio_figures(r, b, rng, resamples) for r, b in zip(runs, blocks, strict=True)]
    metrics.append(
        _compare_figures("error_ratio", ["ratio"], [None], ratio, tolerances, "ratio", True)
    )
    for kind in ("wer", "cer"):
        acc = _accuracy(kind, base, cur, tolerances, rng, resamples)
        if acc is not None:
            metrics.append(acc)
    if refused:
        for m in metrics:
            m.verdict, m.reason = NOT_COMPARABLE_V, "; ".join(refused)
            m.changes = [replace(c, verdict=NOT_COMPARABLE_V) for c in m.changes]
    return Comparison(base, cur, tolerances, refused, allowed, notes, metrics, resamples, seed)
