"""The run summary JSON and the self-contained HTML report."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.load.report import build_summary, render_html, target_info, write_reports
from harness.load.slo import SLO
from harness.load.stats import LatencyHistogram, RunStats
from harness.load.verdict import evaluate
from harness.load.window import snapshot, subtract
from harness.redaction import Redactor
from tests.load.fakes import make_stats
from tests.load.runs import clean_env, free_port, locust_cmd

SECRET = "sk-report-secret-77"
SECTIONS = {
    "verdict",
    "verdicts",
    "failures",
    "findings",
    "percentiles",
    "distribution",
    "over-time",
    "words",
    "capacity",
    "accuracy",
    "health",
    "settings",
}


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.urls: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            if name in ("src", "href", "xlink:href") and value:
                self.urls.append(value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def capacity_block() -> dict:
    step = {
        "step": 1,
        "users": 2,
        "start_s": 0.0,
        "end_s": 10.0,
        "sessions_ok": 4,
        "failures": 0,
        "error_ratio": 0.0,
        "first_partial": {"p50": 100.0, "p95": 150.0},
        "sentence": {"p50": 300.0, "p95": 400.0},
        "lateness_p99_ms": 0.4,
        "held": True,
        "breaches": [],
    }
    step2 = dict(step, step=2, users=4, held=False, breaches=["p95_first_partial_ms: 900 > 500"])
    return {
        "steps": [step, step2],
        "highest_held_users": 2,
        "highest_held_step": 1,
        "stopped_reason": "step 2 (4 users) broke p95_first_partial_ms",
    }


def summary_for(stats: RunStats, slo: SLO) -> dict:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return build_summary(
        stats=stats,
        slo=slo,
        verdicts=evaluate(stats, slo),
        settings={
            "host": f"wss://asr.example/?apikey={SECRET}",
            "asrx_apikey": SECRET,
            "num_users": 4,
            "tags": ["a", SECRET],
        },
        redactor=Redactor([SECRET]),
        target=target_info(f"wss://asr.example/asrx?apikey={SECRET}", None),
        started_at=start,
        ended_at=start + dt.timedelta(seconds=30),
        timeseries=[
            {
                "t_s": 2.0,
                "users": 2,
                "first_partial": {"p50": 90.0, "p95": 120.0},
                "sentence": {"p95": 300.0},
                "send_lateness": {"p99": 0.5},
            },
            {
                "t_s": 4.0,
                "users": 4,
                "first_partial": {"p50": 95.0, "p95": 140.0},
                "sentence": {"p95": 320.0},
                "send_lateness": {"p99": 0.7},
            },
        ],
        capacity=capacity_block(),
        locust_html="reports/locust.html",
    )


def test_report_has_every_section_and_no_external_reference() -> None:
    page = Page()
    page.feed(render_html(summary_for(make_stats(), SLO(p95_first_partial_ms=1000))))
    assert page.ids >= SECTIONS, SECTIONS - page.ids
    assert all("://" not in url for url in page.urls), page.urls
    assert not {"script", "link", "img", "iframe"} & set(page.tags)
    assert page.tags.count("svg") >= 5 + 3 + 1  # distributions, over time, capacity


def test_report_shows_reference_beside_hypothesis_and_step_table() -> None:
    html = render_html(summary_for(make_stats(), SLO()))
    assert '<td class="text">hello world</td>\n' not in html  # cells are adjacent
    assert '<td class="text">hello world</td><td class="text">hello word</td>' in html
    assert "Highest step that held: <b>2</b> users" in html
    assert "p95_first_partial_ms: 900 &gt; 500" in html


def test_summary_is_machine_readable(tmp_path: Path) -> None:
    slo = SLO(p95_first_partial_ms=0.001)
    summary = summary_for(make_stats(), slo)
    json_path, html_path = write_reports(summary, tmp_path, "20260101T000000Z")
    data = json.loads(json_path.read_text())
    assert data["exit_code"] == 3 and data["passed"] is False
    assert {v["name"] for v in data["verdicts"]} >= {"p95_first_partial_ms"}
    assert data["percentiles"]["first_partial"]["count"] == 4
    assert abs(data["percentiles"]["first_partial"]["p95"] - 200.0) < 0.2
    assert data["harness_health"]["saturated"] is False
    assert data["accuracy"]["utterances"][0]["reference"] == "hello world"
    assert data["capacity"]["highest_held_users"] == 2
    assert (tmp_path / "asrx-summary.json").read_text() == json_path.read_text()
    assert (tmp_path / "asrx-report.html").read_text() == html_path.read_text()


def test_key_never_in_summary_or_report(tmp_path: Path) -> None:
    summary = summary_for(make_stats(), SLO())
    json_path, html_path = write_reports(summary, tmp_path, "x")
    for path in (json_path, html_path):
        assert SECRET not in path.read_text(), path
    assert summary["settings"]["asrx_apikey"] == "***"


def test_empty_run_still_renders() -> None:
    stats = RunStats()
    summary = build_summary(stats=stats, slo=SLO(), verdicts=evaluate(stats, SLO()), settings={})
    page = Page()
    page.feed(render_html(summary))
    assert page.ids >= SECTIONS
    assert summary["exit_code"] == 1


def test_window_subtracts_exactly() -> None:
    stats = make_stats()
    before = snapshot(stats)
    for v in (1000, 2000, 3000):
        stats.histograms["first_partial"].record(v)
    stats.sessions_ok += 2
    stats.failures["timeout"] += 1
    window = subtract(stats, before)
    fp = window.histograms["first_partial"]
    fresh = LatencyHistogram()
    for v in (1000, 2000, 3000):
        fresh.record(v)
    assert fp.count == 3 and fp.summary() == fresh.summary()
    assert window.histograms["sentence"].count == 0
    assert window.sessions_ok == 2 and dict(window.failures) == {"timeout": 1}
    assert before.histograms["first_partial"].count == 4  # the snapshot is a copy


# -- in a real Locust run ----------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2])
def test_ctrl_c_still_writes_both_reports(tmp_path: Path, processes: int) -> None:
    """A terminal's Ctrl-C (SIGINT to the whole process group: Locust, its workers, the
    embedded server) on a headless run: the reports are written, the run is marked
    interrupted, and no session fails for it (the embedded server serves until the users
    have stopped), with no traceback."""
    reports = tmp_path / "reports"
    log = tmp_path / "locust.log"
    args = ("--headless", "-u", "2", "-r", "2", "-t", "60s", "--asrx-report-dir", str(reports))
    if processes > 1:  # the master on a free port: another run may hold Locust's default
        port = str(free_port())
        args += ("--processes", str(processes), "--master-bind-host", "127.0.0.1")
        args += ("--master-bind-port", port, "--master-port", port)
    with log.open("w") as sink:  # a file, not a pipe: a full pipe would stall the run
        proc = subprocess.Popen(
            locust_cmd(*args, "--html", str(reports / "locust.html")),
            env=clean_env(ASRX_APIKEY=SECRET),
            cwd=tmp_path,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own, as a terminal's job
            # A shell's background job ignores SIGINT, and children inherit that: restore
            # the default so that the signal acts as a terminal's Ctrl-C does.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            deadline = time.monotonic() + 40
            while "ASRX     close" not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.5)  # until a first session has finished
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:  # SIGTERM first: locust then stops its embedded server
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
            with contextlib.suppress(ProcessLookupError):  # nothing of the run outlives it
                os.killpg(proc.pid, signal.SIGKILL)
    out = log.read_text()
    assert (reports / "asrx-summary.json").exists(), out[-3000:]
    summary = json.loads((reports / "asrx-summary.json").read_text())
    assert summary["interrupted"] is True
    assert summary["sessions_ok"] >= 1, out[-3000:]
    assert summary["sessions_failed"] == 0, summary["failures"]
    page = Page()
    page.feed((reports / "asrx-report.html").read_text())
    assert page.ids >= SECTIONS
    assert (reports / "locust.html").exists()  # Locust's own report, next to ours
    assert 'href="locust.html"' in (reports / "asrx-report.html").read_text()
    for path in reports.iterdir():
        assert SECRET not in path.read_text(), path
    assert "Traceback" not in out, out[-3000:]


def test_a_short_key_does_not_corrupt_the_summary(tmp_path: Path) -> None:
    stats = make_stats()
    summary = build_summary(
        stats=stats,
        slo=SLO(),
        verdicts=evaluate(stats, SLO()),
        settings={"host": "ws://k.example/asrx"},
        redactor=Redactor(["k"]),
    )
    assert summary["sessions_ok"] == 4 and summary["settings"]["host"] == "ws://k.example/asrx"
    json_path, html_path = write_reports(summary, tmp_path, "x")
    assert json.loads(json_path.read_text())["sessions_ok"] == 4
    assert "<table" in html_path.read_text()


def test_banner_names_the_target_and_the_embedded_engine() -> None:
    stats = make_stats()
    summary = build_summary(
        stats=stats,
        slo=SLO(),
        verdicts=evaluate(stats, SLO()),
        settings={},
        target=target_info("ws://127.0.0.1:1/asrx", "synthetic"),
    )
    html = render_html(summary)
    banner = html.partition('id="verdict"')[2].partition("</div>")[0]
    assert "PASS" in banner and "passed: every check held" in banner
    target = "<code>ws://127.0.0.1:1/asrx</code> (embedded reference server, synthetic engine)"
    assert target in banner
    assert summary["accuracy"]["applicable"] is False
    assert "WER/CER not applicable: the synthetic engine emits placeholder words" in html
    assert '<td class="n muted">n/a</td>' in html


def test_failures_show_sampled_messages_escaped() -> None:
    """A failure message quoting server text reaches the page escaped, never raw."""
    stats = make_stats(ok=2)
    stats.record_failure("rejected", "handshake rejected with HTTP 401 Unauthorized")
    stats.record_failure("rejected", "handshake rejected with HTTP 401 Unauthorized")
    stats.record_failure("protocol_violation", "§3.json: not json \x1b]0;pwned\x07<script>")
    stats.record_findings(["3.json"], ["3.state"])
    summary = build_summary(stats=stats, slo=SLO(), verdicts=evaluate(stats, SLO()), settings={})
    assert summary["passed"] is False and summary["exit_code"] == 1
    assert summary["headline"].startswith("run failed: max_error_ratio: 3 of 5 session(s) failed")
    html = render_html(summary)
    failures = html.partition('id="failures"')[2].partition("</section>")[0]
    assert "handshake rejected with HTTP 401 Unauthorized</code>" in failures
    assert "× 2" in failures
    assert "\\x1b]0;pwned\\x07&lt;script&gt;" in failures
    assert "\x1b" not in html and "<script>" not in html
    findings = html.partition('id="findings"')[2].partition("</section>")[0]
    assert "§3.json" in findings and "NON-STRICT" in findings


def test_few_samples_draw_a_short_curve_with_dots() -> None:
    stats = RunStats()
    stats.record({"first_partial": [100.0, 200.0, 300.0]})
    summary = build_summary(stats=stats, slo=SLO(), verdicts=evaluate(stats, SLO()), settings={})
    points = summary["distribution"]["first_partial"]
    assert [p for p, _ in points] == [0, 10, 25, 50, pytest.approx(100 * 2 / 3)]
    assert points[-1][1] == pytest.approx(300, rel=1e-3)
    chart = render_html(summary).partition("first_partial by percentile (3 samples)")[2]
    assert chart.partition("</svg>")[0].count("<circle") == len(points)
