"""The suite as a tool: options and their errors, an unreachable URL, ``--pyargs`` from any
folder, the HTML report, and a plugin that stays inert in other pytest runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.server.embedded import EmbeddedServer

REPO = Path(__file__).resolve().parents[2]
KEY = "plugin-test-key-41c9b0"


def pytest_suite(
    *args: str, cwd: Path = REPO, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("ASRX_")}
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_unreachable_url_fails_fast_with_one_line(tmp_path: Path) -> None:
    started = time.monotonic()
    proc = pytest_suite(
        "--pyargs",
        "harness.conformance",
        "--asrx-url",
        "ws://127.0.0.1:9/asrx",
        env={"ASRX_APIKEY": KEY},
        cwd=tmp_path,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert time.monotonic() - started < 30
    assert out.count("cannot test ws://127.0.0.1:9/asrx: connection refused") == 1, out
    assert "Traceback" not in out and KEY not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--asrx-url", "http://example.com"], "URL must start with ws:// or wss://"),
        (["--asrx-url", "ws://127.0.0.1:9/asrx"], "--asrx-url needs a valid key"),
        (["--asrx-timeout-scale", "0"], "--asrx-timeout-scale must be > 0"),
        (["--asrx-corpus", "/nonexistent"], "no manifest.jsonl"),
        (["--asrx-engine", "whisper"], "--asrx-engine must be one of"),
    ],
)
def test_bad_option_is_a_usage_error(args: list[str], message: str) -> None:
    proc = pytest_suite("harness/conformance", "--co", *args)
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR
    assert message in proc.stderr


def test_env_fallback_is_used_and_checked() -> None:
    proc = pytest_suite(
        "harness/conformance",
        "-k",
        "test_handshake_ws",
        env={"ASRX_URL": "ws://127.0.0.1:9/asrx", "ASRX_APIKEY": KEY},
    )
    assert proc.returncode != 0 and "cannot test ws://127.0.0.1:9/asrx" in proc.stdout


def test_options_are_listed_once() -> None:
    """Entry point and conftest both present: the plugin registers once."""
    proc = pytest_suite("harness/conformance", "--help")
    assert proc.returncode == 0, proc.stderr
    for flag in (
        "--asrx-url",
        "--asrx-apikey",
        "--asrx-corpus",
        "--asrx-strict",
        "--asrx-timeout-scale",
        "--asrx-ca-file",
        "--asrx-report",
        "--asrx-profile",
        "--asrx-speed",
        "--asrx-engine",
    ):
        assert proc.stdout.count(flag + " ") + proc.stdout.count(flag + "=") >= 1, flag


def test_pyargs_from_any_folder_with_report(tmp_path: Path) -> None:
    report = tmp_path / "out" / "report.html"
    with EmbeddedServer(engine="synthetic", apikeys=(KEY,)) as server:
        proc = pytest_suite(
            "--pyargs",
            "harness.conformance",
            "-k",
            "handshake or auth",
            "--asrx-url",
            server.url,
            f"--asrx-report={report}",
            "--asrx-strict",
            env={"ASRX_APIKEY": KEY},
            cwd=tmp_path,
        )
    assert proc.returncode == 0, proc.stdout[-3000:]
    html = report.read_text(encoding="utf-8")
    assert "OK: 6" in html and "FAILED: 0" in html
    assert "§1.auth" in html and "test_bad_apikey_gets_no_session[query-string]" in html
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert KEY not in html and KEY not in proc.stdout


def test_non_strict_result_is_graded_by_strict_flag(tmp_path: Path) -> None:
    """bad-key-close-late with a generous reject-close wait: 101 then 1008 in time is
    NON-STRICT, a pass by default and a failure with --asrx-strict."""
    with EmbeddedServer(
        engine="synthetic", apikeys=(KEY,), faults=("bad-key-close-late",)
    ) as server:
        base = [
            "harness/conformance",
            "-k",
            "test_bad_apikey_gets_no_session and wrong",
            "--asrx-url",
            server.url,
            "--asrx-timeout-scale",
            "2",
            f"--junitxml={tmp_path / 'j.xml'}",
        ]
        lenient = pytest_suite(*base, env={"ASRX_APIKEY": KEY})
        junit = (tmp_path / "j.xml").read_text(encoding="utf-8")
        strict = pytest_suite(*base, "--asrx-strict", env={"ASRX_APIKEY": KEY})
    assert lenient.returncode == 0, lenient.stdout[-2000:]
    assert "asrx-non-strict" in junit and "close 1008" in junit
    assert strict.returncode == 1 and "§1.auth-strict" in strict.stdout


def test_plugin_is_inert_elsewhere(tmp_path: Path) -> None:
    (tmp_path / "test_other.py").write_text("def test_ok():\n    assert True\n")
    proc = pytest_suite(
        str(tmp_path / "test_other.py"), cwd=tmp_path, env={"ASRX_URL": "not a url"}
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
