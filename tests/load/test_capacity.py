"""The step ramp: its plan, its judgement of each step's window, and a real capacity run."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.exitcodes import HARNESS_SATURATED, OK, SLO_BREACHED, TARGET_FAILED
from harness.load import capacity, slo, verdict
from harness.load.capacity import StepPlan, StepRamp
from harness.load.stats import RunStats
from harness.server.embedded import EmbeddedServer
from tests.load.runs import REPO, clean_env

CAPACITY = REPO / "locustfiles" / "capacity.py"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def add_sessions(
    stats: RunStats, n: int, first_partial: float, lateness: float = 0.5, failed: int = 0
) -> None:
    for _ in range(n):
        stats.histograms["first_partial"].record(first_partial)
        stats.histograms["sentence"].record(first_partial * 2)
        stats.histograms["send_lateness"].record(lateness)
    stats.sessions += n + failed
    stats.sessions_ok += n
    if failed:
        stats.failures["rejected"] += failed


def run_ramp(ramp: StepRamp, clock: FakeClock, stats: RunStats, steps: list) -> list:
    """Drive ``ramp``: each element of ``steps`` adds one step's sessions; returns ticks."""
    ticks = [ramp.tick()]
    for add in steps:
        add(stats)
        clock.now += ramp.plan.hold_s
        ticks.append(ramp.tick())
    return ticks


# -- the plan ---------------------------------------------------------------------------
def test_levels_end_at_max() -> None:
    assert StepPlan(start=2, step=3, hold_s=1, max_users=10).levels() == [2, 5, 8, 10]
    assert StepPlan(start=1, step=1, hold_s=1, max_users=3).levels() == [1, 2, 3]


@pytest.mark.parametrize(
    "kwargs",
    [{"start": 0}, {"step": 0}, {"hold_s": 0}, {"start": 5, "max_users": 4}, {"spawn_rate": 0}],
)
def test_bad_plan_is_a_usage_error(kwargs: dict) -> None:
    with pytest.raises(UsageError):
        StepPlan(**kwargs)


def test_defaults_apply_without_step_thresholds() -> None:
    chosen = capacity.step_slo(slo.SLO(max_wer=0.2, lateness_bound_ms=5))
    assert chosen.p95_first_partial_ms == capacity.DEFAULT_CAPACITY_SLO.p95_first_partial_ms
    assert chosen.max_wer is None and chosen.lateness_bound_ms == 5
    assert capacity.step_slo(slo.SLO(p95_sentence_ms=900)) == slo.SLO(p95_sentence_ms=900)


# -- the ramp ----------------------------------------------------------------------------
def test_stops_at_the_first_breaking_step_and_reports_the_one_before() -> None:
    clock, stats = FakeClock(), RunStats()
    ramp = StepRamp(StepPlan(1, 2, 10, 9), slo.SLO(p95_first_partial_ms=500), lambda: stats, clock)
    ticks = run_ramp(
        ramp,
        clock,
        stats,
        [
            lambda s: add_sessions(s, 3, 200),
            lambda s: add_sessions(s, 6, 300),
            lambda s: add_sessions(s, 9, 900),  # only this step's sessions are judged
        ],
    )
    assert ticks == [(1, 2.0), (3, 2.0), (5, 2.0), None]
    assert [r.held for r in ramp.results] == [True, True, False]
    assert ramp.highest_held is not None and ramp.highest_held.users == 3
    assert ramp.tick() is None
    assert ramp.exit_code([]) == OK
    data = ramp.to_dict()
    assert data["highest_held_users"] == 3 and data["highest_held_step"] == 2
    assert data["steps"][2]["first_partial"]["count"] == 9
    assert "step 3 (5 users) broke p95_first_partial_ms" in data["stopped_reason"]


