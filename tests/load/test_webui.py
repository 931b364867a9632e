"""The web UI as a way to run: the asrx tab's figures, the verdict and report when a run
stops, Reset clearing what the gate judges, and charts that only pool latencies.

Driven the way the browser drives it: Locust's own HTTP API (``/swarm``, ``/stop``,
``/stats/reset``, ``/stats/requests``) and the asrx routes."""

from __future__ import annotations

import functools
import json
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.load.runs import clean_env, free_port, locust_cmd

pytestmark = pytest.mark.slow

KEY = "sk-webui-key-42"


class WebUI:
    def __init__(self, base: str) -> None:
        self.base = base

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def json(self, path: str) -> Any:
        status, body = self.get(path)
        assert status == 200, (path, status, body[:500])
        return json.loads(body)

    def post(self, path: str, form: dict[str, str] | None = None) -> str:
        data = urllib.parse.urlencode(form or {}).encode()
        with urllib.request.urlopen(self.base + path, data=data, timeout=30) as resp:
            return str(resp.read().decode())

    def wait(self, what: str, check: Callable[[], bool], seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while not check():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.3)


#: Starts of the web UI, each on a fresh free port: between ``free_port`` and Locust's
#: bind, another process on a busy machine may take the port.
UI_STARTS = 3


@pytest.fixture
def web_ui(tmp_path: Path) -> Iterator[tuple[WebUI, subprocess.Popen[str], Path]]:
    log = tmp_path / "locust.log"
    for _ in range(UI_STARTS):
        port = free_port()
        with log.open("w") as sink:
            proc = subprocess.Popen(
                locust_cmd("--web-host", "127.0.0.1", "--web-port", str(port))
                + ["--asrx-report-dir", str(tmp_path / "reports")],
                env=clean_env(ASRX_APIKEY=KEY),
                cwd=tmp_path,
                stdout=sink,
                stderr=subprocess.STDOUT,
                text=True,
            )
        ui = WebUI(f"http://127.0.0.1:{port}")
        try:
            ui.wait("the web UI", functools.partial(_up, ui, proc))
            if proc.poll() is None:
                break
        except AssertionError:
            _stop(proc)
            pytest.fail(f"the web UI did not answer in 30 s; its log: {log.read_text()[-3000:]}")
        if "already in use" not in log.read_text():
            pytest.fail(f"Locust exited at start ({proc.returncode}): {log.read_text()[-3000:]}")
    else:
        pytest.fail(f"no free port in {UI_STARTS} starts: {log.read_text()[-3000:]}")
    try:
        yield ui, proc, log
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _up(ui: WebUI, proc: subprocess.Popen[str]) -> bool:
    """The UI answers, or Locust has exited (the caller reads why)."""
    if proc.poll() is not None:
        return True
    try:
        return ui.get("/")[0] == 200
    except OSError:
        return False


def asrx_row(stats: dict[str, Any], name: str) -> dict[str, Any]:
    (tab,) = [t for t in stats["extended_stats"] if t["key"] == "asrx"]
    (row,) = [r for r in tab["data"] if r["row"] == name]
    return dict(row)


def test_a_web_ui_run_from_start_to_verdict(
    web_ui: tuple[WebUI, subprocess.Popen[str], Path], tmp_path: Path
) -> None:
    ui, proc, log = web_ui
    status, page = ui.get("/")
    args = json.loads(page.partition("window.templateArgs = ")[2].partition("\n")[0])
    assert args["extended_tabs"] == [{"title": "asrx", "key": "asrx"}], args
    assert {"href": "./asrx/report", "title": "asrx report (last judged run)"} in args[
        "extended_csv_files"
    ]

    # The host field as the browser sends it when the user cleared it: the embedded server
    # still stands.
    ui.post("/swarm", {"user_count": "3", "spawn_rate": "3", "host": ""})
    ui.wait("two sessions", lambda: ui.json("/asrx/status.json")["sessions_ok"] >= 2)
    live = ui.json("/stats/requests")
    assert asrx_row(live, "first_partial")["count"] >= 2
    assert asrx_row(live, "word_upl")["note"].startswith("per word: first text holding it")
    words = asrx_row(live, "timed words")["note"]
    assert words.startswith("word latency not applicable: the synthetic engine"), words
    assert ui.json("/asrx/status.json")["verdict"] is None

    # Reset mid-run: the asrx figures start again from zero, like Locust's own.
    ui.post("/stats/reset")
    after = ui.json("/asrx/status.json")
    assert after["sessions_ok"] <= 1 and after["latencies"]["first_partial"]["count"] <= 1, after
    ui.wait("a session after the reset", lambda: ui.json("/asrx/status.json")["sessions_ok"] >= 2)

    ui.post("/stop")
    ui.wait("a verdict", lambda: ui.json("/asrx/status.json")["verdict"] is not None)
    status_json = ui.json("/asrx/status.json")
    verdict = status_json["verdict"]
    assert verdict["passed"] is True and verdict["exit_code"] == 0, verdict

    # What the gate judged is what the UI showed since the reset: Locust's own "session"
    # requests (reset at the same moment) count the same sessions.
    summary = json.loads((tmp_path / "reports" / "asrx-summary.json").read_text())
    locust = ui.json("/stats/requests")
    (sessions,) = [s for s in locust["stats"] if s["name"] == "session"]
    judged = summary["sessions_ok"] + summary["sessions_failed"]
    assert judged == sessions["num_requests"] == status_json["sessions_ok"], (judged, sessions)
    # The charts pool every request's response time: only millisecond latencies are in it.
    (total,) = [s for s in locust["stats"] if s["name"] == "Aggregated"]
    assert total["max_response_time"] < 2000, total
    assert asrx_row(locust, "verdict")["note"].startswith("PASS (exit 0)")

    status, report = ui.get("/asrx/report")
    assert status == 200 and "asrx load report" in report and "PASS" in report
    assert "embedded reference server, synthetic engine" in report
    status, page = ui.get("/asrx")
    assert status == 200 and "open the report" in page and "first_partial" in page
    assert "Download Data" not in page  # our own page, not Locust's

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, log.read_text()[-3000:]
    out = log.read_text()
    assert KEY not in out and "Traceback" not in out, out[-3000:]
    for path in (tmp_path / "reports").iterdir():
        assert KEY not in path.read_text(encoding="utf-8"), path


def test_no_report_before_a_run_and_a_bad_host_is_one_line(
    web_ui: tuple[WebUI, subprocess.Popen[str], Path],
) -> None:
    ui, proc, log = web_ui
    status, body = ui.get("/asrx/report")
    assert status == 404 and "judged when it stops" in body
    ui.post("/swarm", {"user_count": "1", "spawn_rate": "1", "host": "http://127.0.0.1:1/"})
    ui.wait("a verdict", lambda: ui.json("/asrx/status.json")["verdict"] is not None)
    verdict = ui.json("/asrx/status.json")["verdict"]
    assert verdict["exit_code"] == 2 and "must start with ws:// or wss://" in verdict["headline"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 2
    out = log.read_text()
    assert out.count("URL must start with ws:// or wss://") >= 1 and "Traceback" not in out, out
