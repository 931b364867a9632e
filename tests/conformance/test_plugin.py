"""The suite as a tool: options and their errors (one usage-error path), ``--pyargs`` from any
folder with its reports, strict and lenient grading, and a plugin that stays inert in other
pytest runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.server.embedded import EmbeddedServer
from tests.conformance.suiterun import pytest_suite, run_with_artefacts

KEY = "plugin-test-key-41c9b0"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--asrx-url", "http://example.com"], "URL must start with ws:// or wss://"),
        (["--asrx-url", "ws://127.0.0.1:9/asrx"], "--asrx-url needs a valid key"),
        (["--asrx-timeout-scale", "0"], "--asrx-timeout-scale must be > 0"),
        (["--asrx-corpus", "/nonexistent"], "no manifest.jsonl"),
        (["--asrx-engine", "whisper"], "--asrx-engine must be one of"),
        (["--asrx-max-message-bytes", "0"], "--asrx-max-message-bytes must be >= 1"),
        (["--asrx-max-message-bytes", "1e6"], "must be a whole number of bytes"),
        (["--asrx-known", "/nonexistent.toml"], "--asrx-known /nonexistent.toml"),
        (["--asrx-ca-file", "/nonexistent.pem"], "--asrx-ca-file /nonexistent.pem: no such"),
    ],
)
def test_bad_option_is_a_usage_error(args: list[str], message: str) -> None:
    proc = pytest_suite("harness/conformance", "--co", *args)
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert proc.stderr.count("\n") <= 2 and "Traceback" not in proc.stderr


def test_bad_option_from_the_environment_is_the_same_usage_error(tmp_path: Path) -> None:
    """Only the environment names the bad value, and the suite is named by --pyargs: the
    same one line and exit 4 as on the command line (not a collection error)."""
    proc = pytest_suite(
        "--pyargs", "harness.conformance", env={"ASRX_TIMEOUT_SCALE": "-1"}, cwd=tmp_path
    )
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, proc.stdout[-2000:]
    assert "asrx: --asrx-timeout-scale must be > 0" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


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
        "--asrx-json",
        "--asrx-known",
        "--asrx-max-message-bytes",
        "--asrx-profile",
        "--asrx-speed",
        "--asrx-engine",
    ):
        defined = [
            ln for ln in proc.stdout.splitlines() if ln.startswith((f"  {flag}=", f"  {flag} "))
        ]
        assert len(defined) == 1, flag


def test_pyargs_from_any_folder_with_reports(tmp_path: Path) -> None:
    with EmbeddedServer(engine="synthetic", apikeys=(KEY,)) as server:
        out = run_with_artefacts(
            tmp_path / "out",
            "-k",
            "handshake or auth",
            "--asrx-url",
            server.url,
            "--asrx-strict",
            env={"ASRX_APIKEY": KEY},
            cwd=tmp_path,
        )
    assert out.proc.returncode == 0, out.console[-3000:]
    grades = out.grades()
    assert grades["test_bad_apikey_gets_no_session[query-string]"] == "OK"
    assert list(grades.values()).count("OK") == 6 and grades["test_handshake_wss"] == "SKIPPED"
    assert out.result["verdict"] == "PASS" and out.result["strict"] is True
    assert '<div class="v">PASS</div>' in out.html and "§1.auth" in out.html
    assert "<script" not in out.html and "http://" not in out.html and "https://" not in out.html
    for kind in ("HTML report", "JSON result", "JUnit XML"):
        assert f"{kind}: {tmp_path / 'out'}" in out.console, kind
    assert KEY not in out.everything()


def test_non_strict_result_is_graded_by_strict_flag(tmp_path: Path) -> None:
    """bad-key-close-late with a generous reject-close wait: 101 then 1008 in time is
    NON-STRICT, a pass by default and a failure with --asrx-strict."""
    with EmbeddedServer(
        engine="synthetic", apikeys=(KEY,), faults=("bad-key-close-late",)
    ) as server:
        base = [
            "-k",
            "test_bad_apikey_gets_no_session and wrong",
            "--asrx-url",
            server.url,
            "--asrx-timeout-scale",
            "2",
        ]
        lenient = run_with_artefacts(tmp_path / "l", *base, env={"ASRX_APIKEY": KEY})
        strict = run_with_artefacts(
            tmp_path / "s", *base, "--asrx-strict", env={"ASRX_APIKEY": KEY}
        )
    assert lenient.proc.returncode == 0, lenient.console[-2000:]
    assert "asrx-non-strict" in lenient.junit and "close 1008" in lenient.junit
    assert lenient.result["verdict"] == "PASS with NON-STRICT"
    assert "PASS with NON-STRICT" in lenient.html and "NON-STRICT, by rule" in lenient.html
    assert strict.proc.returncode == 1 and "§1.auth-strict" in strict.proc.stdout
    assert strict.result["verdict"] == "FAIL"


def test_plugin_is_inert_elsewhere(tmp_path: Path) -> None:
    (tmp_path / "test_other.py").write_text("def test_ok():\n    assert True\n")
    proc = pytest_suite(
        str(tmp_path / "test_other.py"), cwd=tmp_path, env={"ASRX_URL": "not a url"}
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "asrx conformance" not in proc.stdout and "verdict" not in proc.stdout
