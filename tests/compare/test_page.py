"""The comparison in HTML: its own page, the load report's two sections, escaped text."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from harness.compare.history import trend
from harness.compare.judge import compare
from harness.compare.page import render_page
from harness.compare.record import run_record
from harness.load.report import render_html
from tests.compare.fakes import START, make_summary, write

HOSTILE = "<script>alert(1)</script>"


def test_text_from_the_files_is_escaped() -> None:
    base = make_summary(seed=1)
    base["headline"] = HOSTILE
    base["identity"]["corpus"]["name"] = HOSTILE
    c = compare(run_record(base, f"/tmp/{HOSTILE}.json"), run_record(make_summary(seed=2), "c"))
    page = render_page(c.to_dict())
    assert HOSTILE not in page and "&lt;script&gt;" in page


def test_the_report_shows_the_comparison_and_the_trend(tmp_path: Path) -> None:
    current = make_summary(seed=9, shift={"sentence": 80})
    base = make_summary(seed=1)
    current["comparison"] = compare(run_record(base, "b"), run_record(current, "c")).to_dict()
    for i in range(3):
        earlier = START - dt.timedelta(days=i + 1)
        write(tmp_path / f"asrx-summary-{i}.json", make_summary(seed=i + 10, started=earlier))
    current["history"] = trend(tmp_path, current)
    html = render_html(current)
    assert 'id="comparison"' in html and 'id="trend"' in html
    assert "regressed: sentence" in html
    assert "4 runs from" in html and "sentence across runs" in html


def test_without_a_baseline_the_sections_say_how_to_get_them() -> None:
    html = render_html(make_summary())
    assert "No baseline (--asrx-baseline FILE" in html
    assert "No history (--asrx-history DIR" in html


def test_a_comparison_that_could_not_be_made_says_why() -> None:
    summary = make_summary()
    summary["comparison"] = {"error": f"baseline.json: {HOSTILE}"}
    html = render_html(summary)
    assert "Not compared: baseline.json: &lt;script&gt;" in html
