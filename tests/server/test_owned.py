"""A server another program runs (``--owned``, what ``EmbeddedServer`` starts): a terminal's
Ctrl-C, which reaches the whole process group, does not stop it under its owner; SIGTERM
does; and it never outlives its owner, however the owner ends."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

from harness.server.embedded import EmbeddedServer
from tests.processes import alive
from tests.server.streaming import http_get

#: How long a stopping server may take (its graceful stop is well under a second).
GONE_WITHIN_S = 15


def healthy(http_url: str) -> bool:
    return http_get(http_url + "/healthz")[0] == 200


def wait_gone(pid: int) -> bool:
    deadline = time.monotonic() + GONE_WITHIN_S
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not alive(pid)


def test_ctrl_c_leaves_an_owned_server_serving_and_sigterm_stops_it() -> None:
    with EmbeddedServer(engine="synthetic", apikeys=("k",)) as server:
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGINT)
        time.sleep(0.5)
        assert server.process.poll() is None, server.stderr_tail()
        assert healthy(server.http_url)
        code = server.stop()  # SIGTERM
        log = server.stderr_text()
    assert code == 0, log[-3000:]
    assert '"stopping"' in log and '"owner_gone"' not in log


#: An owner that starts a server, says its pid, and waits to be killed.
OWNER = """
import sys, time
from harness.server.embedded import EmbeddedServer
from tests.processes import alive
from tests.server.streaming import http_get
server = EmbeddedServer(engine="synthetic", apikeys=("k",)).start()
print(server.process.pid, server.http_url, flush=True)
time.sleep(120)
"""


def test_an_owned_server_stops_when_its_owner_is_killed() -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert owner.stdout is not None
        pid_text, http_url = owner.stdout.readline().split()
        pid = int(pid_text)
        assert healthy(http_url)
        owner.kill()  # SIGKILL: no clean-up of its own
        owner.wait(timeout=10)
        assert wait_gone(pid), "the server outlived its owner"
    finally:  # whatever is left of the owner's group (the server, should it have stayed)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(owner.pid, signal.SIGKILL)
        owner.wait(timeout=10)


def test_asrx_serve_owned_stops_at_the_end_of_its_input() -> None:
    """Without an owner's pipe (here /dev/null), an owned server stops at once, saying why."""
    proc = subprocess.run(
        [sys.executable, "-m", "harness.server", "--owned", "--engine", "synthetic"]
        + ["--no-auth", "--port", "0"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert '"owner_gone"' in proc.stderr and '"ready"' in proc.stderr


def test_a_server_run_by_hand_still_stops_on_ctrl_c() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.server", "--engine", "synthetic", "--no-auth"]
        + ["--port", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert '"ready"' in proc.stdout.readline()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=GONE_WITHIN_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
