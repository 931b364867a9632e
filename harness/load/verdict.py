"""The checks a load run is judged on, and the one exit code they give.

``evaluate`` turns a run's ``RunStats`` into one ``Verdict`` per check. Three always apply,
thresholds or not, because a run that could not test must never look green
(docs/protocol.md §6):

- ``sessions_completed``: at least one session completed;
- ``harness_not_saturated``: p99 send lateness within ``lateness_bound_ms`` (a saturated
  harness's latencies are untrusted, docs/protocol.md §5);
- ``max_error_ratio``: failed sessions over all sessions within the allowed ratio (default
  0: any failed session fails the run);

then one per configured latency, word or accuracy threshold. A threshold whose metric was
not measured (no samples) fails rather than passing silently, saying why when it can (a
word latency needs words with timings that the server recognized). A run the harness stopped
(every session refused, no corpus) gets a failed ``run_not_aborted`` check with the cause.

``exit_code`` gives the run's code (``harness.exitcodes``), ``headline`` its one-line
meaning; the summary JSON, the HTML report and the process exit all take them from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.exitcodes import HARNESS_SATURATED, OK, SLO_BREACHED, TARGET_FAILED, USAGE
from harness.load.slo import LATENCY_KEYS_SPEC, SLO, WORD_METRICS, WORD_RATIO_KEYS_SPEC
from harness.load.stats import TIMED_STATUSES, RunStats
from harness.protocol.metrics import DEFAULT_LATENESS_BOUND_MS

RUN_VERDICT = "sessions_completed"
HEALTH_VERDICT = "harness_not_saturated"
ERROR_RATIO_VERDICT = "max_error_ratio"
ABORT_VERDICT = "run_not_aborted"

#: What each exit code of a load run means.
MEANINGS: dict[int, str] = {
    OK: "passed: every check held",
    TARGET_FAILED: "run failed: sessions failed or none completed",
    USAGE: "usage error: a bad option, host or corpus",
    SLO_BREACHED: "SLO breached",
    HARNESS_SATURATED: "harness saturated: latencies untrusted",
}


@dataclass(frozen=True)
class Verdict:
    name: str
    threshold: float | None
    measured: float | None
    passed: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "threshold": self.threshold,
            "measured": self.measured,
            "passed": self.passed,
            "reason": self.reason,
        }


def _ceiling(
    name: str, threshold: float, measured: float | None, unit: str, why: str = "no samples"
) -> Verdict:
    if measured is None:
        return Verdict(name, threshold, None, False, f"not measured: {why}")
    passed = measured <= threshold
    op = "<=" if passed else ">"
    return Verdict(
        name, threshold, measured, passed, f"{measured:g}{unit} {op} {threshold:g}{unit}"
    )


def unmeasured_words(stats: RunStats, metric: str = "word_upl") -> str:
    """Why a run has no sample of a word ``metric`` (or no word ratio): what its words
    became."""
    timed = sum(stats.words[s] for s in TIMED_STATUSES)
    if not timed:
        if stats.words["untimed"]:
            return f"none of the {stats.words['untimed']} reference words had timings"
        return (
            "no completed session's utterance had words with timings (give the corpus "
            "word timings: asrx corpus import --align or --timings)"
        )
    if not stats.words["final"] + stats.words["lost"]:
        return f"the server's text held none of the {timed} timed words (all missed)"
    if metric == "word_final" and not stats.words["final"]:
        return f"none of the {timed} timed words was still shown at the end (all lost)"
    return "no samples"


def _unmeasured(stats: RunStats, metric: str) -> str:
    """Why a run has no sample of ``metric``."""
    if metric in WORD_METRICS:
        return unmeasured_words(stats, metric)
    if metric == "sentence" and stats.segmentation_mismatches:
        return (
            f"in {stats.segmentation_mismatches} of {stats.sessions_ok} completed sessions "
            "the server cut a different number of sentences than the corpus has speech "
            "segments, which leaves sentence latency undefined (word latency is not: "
            "docs/protocol.md#word-latency)"
        )
    return "no samples"


def lateness_p99(stats: RunStats) -> float | None:
    hist = stats.histograms.get("send_lateness")
    return hist.percentile(99) if hist is not None else None


def is_saturated(stats: RunStats, bound_ms: float = DEFAULT_LATENESS_BOUND_MS) -> bool:
    p99 = lateness_p99(stats)
    return p99 is not None and p99 > bound_ms


def _failures_text(stats: RunStats) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in sorted(stats.failures.items())) or "none"


def _completed(stats: RunStats) -> Verdict:
    n = stats.sessions_ok
    reason = f"{n} session(s) completed"
    if not n:
        reason += f"; failures: {_failures_text(stats)}"
    return Verdict(RUN_VERDICT, 1, n, n > 0, reason)


def _health(stats: RunStats, bound: float) -> Verdict:
    p99 = lateness_p99(stats)
    if p99 is None:
        return Verdict(HEALTH_VERDICT, bound, None, True, "no frames sent")
    ok = p99 <= bound
    reason = f"p99 send lateness {p99:g} ms {'<=' if ok else '>'} {bound:g} ms"
    if not ok:
        reason += ": harness saturated, latencies untrusted"
    return Verdict(HEALTH_VERDICT, bound, p99, ok, reason)


def _error_ratio(stats: RunStats, limit: float) -> Verdict:
    if not stats.attempts:
        return Verdict(ERROR_RATIO_VERDICT, limit, None, False, "no session ran")
    ratio = stats.error_ratio
    ok = ratio <= limit
    reason = (
        f"{stats.failed} of {stats.attempts} session(s) failed (ratio {ratio:.4g} "
        f"{'<=' if ok else '>'} {limit:g})"
    )
    if stats.failed:
        reason += f": {_failures_text(stats)}"
    return Verdict(ERROR_RATIO_VERDICT, limit, ratio, ok, reason)


def evaluate(stats: RunStats, slo: SLO, aborted: str | None = None) -> list[Verdict]:
    """Every check of the run: the three that always apply, then the thresholds.

    ``aborted`` is why the harness stopped the run early, if it did.
    """
    verdicts = []
    if aborted:
        verdicts.append(Verdict(ABORT_VERDICT, None, None, False, f"stopped: {aborted}"))
    verdicts += [
        _completed(stats),
        _health(stats, slo.lateness_bound_ms),
        _error_ratio(stats, slo.error_ratio_limit),
    ]
    for key, (metric, pct) in LATENCY_KEYS_SPEC.items():
        threshold = getattr(slo, key)
        if threshold is not None:
            hist = stats.histograms.get(metric)
            measured = hist.percentile(pct) if hist is not None else None
            why = _unmeasured(stats, metric)
            verdicts.append(_ceiling(key, threshold, measured, " ms", why))
    for key, status in WORD_RATIO_KEYS_SPEC.items():
        threshold = getattr(slo, key)
        if threshold is not None:
            ratio = stats.word_ratio(status)
            verdicts.append(_ceiling(key, threshold, ratio, "", unmeasured_words(stats)))
    for key, metric in (("max_wer", "wer"), ("max_cer", "cer")):
        threshold = getattr(slo, key)
        if threshold is not None:
            verdicts.append(_ceiling(key, threshold, stats.pooled_error_rate(metric), ""))
    return verdicts


def exit_code(verdicts: Sequence[Verdict], aborted_code: int | None = None) -> int:
    """The run's exit code: the first failed check in this order decides.

    A run the harness stopped keeps the code it stopped with; no completed session is a
    failed run; a saturated harness is 4 (its latencies, and so its breaches, are
    untrusted); failed sessions beyond the allowed ratio fail the run; any other failed
    check is a breached SLO.
    """
    failed = {v.name for v in verdicts if not v.passed}
    if aborted_code is not None and ABORT_VERDICT in failed:
        return aborted_code
    if RUN_VERDICT in failed:
        return TARGET_FAILED
    if HEALTH_VERDICT in failed:
        return HARNESS_SATURATED
    if ERROR_RATIO_VERDICT in failed:
        return TARGET_FAILED
    return SLO_BREACHED if failed else OK


def headline(verdicts: Sequence[Verdict], code: int) -> str:
    """The run's outcome in one line: what passed, or the check that decided the failure."""
    failed = [v for v in verdicts if not v.passed]
    if not failed:
        return MEANINGS[OK]
    decisive = {
        TARGET_FAILED: (ABORT_VERDICT, RUN_VERDICT, ERROR_RATIO_VERDICT),
        HARNESS_SATURATED: (HEALTH_VERDICT,),
    }.get(code, ())
    first = next((v for name in decisive for v in failed if v.name == name), failed[0])
    head = MEANINGS.get(code, "failed").partition(":")[0]
    more = len(failed) - 1
    also = f" (and {more} more failed check{'s' * (more > 1)})" if more else ""
    return f"{head}: {first.name}: {first.reason}{also}"
