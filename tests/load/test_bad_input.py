"""Bad input to the Locust run: each is reported in one line; no traceback floods."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from harness.exitcodes import TARGET_FAILED
from harness.server.embedded import EmbeddedServer
from tests.load.runs import clean_env, free_port, run_locust

pytestmark = pytest.mark.slow

HEADLESS = ("--headless", "-u", "2", "-r", "2", "-t", "10s")


def no_traceback(text: str) -> None:
    assert "Traceback" not in text, text[-3000:]


def test_unreachable_host_stops_early_with_one_message(tmp_path: Path) -> None:
    url = f"ws://127.0.0.1:{free_port()}/asrx"
    started = time.monotonic()
    proc = run_locust(*HEADLESS, "--host", url, cwd=tmp_path)
    out = proc.stderr + proc.stdout
    assert proc.returncode == 1, out[-2000:]
    assert time.monotonic() - started < 9, "the run should stop before its 10 s run time"
    assert out.count("stopping the run") == 1, out[-2000:]
    assert "connect_failed: connection refused" in out
    no_traceback(out)


def test_wrong_key_stops_early_with_one_message(tmp_path: Path) -> None:
    with EmbeddedServer(apikeys=("right-key",)) as server:
        proc = run_locust(
            *HEADLESS, "--host", server.url, env=clean_env(ASRX_APIKEY="wrong-key"), cwd=tmp_path
        )
    out = proc.stderr + proc.stdout
    assert proc.returncode == 1, out[-2000:]
    assert out.count("stopping the run") == 1, out[-2000:]
    assert "rejected: handshake rejected with HTTP 401" in out
    assert "wrong-key" not in out, "the key must never be logged"
    no_traceback(out)


def test_missing_corpus_is_one_line_exit_2(tmp_path: Path) -> None:
    proc = run_locust(*HEADLESS, "--asrx-corpus", str(tmp_path / "nowhere"), cwd=tmp_path)
    out = proc.stderr + proc.stdout
    assert proc.returncode == 2, out[-2000:]
    errors = [line for line in out.splitlines() if "cannot use corpus" in line]
    assert len(errors) == 1, out
    no_traceback(out)


def test_invalid_corpus_is_one_line_exit_2(tmp_path: Path) -> None:
    corpus = tmp_path / "bad"
    corpus.mkdir()
    (corpus / "manifest.jsonl").write_text('{"id": "x", "audio": 3}\n', encoding="utf-8")
    proc = run_locust(*HEADLESS, "--asrx-corpus", str(corpus), cwd=tmp_path)
    out = proc.stderr + proc.stdout
    assert proc.returncode == 2, out[-2000:]
    assert len([line for line in out.splitlines() if "cannot use corpus" in line]) == 1, out
    no_traceback(out)


def test_a_server_killed_mid_run_never_reports_pass(tmp_path: Path) -> None:
    """The server dies while every user is mid-utterance: the sessions it was serving are
    ``dropped``, the later ones ``connect_failed``; the summary, the report and the exit
    code all say the run failed."""
    stats_out = tmp_path / "stats.json"
    reports = tmp_path / "reports"
    with EmbeddedServer(apikeys=("k",)) as server:
        assert server.process is not None
        killer = threading.Timer(4.0, server.process.kill)
        killer.start()
        try:
            proc = run_locust(
                "--headless",
                "-u",
                "4",
                "-r",
                "4",
                "-t",
                "8s",
                "--host",
                server.url,
                "--asrx-stats-out",
                str(stats_out),
                "--asrx-report-dir",
                str(reports),
                env=clean_env(ASRX_APIKEY="k"),
                cwd=tmp_path,
            )
        finally:
            killer.cancel()
    out = proc.stderr + proc.stdout
    stats = json.loads(stats_out.read_text())
    assert stats["failures"].get("dropped", 0) >= 1, (stats["failures"], out[-2000:])
    assert "dropped: server dropped the connection" in out
    # Once the server is gone, users back off instead of hammering the closed port.
    assert stats["failures"].get("connect_failed", 0) < 200, stats["failures"]
    summary = json.loads((reports / "asrx-summary.json").read_text())
    assert proc.returncode == TARGET_FAILED, out[-2000:]
    assert summary["passed"] is False and summary["exit_code"] == TARGET_FAILED
    assert "failed" in summary["headline"] and "every check held" not in summary["headline"]
    html = (reports / "asrx-report.html").read_text()
    assert '<span class="badge fail">FAIL</span>' in html and ">PASS<" not in html
    assert "asrx gate: FAIL (exit 1)" in out
    no_traceback(out)
