"""Whole Locust runs against servers that misbehave: the harness's memory stays bounded, and
the key never reaches a log line, even at DEBUG."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from harness.exitcodes import TARGET_FAILED
from harness.server.embedded import EmbeddedServer
from tests.hostile import OVERSIZE_BYTES, hostile_server
from tests.load.runs import clean_env, locust_cmd, run_locust

pytestmark = pytest.mark.slow

#: Peak RSS of a Locust process whose users meet a 64 MiB message at the default 1 MiB
#: limit (measured: about 90 MB; a bare Locust process with the asrx user is about 85 MB).
BOUNDED_PEAK_MB = 140


def peak_rss_run(tmp_path: Path, url: str, *args: str) -> tuple[int, float, dict, str]:
    """A 5 s headless run against ``url``; its exit code, peak RSS (MB), RunStats, log."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    stats_out = tmp_path / "stats.json"
    log = tmp_path / "locust.log"
    cmd = locust_cmd("--headless", "-u", "1", "-r", "1", "-t", "5s", "--host", url, *args)
    cmd += ["--asrx-stats-out", str(stats_out), "--asrx-report-dir", str(tmp_path / "reports")]
    with log.open("w") as sink:
        proc = subprocess.Popen(
            cmd, env=clean_env(ASRX_APIKEY="k"), cwd=tmp_path, stdout=sink, stderr=sink
        )
        peak = 0
        try:
            ps = psutil.Process(proc.pid)
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    peak = max(peak, ps.memory_info().rss)
                except psutil.Error:
                    break
                time.sleep(0.02)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    return proc.returncode, peak / 2**20, json.loads(stats_out.read_text()), log.read_text()


def test_an_oversize_message_fails_its_session_without_bloating_the_process(
    tmp_path: Path,
) -> None:
    with hostile_server("oversize") as url:
        code, peak_mb, stats, log = peak_rss_run(tmp_path / "bounded", url)
        control_code, control_mb, control, _ = peak_rss_run(
            tmp_path / "control", url, "--asrx-max-message-bytes", str(2 * OVERSIZE_BYTES)
        )
    assert code == TARGET_FAILED, log[-3000:]
    assert set(stats["failures"]) == {"protocol_violation"}, stats["failures"]
    assert stats["findings"] == {"3.size": stats["failures"]["protocol_violation"]}
    assert "protocol_violation: §3.size: frame with 67108864 bytes exceeds limit" in log
    assert peak_mb < BOUNDED_PEAK_MB, f"peak RSS {peak_mb:.0f} MB at the 1 MiB limit"
    # The control run accepts the message: the measurement sees what buffering it costs.
    assert not control["failures"], control["failures"]
    assert control_mb > peak_mb + OVERSIZE_BYTES / 2**20, (peak_mb, control_mb, control_code)
    assert "Traceback" not in log


def test_debug_logs_never_show_the_key(tmp_path: Path) -> None:
    """At --loglevel DEBUG websockets logs every handshake header; the key's is masked, and
    the key appears nowhere in the output or the reports, for a good and a wrong key."""
    key = "sk-debug-0123456789"
    with EmbeddedServer(apikeys=(key,)) as server:
        outputs = []
        for used in (key, "wrong-" + key):
            proc = run_locust(
                "--headless",
                "-u",
                "1",
                "-r",
                "1",
                "-t",
                "3s",
                "--loglevel",
                "DEBUG",
                "--host",
                f"{server.url}?apikey={used}",
                "--asrx-report-dir",
                str(tmp_path / "reports"),
                env=clean_env(ASRX_APIKEY=used),
                cwd=tmp_path,
            )
            outputs.append(proc.stdout + proc.stderr)
    for out in outputs:
        assert "> apikey: ***" in out, out[-3000:]  # the DEBUG handshake lines are there
        assert key not in out, [line for line in out.splitlines() if key in line][:3]
    assert "rejected: handshake rejected with HTTP 401" in outputs[1]
    for path in (tmp_path / "reports").iterdir():
        assert key not in path.read_text(encoding="utf-8"), path
