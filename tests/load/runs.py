"""Running ``locust -f locustfiles/stream.py`` as a user would, bounded in time."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCUSTFILE = REPO / "locustfiles" / "stream.py"


def locust_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *args]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASRX_", "LOCUST_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run_locust(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        locust_cmd(*args),
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


def headless(users: int, seconds: int) -> tuple[str, ...]:
    """Locust's options for a headless run of ``users`` users, all spawned at once."""
    return ("--headless", "-u", str(users), "-r", str(users), "-t", f"{seconds}s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
