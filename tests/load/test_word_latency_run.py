"""A Locust run on real speech against the embedded pocketsphinx server: word latencies
reach Locust's request statistics, the summary, the gate and the report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from harness.corpus import REAL_SPEECH_CORPUS, shipped_corpus
from harness.exitcodes import SLO_BREACHED
from tests.load.runs import clean_env, headless, run_locust

pytestmark = pytest.mark.slow


def test_real_speech_gives_upl_everywhere_and_an_impossible_upl_slo_breaches(
    tmp_path: Path,
) -> None:
    reports = tmp_path / "reports"
    proc = run_locust(
        *headless(2, 16),
        "--asrx-engine",
        "pocketsphinx",
        "--asrx-corpus",
        str(shipped_corpus(REAL_SPEECH_CORPUS)),
        "--asrx-report-dir",
        str(reports),
        "--csv",
        str(tmp_path / "locust"),
        "--slo-p90-upl-ms",
        "1",
        env=clean_env(),
        cwd=tmp_path,
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == SLO_BREACHED, out[-3000:]
    summary = json.loads((reports / "asrx-summary.json").read_text())

    upl = summary["percentiles"]["word_upl"]
    assert upl["count"] > 0 and upl["p50"] > 0, upl
    assert summary["percentiles"]["word_final"]["count"] > 0
    words = summary["words"]
    assert words["applicable"] and words["counts"]["final"] > 0, words["counts"]
    assert words["counts"]["final"] + words["counts"]["lost"] == upl["count"]
    assert 0 <= words["missed_ratio"] < 1
    assert {s["utterance_id"] for s in words["samples"]} <= {
        "austen-0870",
        "austen-0880",
        "austen-0890",
        "austen-0920",
        "austen-0930",
    } and words["samples"]

    failed = [v for v in summary["verdicts"] if not v["passed"]]
    assert [v["name"] for v in failed] == ["p90_upl_ms"], summary["verdicts"]
    assert failed[0]["measured"] > 1 and "> 1 ms" in failed[0]["reason"]

    # Locust's own request statistics: one request per timed word, as many as the histogram.
    with (tmp_path / "locust_stats.csv").open(newline="") as f:
        rows = {r["Name"]: r for r in csv.DictReader(f) if r["Type"] == "ASRX"}
    assert int(rows["word_upl"]["Request Count"]) == upl["count"], rows.keys()
    assert int(rows["word_final"]["Request Count"]) == summary["percentiles"]["word_final"]["count"]

    page = (reports / "asrx-report.html").read_text()
    section = page[page.index('<section id="words">') :]
    section = section[: section.index("</section>")]
    assert "<svg" in section and "partials over time (last completed session)" in section
    assert "missed</b>" in section and "not applicable" not in section
    assert "Traceback" not in out
