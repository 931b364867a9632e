from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.mini_server import MiniServer

DATA = Path(__file__).parent / "data"
TWO_SENTENCES = DATA / "two-sentences.flac"
APIKEY = "test-key-5b1e"  # distinctive, so a leak shows up in any output


@pytest.fixture
def mini_server() -> Iterator[MiniServer]:
    with MiniServer(apikey=APIKEY) as server:
        yield server


@pytest.fixture
def two_sentences() -> Path:
    return TWO_SENTENCES


def asrx_exe() -> list[str]:
    exe = shutil.which("asrx", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "harness.cli.main"]


def run_asrx(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    prefix: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``asrx`` command as a user would, with a timeout."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ASRX_")}
    full_env.update(env or {})
    return subprocess.run(
        [*(prefix or []), *asrx_exe(), *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
