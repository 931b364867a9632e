"""Load summaries made the way a run makes them (``RunStats``, ``TimeSeries``,
``build_summary``), from samples drawn here, so the comparison is tested on real files."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from harness.load.report import build_summary, target_info
from harness.load.slo import SLO
from harness.load.stats import RunStats
from harness.load.timeseries import TimeSeries
from harness.load.verdict import evaluate

#: Typical figures of a run against the reference server (ms): mean and spread.
TYPICAL = {
    "connect": (2.0, 0.5),
    "first_partial": (350.0, 5.0),
    "sentence": (600.0, 10.0),
    "close": (20.0, 2.0),
}
START = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def make_summary(
    *,
    seed: int = 0,
    windows: int = 15,
    window_s: float = 2.0,
    sessions_per_window: int = 3,
    users: int = 4,
    shift: Mapping[str, float] | None = None,
    window_noise: float = 0.0,
    failures_per_window: int = 0,
    lateness_ms: float = 0.5,
    engine: str | None = "synthetic",
    corpus: str = "",
    frame_bytes: int = 1024,
    accuracy: Mapping[str, tuple[int, int]] | None = None,
    started: dt.datetime = START,
) -> dict[str, Any]:
    """A summary of a fake run: ``windows`` intervals, a few sessions each.

    ``shift`` adds ms to a metric; ``window_noise`` (ms, standard deviation) moves every
    sample of an interval together, the way a slow moment of a shared machine does.
    """
    rng = np.random.default_rng(seed)
    stats, series = RunStats(), TimeSeries()
    shift = shift or {}
    for _ in range(windows):
        offset = rng.normal(0.0, window_noise) if window_noise else 0.0
        for _ in range(sessions_per_window):
            samples = {
                name: [
                    max(0.0, rng.normal(mean, sd) + shift.get(name, 0.0) + offset)
                    for _ in range(2 if name in ("first_partial", "sentence") else 1)
                ]
                for name, (mean, sd) in TYPICAL.items()
            }
            samples["send_lateness"] = list(
                rng.exponential(lateness_ms, 50) + shift.get("send_lateness", 0.0)
            )
            stats.record(samples)
            stats.sessions += 1
            stats.sessions_ok += 1
        for i in range(failures_per_window):
            stats.record_failure("dropped", f"dropped {i}")
            stats.sessions += 1
        series.sample(stats, users)
    for i, row in enumerate(series.rows):  # as if sampled every window_s seconds
        row["t_s"] = round((i + 1) * window_s, 3)
    for uid, (errors, units) in (accuracy or {}).items():
        stats.record_accuracy(uid, "en", "wer", "a b c", "a b c", errors, units)
    settings = {
        "num_users": users,
        "asrx_corpus": corpus,
        "asrx_frame_bytes": frame_bytes,
        "asrx_speed": 1.0,
        "asrx_order": "round-robin",
    }
    ended = started + dt.timedelta(seconds=windows * window_s)
    return build_summary(
        stats=stats,
        slo=SLO(),
        verdicts=evaluate(stats, SLO()),
        settings=settings,
        target=target_info("ws://127.0.0.1:1234/asrx", engine),
        started_at=started,
        ended_at=ended,
        timeseries=series.rows,
    )


def write(path: Path, summary: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary), encoding="utf-8")
    return path
