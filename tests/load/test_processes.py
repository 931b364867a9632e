"""``--processes 2``: Locust forks two workers under a master on one machine; the asrx user
runs in both, the master's merged statistics are the exact sum of theirs, it alone writes
the reports, and its exit code is the gate's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.exitcodes import OK, SLO_BREACHED
from harness.load.stats import RunStats
from tests.conftest import asrx_exe
from tests.load.runs import clean_env, locust_cmd

#: Users and a run short enough for a test, long enough for each worker to end sessions.
RUN = ["--headless", "-u", "8", "-r", "8", "-t", "9s", "--processes", "2"]


def run(cmd: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    args = [*RUN, "--asrx-stats-out", "stats.json", "--asrx-report-dir", "reports"]
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, timeout=120, cwd=tmp_path, env=clean_env()
    )


def merged_and_parts(tmp_path: Path) -> tuple[RunStats, list[RunStats]]:
    merged = RunStats.from_dict(json.loads((tmp_path / "stats.json").read_text()))
    files = sorted(tmp_path.glob("stats.worker-*.json"))
    assert len(files) == 2, sorted(p.name for p in tmp_path.iterdir())
    return merged, [RunStats.from_dict(json.loads(p.read_text())) for p in files]


def assert_exact_sum(merged: RunStats, parts: list[RunStats]) -> None:
    assert all(p.sessions_ok > 0 for p in parts), "both workers should have streamed"
    assert merged.sessions == sum(p.sessions for p in parts)
    assert merged.sessions_ok == sum(p.sessions_ok for p in parts)
    assert merged.failures == sum((p.failures for p in parts), start=type(merged.failures)())
    for name, hist in merged.histograms.items():
        total = RunStats().histograms[name]
        for p in parts:
            total.merge(p.histograms[name])
        assert hist.count == total.count, name
        assert hist.encode() == total.encode(), f"{name}: not the same buckets"


@pytest.mark.slow
def test_asrx_load_with_two_processes_merges_exactly_and_reports_once(tmp_path: Path) -> None:
    done = run([*asrx_exe(), "load"], tmp_path)
    assert done.returncode == OK, done.stderr[-3000:]
    merged, parts = merged_and_parts(tmp_path)
    assert_exact_sum(merged, parts)

    reports = sorted(p.name for p in (tmp_path / "reports").iterdir())
    assert [n for n in reports if n.endswith(".html")] == [
        next(n for n in reports if n.startswith("asrx-report-")),
        "asrx-report.html",
    ], reports  # one report (and its timestamped copy), by the master only
    summary = json.loads((tmp_path / "reports" / "asrx-summary.json").read_text())
    assert summary["exit_code"] == OK
    assert summary["sessions"] == merged.sessions
    assert summary["sessions_ok"] == merged.sessions_ok
    for name, hist in merged.histograms.items():
        assert summary["percentiles"][name]["count"] == hist.count, name


@pytest.mark.slow
def test_locust_with_two_processes_exits_with_the_gates_code(tmp_path: Path) -> None:
    """An SLO no server meets: the master's gate, on the merged figures, exits 3."""
    done = run([*locust_cmd(), "--slo-p95-first-partial-ms", "1"], tmp_path)
    assert done.returncode == SLO_BREACHED, done.stderr[-3000:]
    merged, parts = merged_and_parts(tmp_path)
    assert_exact_sum(merged, parts)
    summary = json.loads((tmp_path / "reports" / "asrx-summary.json").read_text())
    assert summary["exit_code"] == SLO_BREACHED and not summary["passed"]


def test_a_worker_computes_locusts_default_options_once() -> None:
    """Locust's worker asks for its default options once per option of every spawn message;
    each ask rebuilt the whole argument parser (tens of ms without a frame sent per ramp
    step). Run in a subprocess: importing Locust patches the standard library."""
    check = (
        "from locust import argument_parser as ap\n"
        "from harness.load.lifecycle import cache_locust_defaults\n"
        "fresh = ap.default_args_dict()\n"
        "cache_locust_defaults(); cache_locust_defaults()\n"
        "first = ap.default_args_dict()\n"
        "assert first == fresh and ap.default_args_dict() is first\n"
        "assert ap.default_args_dict.cache_info().misses == 1\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, timeout=60, env=clean_env()
    )
    assert done.returncode == 0, done.stderr[-2000:]
