"""``asrx load``: the packaged locustfile, Locust's options and exit codes passed through.

A whole gated run (pass, and an impossible SLO exiting 3) is in tests/test_packaging.py,
from an installed wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli.load import CAPACITY_FLAG, locust_command
from harness.errors import UsageError
from harness.exitcodes import OK, USAGE
from harness.locustfiles import NAMES, locustfile
from tests.conftest import asrx_exe


def run_asrx(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASRX_", "LOCUST_"))}
    return subprocess.run(
        [*asrx_exe(), *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env
    )


def test_every_locust_option_passes_through_in_order() -> None:
    args = ["--headless", "-u", "5", "-r", "2", "-t", "10s", "--processes", "2", "--html", "x"]
    cmd = locust_command(args, "/pkg/stream.py")
    assert cmd == [sys.executable, "-m", "locust", "-f", "/pkg/stream.py", *args]


def test_capacity_is_asrx_loads_own_option() -> None:
    cmd = locust_command([CAPACITY_FLAG, "--headless", "--step-max", "4"], "/pkg/capacity.py")
    assert CAPACITY_FLAG not in cmd
    assert cmd[-3:] == ["--headless", "--step-max", "4"]


@pytest.mark.parametrize("arg", ["-f", "-fmine.py", "--locustfile", "--locustfile=mine.py"])
def test_another_locustfile_is_a_usage_error(arg: str) -> None:
    with pytest.raises(UsageError, match="locust -f FILE"):
        locust_command([arg, "mine.py"], "/pkg/stream.py")


@pytest.mark.parametrize("name", NAMES)
def test_packaged_locustfiles_exist(name: str) -> None:
    assert locustfile(name).is_file()


def test_unknown_locustfile_name() -> None:
    with pytest.raises(ValueError, match="known: stream, capacity"):
        locustfile("soak")


def test_help_explains_and_shows_locusts_help_with_the_asrx_options(tmp_path: Path) -> None:
    done = run_asrx("load", "--help", cwd=tmp_path)
    assert done.returncode == OK, done.stderr
    head, _, locust_help = done.stdout.partition("Usage: locust")
    assert head.startswith("usage: asrx load [--capacity]")
    assert "exit code" in head and "docs/load.md" in head
    for option in ("--headless", "--processes", "--asrx-corpus", "--slo-p95-first-partial-ms"):
        assert option in locust_help, f"{option} missing from Locust's part of the help"
    assert "--step-max" not in locust_help


def test_capacity_help_shows_the_step_options(tmp_path: Path) -> None:
    done = run_asrx("load", CAPACITY_FLAG, "--help", cwd=tmp_path)
    assert done.returncode == OK, done.stderr
    assert "--step-max" in done.stdout.partition("Usage: locust")[2]


def test_usage_error_is_one_line(tmp_path: Path) -> None:
    done = run_asrx("load", "-f", "mine.py", cwd=tmp_path)
    assert done.returncode == USAGE
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("asrx load: error: -f:")


def test_locusts_exit_code_passes_through(tmp_path: Path) -> None:
    """The gate's own usage error (exit 2, one line) comes from inside the Locust process."""
    done = run_asrx(
        "load", "--headless", "-u", "1", "-t", "5s", "--slo-file", "missing.toml", cwd=tmp_path
    )
    assert done.returncode == USAGE, done.stderr[-2000:]
    assert "missing.toml" in done.stderr and "Traceback" not in done.stderr
