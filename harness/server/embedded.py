"""``EmbeddedServer``: the reference server as a subprocess, for tests and tools.

::

    with EmbeddedServer(engine="synthetic", apikeys=["k"]) as server:
        connect(server.url, additional_headers={"apikey": "k"})

It runs ``python -m harness.server --host 127.0.0.1 --port 0 --owned ...``, waits for the
ready line on stdout, and stops the process on exit (SIGTERM, then kill). ``--owned``: the
server ignores Ctrl-C, which a terminal sends to the whole process group, so that it serves
on while its owner (a Locust run, a pytest session) winds down; and it stops by itself when
its standard input, a pipe from the owner, closes, so it never outlives the owner. Keys go
through the ``ASRX_APIKEYS`` environment variable, never argv, so they never show in
``ps``. The server's stderr (JSON log lines) is kept in a temporary file:
``stderr_text()``.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import IO

from harness.errors import HarnessError

#: Waiting for the process to end after SIGTERM, then after SIGKILL.
STOP_TIMEOUT_S = 10.0
KILL_TIMEOUT_S = 5.0
_STDERR_TAIL_CHARS = 4000


class EmbeddedServerError(HarnessError):
    """The server process died or did not become ready in time."""


class EmbeddedServer:
    def __init__(
        self,
        *,
        engine: str = "synthetic",
        apikeys: Sequence[str] = ("test-key",),
        no_auth: bool = False,
        faults: Sequence[str] = (),
        delay_ms: int = 0,
        tls_cert: str | None = None,
        tls_key: str | None = None,
        extra_args: Sequence[str] = (),
        ready_timeout: float = 30,
    ) -> None:
        self.engine = engine
        self.apikeys = tuple(apikeys)
        self.no_auth = no_auth
        self.faults = tuple(faults)
        self.delay_ms = delay_ms
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self.extra_args = tuple(extra_args)
        self.ready_timeout = ready_timeout
        self.url = ""
        self.http_url = ""
        self.pid = 0
        self.process: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None
        self._pump: threading.Thread | None = None

    @property
    def apikey(self) -> str:
        """The first accepted key ("" without auth)."""
        return self.apikeys[0] if self.apikeys else ""

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "harness.server", "--host", "127.0.0.1", "--port", "0"]
        cmd += ["--owned", "--engine", self.engine]
        if self.no_auth:
            cmd.append("--no-auth")
        if self.faults:
            cmd += ["--fault", ",".join(self.faults)]
        if self.delay_ms:
            cmd += ["--delay-ms", str(self.delay_ms)]
        if self.tls_cert:
            cmd += ["--tls-cert", self.tls_cert, "--tls-key", self.tls_key or ""]
        return cmd + list(self.extra_args)

    def start(self) -> EmbeddedServer:
        env = dict(os.environ)
        env["ASRX_APIKEYS"] = ",".join(self.apikeys)
        env.setdefault("PYTHONUNBUFFERED", "1")
        # Kept open for the server's lifetime and closed in close(): not a with-block.
        self._stderr = tempfile.TemporaryFile(  # noqa: SIM115
            "w+", encoding="utf-8", prefix="asrx-server-"
        )
        self.process = subprocess.Popen(
            self.command(),
            stdin=subprocess.PIPE,  # never written: its end tells the server the owner is gone
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        stdout = self.process.stdout
        assert stdout is not None

        def pump() -> None:
            for line in stdout:
                lines.put(line)
            lines.put("")

        self._pump = threading.Thread(target=pump, name="asrx-server-stdout", daemon=True)
        self._pump.start()
        try:
            line = lines.get(timeout=self.ready_timeout)
        except queue.Empty:
            self.stop()
            raise EmbeddedServerError(
                f"server not ready after {self.ready_timeout:g} s; stderr:\n{self.stderr_tail()}"
            ) from None
        try:
            ready = json.loads(line)
            self.url, self.http_url, self.pid = ready["url"], ready["http"], int(ready["pid"])
        except (ValueError, KeyError, TypeError):
            code = self.process.wait(timeout=KILL_TIMEOUT_S) if not line else None
            self.stop()
            raise EmbeddedServerError(
                f"server exited (code {code}) before it was ready; stderr:\n{self.stderr_tail()}"
                if not line
                else f"unexpected ready line {line!r}; stderr:\n{self.stderr_tail()}"
            ) from None
        return self

    def stderr_text(self) -> str:
        """Everything the server wrote on stderr so far."""
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        text = self._stderr.read()
        self._stderr.seek(0, os.SEEK_END)
        return text

    def stderr_tail(self) -> str:
        return self.stderr_text()[-_STDERR_TAIL_CHARS:]

    def stop(self) -> int | None:
        """SIGTERM, wait, then kill; return the exit code."""
        proc = self.process
        if proc is None:
            return None
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=KILL_TIMEOUT_S)
        # The server's engine workers may hold its stdout a moment longer: closing it under
        # the pump's read is a "reentrant call" error under gevent (a Locust process).
        if self._pump is not None:
            self._pump.join(timeout=KILL_TIMEOUT_S)
        if proc.stdout is not None and not (self._pump and self._pump.is_alive()):
            proc.stdout.close()
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        return proc.returncode

    def close(self) -> None:
        self.stop()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
