"""Two load runs compared: one verdict per metric, one exit code, one line.

Each latency metric both runs recorded is compared at p50, p95 and p99; the error ratio
and, where the server recognizes speech, the pooled WER or CER once each; each figure and
metric gets a verdict (``harness.compare.verdicts``). When the runs differ in what makes a
comparison fair (``harness.compare.identity``), every metric is *not comparable*, with
its figures kept for reference. Send lateness is the harness's own health:
its verdict is shown but does not decide the exit code (``gates`` false).

Exit codes (``harness.exitcodes``): ``NOT_COMPARABLE`` before ``REGRESSED`` before ``OK``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from harness.compare import identity
from harness.compare.record import RunRecord
from harness.compare.resample import (
    DEFAULT_RESAMPLES,
    PERCENTILES,
    Figures,
    error_ratio_figures,
    metric_figures,
    paired_rate_replicates,
    plan_blocks,
)
from harness.compare.tolerance import Tolerances
from harness.compare.verdicts import (
    NOT_COMPARABLE_V,
    NOT_MEASURED_V,
    REGRESSED_V,
    SEVERITY,
    MetricComparison,
    compare_figures,
    largest,
)
from harness.exitcodes import NOT_COMPARABLE, OK, REGRESSED
from harness.load.stats import METRICS

FORMAT = "asrx-compare/1"
#: What each exit code of ``asrx compare`` means.
MEANINGS = {
    OK: "no regression",
    REGRESSED: "regressed",
    NOT_COMPARABLE: "not comparable",
}


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
    return compare_figures(kind, [kind.upper()], [None], figures, tolerances, "ratio", True)


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
            worst = ", ".join(largest(m) for m in self.gating(REGRESSED_V))
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
        m = compare_figures(name, labels, PERCENTILES, pair, tolerances, "ms", gates)
        m.distribution = {
            "baseline": (base.summary.get("distribution") or {}).get(name) or [],
            "current": (cur.summary.get("distribution") or {}).get(name) or [],
        }
        metrics.append(m)
    ratio = [error_ratio_figures(r, b, rng, resamples) for r, b in zip(runs, blocks, strict=True)]
    metrics.append(
        compare_figures("error_ratio", ["ratio"], [None], ratio, tolerances, "ratio", True)
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
