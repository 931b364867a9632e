"""The resampling: blocks of consecutive intervals, Student's t, and why it is done by
time: under the slow spells of a shared machine, resampling single samples (or sessions)
calls half the figures of two identical runs different; resampling blocks of time does
so about as often as its confidence says."""

from __future__ import annotations

import numpy as np
import pytest

from harness.compare import judge
from harness.compare.judge import compare
from harness.compare.record import RunRecord, run_record
from harness.compare.resample import block_weights, resolved, t_quantile
from tests.compare.fakes import make_summary

LATENCIES = ("connect", "first_partial", "sentence", "close")


def test_block_weights_draw_runs_of_consecutive_intervals() -> None:
    rng = np.random.default_rng(1)
    w = block_weights(rng, groups=20, block=4, resamples=500)
    assert w.shape == (500, 20)
    assert (w.sum(axis=1) == 20).all(), "each replicate is as long as the run"
    assert w.min() >= 0
    # Each interval is drawn about equally often (circular blocks have no edge effect).
    share = w.sum(axis=0) / w.sum()
    assert np.allclose(share, 1 / 20, atol=0.01)


@pytest.mark.parametrize(
    ("df", "expected"), [(3, 3.182), (5, 2.571), (10, 2.228), (30, 2.042), (1e6, 1.960)]
)
def test_t_quantile_matches_the_table(df: float, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, rel=2e-3)


def test_an_extreme_percentile_needs_samples_beyond_it() -> None:
    assert resolved(20, 50) and not resolved(19, 50)
    assert resolved(200, 95) and not resolved(150, 95)
    assert not resolved(600, 99)


def _detectable_share(runs: list[RunRecord]) -> float:
    """Share of p50/p95 latency figures called different between pairs of these runs."""
    calls = []
    for i in range(0, len(runs) - 1, 2):
        c = compare(runs[i], runs[i + 1], resamples=500, seed=i)
        for m in c.metrics:
            if m.metric in LATENCIES:
                calls += [
                    ch.low is not None and (ch.low > 0 or ch.high < 0)  # type: ignore[operator]
                    for ch in m.changes
                    if ch.figure in ("p50", "p95")
                ]
    return float(np.mean(calls))


@pytest.mark.slow
def test_blocks_of_time_keep_false_detections_near_the_confidence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 20 pairs of runs of the same process: 40 intervals of 8 sessions, every interval's
    # samples moved together by a slow spell (10 ms, twice the samples' own spread).
    runs = [
        run_record(make_summary(seed=s, windows=40, sessions_per_window=8, window_noise=10), "r")
        for s in range(40)
    ]
    by_time = _detectable_share(runs)
    monkeypatch.setattr(judge, "plan_blocks", lambda *a, **k: None)  # by session instead
    by_session = _detectable_share(runs)
    assert by_time <= 0.10, f"block bootstrap called {by_time:.0%} of equal figures different"
    assert by_session >= 0.20, f"by session only {by_session:.0%}: the test lost its noise"
