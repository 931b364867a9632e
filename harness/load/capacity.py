"""The concurrency limit: a step ramp that stops at the first step breaking an SLO.

``StepRamp.tick`` is the body of ``locustfiles/capacity.py``'s ``LoadTestShape``: it
holds ``start`` users for ``hold_s`` seconds, then ``start + step``, and so on up to
``max_users``. At the end of each hold it judges that step on that step's window of the
run (``harness.load.window``: the merged ``RunStats`` now minus a snapshot taken when the
step began, exact to the histogram bucket) against the capacity SLOs: every configured
latency (word latencies included), missed-word and error-ratio threshold, plus the two
checks that always apply (sessions completed in the window, harness not saturated). The
first step that breaks one ends the run; the step before it is *the highest step that
held*.

Accuracy ceilings (``max_wer``/``max_cer``) judge the whole run, not steps. With no
latency or error threshold configured the ramp uses ``DEFAULT_CAPACITY_SLO``.

Windows see a session when it ends: a session started late in step k and ended in step
k+1 counts for k+1. Keep the hold several utterance lengths long (and, distributed,
several of Locust's 3 s worker reports) so that edge is small.

Exit codes of a capacity run (``StepRamp.exit_code``; the gate sets them):
0 a limit was found (or ``max_users`` held), 1 no session completed at all, 3 not even
the first step held, 4 the ramp stopped because the harness saturated (the limit found
is the harness's, not the server's).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from harness.errors import UsageError
from harness.exitcodes import HARNESS_SATURATED, OK, SLO_BREACHED, TARGET_FAILED
from harness.load import slo, verdict
from harness.load.stats import RunStats
from harness.load.window import snapshot, subtract

logger = logging.getLogger("asrx.capacity")

#: What a capacity run's exit code means (``StepRamp.exit_code``).
EXIT_MEANINGS: dict[int, str] = {
    OK: "capacity limit found",
    TARGET_FAILED: "run failed: no session completed",
    SLO_BREACHED: "not even the first step held",
    HARNESS_SATURATED: "harness saturated: the limit found is the harness's",
}

#: The thresholds a step is judged on (accuracy is judged on the whole run).
STEP_KEYS = (
    "p95_first_partial_ms",
    "p99_first_partial_ms",
    "p95_sentence_ms",
    "p99_sentence_ms",
    "p95_close_ms",
    "p50_upl_ms",
    "p90_upl_ms",
    "p95_upl_ms",
    "p99_upl_ms",
    "p95_word_final_ms",
    "p99_word_final_ms",
    "max_missed_word_ratio",
    "max_error_ratio",
)
#: Used when no step threshold is configured: latencies a live caption user tolerates.
DEFAULT_CAPACITY_SLO = slo.SLO(
    p95_first_partial_ms=1500.0, p95_sentence_ms=2000.0, max_error_ratio=0.01
)
#: Defaults of the step options.
STEP_START = 1
STEP_USERS = 1
STEP_HOLD_S = 30.0
STEP_MAX = 50


@dataclass(frozen=True)
class StepPlan:
    start: int = STEP_START
    step: int = STEP_USERS
    hold_s: float = STEP_HOLD_S
    max_users: int = STEP_MAX
    #: Users started per second when a step begins (default: a step's increase in 1 s).
    spawn_rate: float | None = None

    def __post_init__(self) -> None:
        if self.start < 1 or self.step < 1 or self.max_users < 1:
            raise UsageError("--step-start, --step-users and --step-max must be >= 1")
        if self.max_users < self.start:
            raise UsageError(f"--step-max {self.max_users} is below --step-start {self.start}")
        if not self.hold_s > 0:
            raise UsageError(f"--step-hold must be > 0 seconds, got {self.hold_s}")
        if self.spawn_rate is not None and not self.spawn_rate > 0:
            raise UsageError(f"--step-spawn-rate must be > 0, got {self.spawn_rate}")

    def levels(self) -> list[int]:
        """User counts of every step, ``max_users`` included as the last."""
        out = list(range(self.start, self.max_users + 1, self.step))
        if out[-1] != self.max_users:
            out.append(self.max_users)
        return out

    @property
    def rate(self) -> float:
        return self.spawn_rate or float(max(self.start, self.step))


def step_slo(configured: slo.SLO) -> slo.SLO:
    """The thresholds steps are judged on: the configured step keys, or the defaults."""
    chosen = {k: getattr(configured, k) for k in STEP_KEYS}
    if all(v is None for v in chosen.values()):
        chosen = {k: getattr(DEFAULT_CAPACITY_SLO, k) for k in STEP_KEYS}
    return replace(slo.SLO(**chosen), lateness_bound_ms=configured.lateness_bound_ms)


def _pcts(stats: RunStats, name: str) -> dict[str, float | int | None]:
    hist = stats.histograms[name]
    return {
        "count": hist.count,
        "p50": hist.percentile(50),
        "p95": hist.percentile(95),
        "p99": hist.percentile(99),
    }


@dataclass
class StepResult:
    step: int
    users: int
    start_s: float
    end_s: float
    window: RunStats
    verdicts: list[verdict.Verdict]

    @property
    def held(self) -> bool:
        return all(v.passed for v in self.verdicts)

    @property
    def breaches(self) -> list[str]:
        return [f"{v.name}: {v.reason}" for v in self.verdicts if not v.passed]

    @property
    def saturated(self) -> bool:
        return any(v.name == verdict.HEALTH_VERDICT and not v.passed for v in self.verdicts)

    def to_dict(self) -> dict[str, Any]:
        w = self.window
        return {
            "step": self.step,
            "users": self.users,
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "sessions_ok": w.sessions_ok,
            "failures": sum(w.failures.values()),
            "failure_kinds": dict(w.failures),
            "error_ratio": w.error_ratio,
            "first_partial": _pcts(w, "first_partial"),
            "sentence": _pcts(w, "sentence"),
            "close": _pcts(w, "close"),
            "word_upl": _pcts(w, "word_upl"),
            "word_final": _pcts(w, "word_final"),
            "missed_word_ratio": w.word_ratio("missed"),
            "lateness_p99_ms": verdict.lateness_p99(w),
            "held": self.held,
            "saturated": self.saturated,
            "breaches": self.breaches,
            "verdicts": [v.to_dict() for v in self.verdicts],
        }


@dataclass
class StepRamp:
    """The step ramp's state machine; ``tick()`` is polled about once a second."""

    plan: StepPlan
    objectives: slo.SLO
    stats: Callable[[], RunStats | None]
    clock: Callable[[], float] = time.monotonic
    results: list[StepResult] = field(default_factory=list)
    stopped_reason: str = ""
    _levels: list[int] = field(default_factory=list)
    _index: int = -1
    _t0: float = 0.0
    _step_start: float = 0.0
    _snapshot: RunStats | None = None
    _done: bool = False

    def __post_init__(self) -> None:
        self._levels = self.plan.levels()
        self.objectives = step_slo(self.objectives)

    def _current(self) -> RunStats:
        return self.stats() or RunStats()

    def _begin(self, index: int, now: float) -> None:
        self._index = index
        self._step_start = now
        self._snapshot = snapshot(self._current())
        logger.info(
            "asrx capacity: step %d/%d: %d users for %g s",
            index + 1,
            len(self._levels),
            self._levels[index],
            self.plan.hold_s,
        )

    def tick(self) -> tuple[int, float] | None:
        """(users, spawn rate) for now, or None once the ramp has ended."""
        if self._done:
            return None
        now = self.clock()
        if self._index < 0:
            self._t0 = now
            self._begin(0, now)
        elif now - self._step_start >= self.plan.hold_s:
            result = self._judge(now)
            if not result.held or self._index + 1 >= len(self._levels):
                self._finish(result)
                return None
            self._begin(self._index + 1, now)
        return self._levels[self._index], self.plan.rate

    def _judge(self, now: float) -> StepResult:
        assert self._snapshot is not None
        window = subtract(self._current(), self._snapshot)
        result = StepResult(
            step=self._index + 1,
            users=self._levels[self._index],
            start_s=self._step_start - self._t0,
            end_s=now - self._t0,
            window=window,
            verdicts=verdict.evaluate(window, self.objectives),
        )
        self.results.append(result)
        logger.info(
            "asrx capacity: step %d (%d users) %s%s",
            result.step,
            result.users,
            "held" if result.held else "BROKE: ",
            "; ".join(result.breaches),
        )
        return result

    def _finish(self, last: StepResult) -> None:
        self._done = True
        if last.held:
            self.stopped_reason = (
                f"reached --step-max {last.users} users without a breach: "
                "the limit is at or above it"
            )
        else:
            self.stopped_reason = f"step {last.step} ({last.users} users) broke " + "; ".join(
                last.breaches
            )
        logger.info("asrx capacity: %s", self.summary_line())

    @property
    def highest_held(self) -> StepResult | None:
        held = [r for r in self.results if r.held]
        return held[-1] if held else None

    def summary_line(self) -> str:
        best = self.highest_held
        head = (
            f"highest step that held: {best.users} users (step {best.step})"
            if best
            else "no step held"
        )
        return f"{head}; {self.stopped_reason or self._interrupted_reason()}"

    def _interrupted_reason(self) -> str:
        if self._index < 0:
            return "the ramp never started"
        return f"stopped during step {self._index + 1} ({self._levels[self._index]} users)"

    def exit_code(self, run_verdicts: list[verdict.Verdict]) -> int:
        """The capacity run's exit code (see the module docstring)."""
        if not self.results:
            return verdict.exit_code(run_verdicts)
        if not any(r.window.sessions_ok for r in self.results):
            return TARGET_FAILED
        if self.results[-1].saturated:
            return HARNESS_SATURATED
        return OK if self.highest_held else SLO_BREACHED

    def to_dict(self) -> dict[str, Any]:
        best = self.highest_held
        return {
            "plan": {
                "start": self.plan.start,
                "step": self.plan.step,
                "hold_s": self.plan.hold_s,
                "max_users": self.plan.max_users,
                "spawn_rate": self.plan.rate,
            },
            "step_slo": {k: v for k, v in self.objectives.settings().items() if v is not None},
            "steps": [r.to_dict() for r in self.results],
            "highest_held_users": best.users if best else None,
            "highest_held_step": best.step if best else None,
            "stopped_reason": self.stopped_reason or self._interrupted_reason(),
            "summary": self.summary_line(),
        }
