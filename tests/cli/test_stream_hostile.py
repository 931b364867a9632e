"""``asrx stream`` against hostile servers: bounded memory, and no server control character
in any byte it writes (plain, ``--json``, and on a terminal)."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import TWO_SENTENCES, asrx_exe, run_asrx
from tests.hostile import ESCAPES, hostile_server

#: Peak RSS allowed to ``asrx stream`` facing a 64 MiB message (it runs at ~55 MB on this
#: machine; accepting the message takes it to ~250 MB, see the control test below).
RSS_BOUND_KB = 128 * 1024
#: What a server's text must never put raw into our output (UTF-8 encoded).
RAW_UNSAFE = [b"\x1b", b"\x00", b"\x07", "\x9b".encode(), "\u202e".encode()]


@dataclass
class Measured:
    returncode: int
    stdout: bytes
    stderr: bytes
    peak_rss_kb: int


#: Starts ``asrx`` from a small process and writes its peak RSS (KiB) to ``argv[1]``. Linux
#: gives a process the peak of the memory it was started from (the forked image, kept at
#: ``exec``), so ``asrx`` started straight from a test process grown to 300 MB reads 300 MB
#: whatever it used; from this launcher, the floor is the launcher's few MB.
LAUNCHER = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(*args: str, timeout: float = 60) -> Measured:
    """Run ``asrx`` and read its own peak RSS from ``wait4`` (not the whole test process's
    children, which include every server this session started)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASRX_")}
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as tmp,
    ):
        peak = Path(tmp) / "peak-rss-kb"
        cmd = [sys.executable, "-c", LAUNCHER, str(peak), *asrx_exe(), *args]
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, start_new_session=True)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            pytest.fail(f"asrx {' '.join(args)} did not end within {timeout} s")
        out.seek(0)
        err.seek(0)
        return Measured(proc.returncode, out.read(), err.read(), int(peak.read_text()))


def stream_args(url: str, *extra: str) -> list[str]:
    return ["stream", str(TWO_SENTENCES), "--url", url, "--speed", "8", *extra]


def assert_no_raw_control(data: bytes) -> None:
    for raw in RAW_UNSAFE:
        assert raw not in data, f"raw {raw!r} in output: {data[:3000]!r}"


@pytest.mark.parametrize("mode", [(), ("--json",)], ids=["plain", "json"])
def test_oversize_message_is_a_finding_in_bounded_memory(mode: tuple[str, ...]) -> None:
    with hostile_server("oversize") as url:
        r = run_measured(*stream_args(url, *mode))
    err = r.stderr.decode()
    assert r.returncode == 1, err
    assert "Traceback" not in err
    assert r.peak_rss_kb < RSS_BOUND_KB, f"peak RSS {r.peak_rss_kb} KB"
    report = r.stdout.decode() if mode else err
    assert "3.size" in report and "67108864 bytes exceeds limit of 1048576" in report


def test_control_raising_the_limit_lets_the_message_in_and_the_rss_shows_it() -> None:
    """The bound above is not vacuous: a client that accepts the message grows past it."""
    with hostile_server("oversize") as url:
        r = run_measured(*stream_args(url, "--max-message-bytes", str(128 << 20)))
    assert r.returncode == 0, r.stderr.decode()
    assert r.peak_rss_kb > RSS_BOUND_KB


def test_escapes_never_reach_plain_output() -> None:
    with hostile_server("escapes") as url:
        r = run_measured(*stream_args(url))
    assert r.returncode == 1  # the one message that is not JSON
    assert_no_raw_control(r.stdout + r.stderr)
    assert b"\\x1b]0;pwned\\x07" in r.stdout, r.stdout  # the transcript, shown escaped
    assert b"finding: \xc2\xa73.json" in r.stderr and b"\\x00" in r.stderr


def test_escapes_in_json_output_are_escaped_and_lossless() -> None:
    with hostile_server("escapes") as url:
        r = run_measured(*stream_args(url, "--json"))
    assert r.returncode == 1
    assert_no_raw_control(r.stdout + r.stderr)
    events = [json.loads(line) for line in r.stdout.splitlines()]
    texts = [e["text"] for e in events if e["event"] == "transcript"]
    assert texts and all(ESCAPES in t for t in texts)  # JSON escapes decode back exactly
    (finding,) = [e for e in events if e["event"] == "finding"]
    assert finding["rule"] == "3.json" and "\x1b" not in finding["seen"]


def test_escapes_in_the_plot_are_text_never_markup(tmp_path: Path) -> None:
    """The picture's rows are the transcript's words here: the server's own text."""
    out = tmp_path / "partials.svg"
    with hostile_server("escapes") as url:
        r = run_measured(*stream_args(url, "--plot", str(out)))
    assert r.returncode == 1  # the one message that is not JSON; the picture is still drawn
    data = out.read_bytes()
    assert_no_raw_control(data)
    root = ET.fromstring(data)  # well-formed: no server text ended an element
    svg = "{http://www.w3.org/2000/svg}"
    assert {el.tag.removeprefix(svg) for el in root.iter()} <= {
        "svg",
        "title",
        "rect",
        "text",
        "g",
        "line",
        "circle",
        "path",
        "polyline",
    }
    texts = [el.text or "" for el in root.iter()]
    assert any("\\x1b]0;pwned\\x07" in t for t in texts)  # shown, escaped
    assert any("<script>alert(1)</script>" in t for t in texts)  # as text, not an element


def test_escapes_on_a_terminal_only_our_own_cursor_control() -> None:
    """On a TTY the live transcript rewrites lines with its own CSI sequences; none of the
    server's may get through."""
    with hostile_server("escapes") as url:
        leader, follower = pty.openpty()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASRX_")}
        proc = subprocess.Popen(
            [*asrx_exe(), *stream_args(url)], stdout=follower, stderr=subprocess.PIPE, env=env
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        proc.wait(60)
        os.close(leader)
    shown = b"".join(chunks)
    assert b"\\x1b]0;pwned" in shown
    for server_seq in (b"\x1b]0;", b"\x1b[2J", b"\x1b[31m", b"\x00", b"\x07", "\u202e".encode()):
        assert server_seq not in shown, f"{server_seq!r} reached the terminal"
    assert b"\x1b[J" in shown  # ours: the live rewrite


def test_invalid_utf8_is_named_as_such() -> None:
    with hostile_server("invalid-utf8") as url:
        r = run_asrx(*stream_args(url))
    assert r.returncode == 1
    assert "§3.utf8" in r.stderr and "dropped" not in r.stderr, r.stderr


def test_bad_max_message_bytes_is_a_usage_error() -> None:
    r = run_asrx(*stream_args("ws://127.0.0.1:9/asrx", "--max-message-bytes", "0"))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "asrx stream: error: --max-message-bytes must be > 0, got 0"
    ]
