"""The client process: killed whole at its bound, even when it ignores SIGTERM or leaves
children behind; its output kept within bounds; a missing program is a usage error."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from harness.clientgrade import process
from harness.clientgrade.process import KILL_GRACE_S, run_client
from harness.errors import UsageError
from tests.processes import alive

ENV = dict(os.environ)


def test_a_client_that_ignores_sigterm_is_killed_with_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = f"trap '' TERM; sleep 600 & echo $! > {pidfile}; echo started; wait"
    started = time.monotonic()
    p = run_client(["sh", "-c", script], ENV, bound_s=1.0)
    took = time.monotonic() - started
    assert p.killed and p.exit_code is None
    assert 1.0 <= took < 1.0 + KILL_GRACE_S + 2
    assert p.stdout == "started\n"
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child), "the client's child outlived it"


def test_a_client_that_ends_leaves_nothing_running(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    p = run_client(["sh", "-c", f"sleep 600 & echo $! > {pidfile}; exit 3"], ENV, bound_s=10)
    assert (p.killed, p.exit_code) == (False, 3)
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child)


def test_output_is_kept_within_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process, "MAX_STDOUT_BYTES", 1000)
    monkeypatch.setattr(process, "MAX_STDERR_BYTES", 100)
    code = (
        "import sys; sys.stdout.write('a' * 5000 + 'END'); "
        "sys.stderr.write('x' * 5000 + 'LAST LINE')"
    )
    p = run_client([sys.executable, "-c", code], ENV, bound_s=30)
    assert p.exit_code == 0 and len(p.stdout) == 1000 and p.stdout_truncated
    assert len(p.stderr_tail) == 100 and p.stderr_tail.endswith("LAST LINE")


def test_a_missing_program_is_one_usage_error() -> None:
    with pytest.raises(UsageError, match="cannot run the client command 'no-such-client-x'"):
        run_client(["no-such-client-x"], ENV, bound_s=1)
