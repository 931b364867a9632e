"""The gate against a baseline, end to end: real Locust runs against the reference server.

Two runs of the same setup compare as no change and the second exits 0; a run against a
server that holds every message back 50 ms (``--delay-ms 50``) compares as regressed on
first-partial and sentence latency and exits with ``REGRESSED``; its report shows the
comparison and the trend across the earlier runs. About 45 s.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.exitcodes import OK, REGRESSED, USAGE
from harness.server.embedded import EmbeddedServer
from tests.load.runs import clean_env, run_locust

KEY = "k-compare-gate-4e1d"
#: Short runs, sampled every second so each holds enough intervals to resample by time.
RUN = ("--headless", "-u", "12", "-r", "12", "-t", "12s", "--asrx-sample-interval", "1")
LATENCIES = ("connect", "first_partial", "sentence", "close")


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    extra = ("--max-sessions", "1000")
    with (
        EmbeddedServer(apikeys=(KEY,), extra_args=extra) as plain,
        EmbeddedServer(apikeys=(KEY,), delay_ms=50, extra_args=extra) as delayed,
    ):
        yield {"plain": plain.url, "delayed": delayed.url}


def load(url: str, out: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    done = run_locust(
        *RUN, "--host", url, "--asrx-report-dir", str(out), *extra,
        env=clean_env(ASRX_APIKEY=KEY), timeout=90, cwd=out.parent,
    )  # fmt: skip
    summary_path = out / "asrx-summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    return done.returncode, summary, done.stderr


def verdicts(summary: dict[str, Any]) -> dict[str, str]:
    return {m["metric"]: m["verdict"] for m in summary["comparison"]["metrics"]}


@pytest.mark.slow
def test_same_setup_passes_and_a_delayed_server_regresses(
    servers: dict[str, str], tmp_path: Path
) -> None:
    code, base, err = load(servers["plain"], tmp_path / "base")
    assert code == OK, err[-2000:]
    baseline = str(tmp_path / "base" / "asrx-summary.json")

    code, same, err = load(servers["plain"], tmp_path / "same", "--asrx-baseline", baseline)
    assert code == OK, f"{same.get('headline')}\n{err[-2000:]}"
    v = verdicts(same)
    changed = {m: v[m] for m in LATENCIES if v[m] in ("regressed", "improved")}
    assert not changed, f"same setup flagged {changed}: {same['comparison']['headline']}"

    history = tmp_path / "history"
    history.mkdir()
    for run in ("base", "same"):
        shutil.copy(tmp_path / run / "asrx-summary.json", history / f"{run}.json")
    code, slow, err = load(
        servers["delayed"], tmp_path / "slow", "--asrx-baseline", baseline,
        "--asrx-history", str(history),
    )  # fmt: skip
    assert code == REGRESSED, f"{slow.get('headline')}\n{err[-2000:]}"
    v = verdicts(slow)
    assert v["first_partial"] == "regressed" and v["sentence"] == "regressed", v
    assert slow["exit_code"] == REGRESSED and slow["headline"].startswith("baseline: regressed")
    assert [r["started_at"] for r in slow["history"]["runs"]][:2] == [
        base["started_at"],
        same["started_at"],
    ]
    report = (tmp_path / "slow" / "asrx-report.html").read_text(encoding="utf-8")
    assert "Against the baseline" in report and "first_partial across runs" in report
    assert KEY not in report and KEY not in json.dumps(slow)


@pytest.mark.slow
def test_a_baseline_that_is_not_a_summary_stops_the_run_at_start(
    servers: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "baseline.json"
    bad.write_text("{}")
    code, summary, err = load(servers["plain"], tmp_path / "run", "--asrx-baseline", str(bad))
    assert code == USAGE and not summary
    lines = [ln for ln in err.splitlines() if "baseline.json" in ln]
    assert lines and "not a load summary" in lines[0] and "Traceback" not in err
