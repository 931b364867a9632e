"""Running the client under test: one process group, bounded in time and in what is kept.

The command runs in a new session (its own process group), so a client that spawns helpers
is stopped whole: past its time bound the group gets SIGTERM, then SIGKILL after
``KILL_GRACE_S``, and that is a finding, not a hang of the grader. Its stdout and stderr are
read through pipes as they come (a client is never blocked on a full pipe); the first
``MAX_STDOUT_BYTES`` of stdout and the last ``MAX_STDERR_BYTES`` of stderr are kept.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from harness.errors import UsageError

#: Between SIGTERM and SIGKILL for a client past its bound.
KILL_GRACE_S = 2.0
#: Waiting for the output pipes to close once the process group is gone.
DRAIN_TIMEOUT_S = 5.0
MAX_STDOUT_BYTES = 4 << 20
MAX_STDERR_BYTES = 64 << 10
_CHUNK = 65536


@dataclass(frozen=True)
class ClientProcess:
    """How one run of the client ended."""

    #: ``time.monotonic()`` at start and end (the server's records use the same clock).
    started: float
    ended: float
    #: The exit code; None when it was killed.
    exit_code: int | None
    killed: bool
    bound_s: float
    stdout: str
    stdout_truncated: bool
    stderr_tail: str

    @property
    def seconds(self) -> float:
        return self.ended - self.started


class _Keep(threading.Thread):
    """Drains one pipe, keeping its head (stdout) or its tail (stderr)."""

    def __init__(self, pipe: io.BufferedReader, limit: int, tail: bool) -> None:
        super().__init__(daemon=True)
        self.pipe, self.limit, self.tail = pipe, limit, tail
        self.data = bytearray()
        self.truncated = False

    def run(self) -> None:
        with self.pipe:
            while chunk := self.pipe.read1(_CHUNK):
                if self.tail:
                    self.data += chunk
                    if len(self.data) > self.limit:
                        del self.data[: len(self.data) - self.limit]
                        self.truncated = True
                else:
                    room = self.limit - len(self.data)
                    self.data += chunk[:room]
                    self.truncated = self.truncated or len(chunk) > room

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def run_client(
    argv: Sequence[str], env: Mapping[str, str], bound_s: float, cwd: str | None = None
) -> ClientProcess:
    """Run ``argv`` to its end or to ``bound_s`` seconds, whichever comes first."""
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as exc:
        raise UsageError(
            f"cannot run the client command {argv[0]!r}: {exc.strerror or exc}"
        ) from None
    assert proc.stdout is not None and proc.stderr is not None
    out = _Keep(cast(io.BufferedReader, proc.stdout), MAX_STDOUT_BYTES, tail=False)
    err = _Keep(cast(io.BufferedReader, proc.stderr), MAX_STDERR_BYTES, tail=True)
    out.start()
    err.start()
    killed = False
    try:
        proc.wait(timeout=bound_s)
    except subprocess.TimeoutExpired:
        killed = True
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
    ended = time.monotonic() if not killed else started + bound_s
    # Whatever the client left running in its group goes with it.
    _signal_group(proc.pid, signal.SIGKILL)
    out.join(DRAIN_TIMEOUT_S)
    err.join(DRAIN_TIMEOUT_S)
    return ClientProcess(
        started=started,
        ended=ended,
        exit_code=None if killed else proc.returncode,
        killed=killed,
        bound_s=bound_s,
        stdout=out.text(),
        stdout_truncated=out.truncated,
        stderr_tail=err.text(),
    )
