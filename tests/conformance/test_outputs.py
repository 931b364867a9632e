"""What the suite writes is safe and bounded, whatever the server sends and whatever the key.

- A server's ANSI/OSC escapes, NUL, C1 controls, bidi overrides and ``<script>`` never reach
  the console, the HTML, the JUnit XML or the JSON raw: they arrive in visible escaped form.
- The key appears in no output at any log level (``--log-cli-level=DEBUG``, logs in the
  JUnit XML), and a one-letter key corrupts no other text.
- ``--asrx-max-message-bytes`` bounds every session of the suite; against 64 MiB messages the
  suite's memory stays that of a run against a well-behaved server.
"""

from __future__ import annotations

import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from harness.server.embedded import EmbeddedServer
from tests.conformance.suiterun import REPO, run_with_artefacts
from tests.hostile import hostile_server

FAST = ["--asrx-speed", "8", "--asrx-timeout-scale", "0.3"]
#: Raw bytes that must never reach an output: ESC, BEL, NUL, C1 CSI, RLO (UTF-8).
RAW = {
    "ESC": b"\x1b",
    "BEL": b"\x07",
    "NUL": b"\x00",
    "CSI": "\x9b".encode(),
    "RLO": "\u202e".encode(),
}


def test_server_escapes_never_reach_an_output_raw(tmp_path: Path) -> None:
    with hostile_server("escapes") as url:
        out = run_with_artefacts(
            tmp_path, "--asrx-url", url, *FAST, env={"ASRX_APIKEY": "escapes-key-77aa01"}
        )
    assert out.proc.returncode == 1, out.console[-2000:]
    outputs = {
        "console": out.console,
        "junit": out.junit,
        "html": out.html,
        "json": out.json_text,
    }
    for name, text in outputs.items():
        data = text.encode("utf-8")
        leaked = [what for what, raw in RAW.items() if raw in data]
        assert not leaked, f"{name} carries raw {leaked}"
        # The server's text did arrive, escaped: the check is not vacuous.
        assert "\\x1b]0;pwned" in text or "\\\\x1b]0;pwned" in text, name
    assert "<script" not in out.html and "&lt;script&gt;" in out.html
    assert "<script" not in out.junit


def _debug_run(tmp_path: Path, key: str) -> tuple[str, str]:
    with EmbeddedServer(engine="synthetic", apikeys=(key,)) as server:
        out = run_with_artefacts(
            tmp_path,
            "--asrx-url",
            server.url,
            "-k",
            "handshake or auth or close_code",
            "--log-cli-level=DEBUG",
            "-o",
            "junit_logging=all",
            env={"ASRX_APIKEY": key},
        )
    assert out.proc.returncode == 0, out.console[-3000:]
    assert "> apikey: ***" in out.console, "websockets' DEBUG handshake lines were not seen"
    return out.everything(), server.url


def test_key_never_in_any_output_at_debug_level(tmp_path: Path) -> None:
    key = "debug-level-key-c0ffee"
    text, _ = _debug_run(tmp_path, key)
    assert key not in text


def test_one_letter_key_corrupts_nothing(tmp_path: Path) -> None:
    text, url = _debug_run(tmp_path, "s")
    assert not re.search(r"apikey[:=] ?s\b", text)
    assert url in text and "a***rx" not in text and "w***:" not in text
    masked = re.findall(r".{12}\*\*\*", text)
    stray = [m for m in masked if not re.search(r"(?i)(apikey|x-api-key)[:=] ?$", m[:-3])]
    assert not stray, stray[:5]


def test_max_message_bytes_bounds_every_session(tmp_path: Path) -> None:
    key = "max-message-key-5150ab"
    with EmbeddedServer(engine="synthetic", apikeys=(key,)) as server:
        out = run_with_artefacts(
            tmp_path,
            "--asrx-url",
            server.url,
            "-k",
            "test_message_schema and en-single-01",
            env={"ASRX_APIKEY": key, "ASRX_MAX_MESSAGE_BYTES": "40"},
        )
    assert out.proc.returncode == 1, out.console[-2000:]
    check = next(c for c in out.result["checks"] if c["id"].startswith("test_message_schema"))
    assert check["grade"] == "FAILED" and {f["rule"] for f in check["failing"]} == {"3.size"}


def _peak_rss_mib(url: str, out: Path) -> int:
    """The suite's peak RSS (MiB) against ``url``, in a fresh process so that the figure is
    the suite's alone."""
    script = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], capture_output=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)\n"
    )
    cmd = [sys.executable, "-m", "pytest", "--pyargs", "harness.conformance", "-q"]
    cmd += ["-p", "no:cacheprovider", "-o", "addopts=", "--asrx-url", url, *FAST]
    cmd += ["-k", "schema or closing or robustness", f"--asrx-json={out}"]
    proc = subprocess.run(
        [sys.executable, "-c", script, *cmd],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={"ASRX_APIKEY": "rss-key-a1b2c3", "PATH": "/usr/bin:/bin"},
    )
    return int(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_oversize_messages_keep_the_suite_bounded(tmp_path: Path) -> None:
    with hostile_server("well-behaved") as url:
        baseline = _peak_rss_mib(url, tmp_path / "base.json")
    with hostile_server("oversize") as url:
        oversize = _peak_rss_mib(url, tmp_path / "big.json")
    big = (tmp_path / "big.json").read_text(encoding="utf-8")
    assert '"3.size"' in big, "the oversize messages were not met"
    # 64 MiB messages into every session: without the bound the suite would hold them.
    print(f"peak RSS: {baseline} MiB well-behaved, {oversize} MiB with 64 MiB messages")
    assert oversize < baseline + 40, (baseline, oversize)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0