def test_error_ratio_and_an_empty_window_break_a_step() -> None:
    clock, stats = FakeClock(), RunStats()
    ramp = StepRamp(StepPlan(1, 1, 5, 5), slo.SLO(max_error_ratio=0.1), lambda: stats, clock)
    run_ramp(ramp, clock, stats, [lambda s: add_sessions(s, 4, 100, failed=2)])
    assert ramp.results[0].breaches[0].startswith("max_error_ratio")
    assert ramp.exit_code([]) == SLO_BREACHED

    clock, stats = FakeClock(), RunStats()
    ramp = StepRamp(StepPlan(1, 1, 5, 5), slo.SLO(), lambda: stats, clock)
    run_ramp(ramp, clock, stats, [lambda s: None])
    assert ramp.results[0].breaches[0].startswith(verdict.RUN_VERDICT)
    assert ramp.exit_code([]) == TARGET_FAILED


def test_a_saturated_harness_ends_the_ramp_with_exit_4() -> None:
    clock, stats = FakeClock(), RunStats()
    ramp = StepRamp(StepPlan(1, 1, 5, 5), slo.SLO(), lambda: stats, clock)
    run_ramp(
        ramp,
        clock,
        stats,
        [
            lambda s: add_sessions(s, 4, 100),
            lambda s: add_sessions(s, 4, 100, lateness=40),
        ],
    )
    assert ramp.results[-1].saturated and ramp.highest_held.users == 1  # type: ignore[union-attr]
    assert ramp.exit_code([]) == HARNESS_SATURATED


def test_reaching_max_users_without_a_breach() -> None:
    clock, stats = FakeClock(), RunStats()
    ramp = StepRamp(StepPlan(1, 1, 5, 2), slo.SLO(), lambda: stats, clock)
    ticks = run_ramp(ramp, clock, stats, [lambda s: add_sessions(s, 2, 100)] * 2)
    assert ticks[-1] is None and ramp.highest_held.users == 2  # type: ignore[union-attr]
    assert "without a breach" in ramp.stopped_reason


def test_interrupted_before_a_step_ended() -> None:
    clock, stats = FakeClock(), RunStats()
    ramp = StepRamp(StepPlan(1, 1, 5, 2), slo.SLO(), lambda: stats, clock)
    ramp.tick()
    assert ramp.to_dict()["stopped_reason"] == "stopped during step 1 (1 users)"
    assert ramp.exit_code([verdict.Verdict(verdict.RUN_VERDICT, 1, 0, False, "")]) == 1


# -- a real run ---------------------------------------------------------------------------
@pytest.mark.slow
def test_capacity_run_stops_after_step_2_and_reports_step_1(tmp_path: Path) -> None:
    """A server that takes one session at a time: 2 users break the error-ratio SLO."""
    with EmbeddedServer(apikeys=("cap-key",), extra_args=("--max-sessions", "1")) as server:
        started = time.monotonic()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(CAPACITY),
                "--headless",
                "--host",
                server.url,
                "--step-start",
                "1",
                "--step-users",
                "1",
                "--step-hold",
                "8",
                "--step-max",
                "5",
                "--slo-max-error-ratio",
                "0",
                "--slo-p95-first-partial-ms",
                "2000",
                "-t",
                "50s",
                "--asrx-report-dir",
                str(tmp_path / "reports"),
            ],
            env=clean_env(ASRX_APIKEY="cap-key"),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=90,
        )
        elapsed = time.monotonic() - started
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert elapsed < 60, f"capacity run took {elapsed:.0f} s"
    summary = json.loads((tmp_path / "reports" / "asrx-summary.json").read_text())
    cap = summary["capacity"]
    assert [s["users"] for s in cap["steps"]] == [1, 2], cap
    assert cap["highest_held_users"] == 1 and cap["highest_held_step"] == 1
    assert cap["steps"][1]["failure_kinds"].get("rejected", 0) > 0
    assert out.count("asrx capacity: highest step that held: 1 users (step 1)") == 1, out[-3000:]
    html = (tmp_path / "reports" / "asrx-report.html").read_text()
    assert "Highest step that held: <b>1</b> users" in html
    assert "cap-key" not in html and "cap-key" not in json.dumps(summary)
