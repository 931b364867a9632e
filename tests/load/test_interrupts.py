"""Ctrl-C in a Locust process (``harness.load.interrupts``): wherever SIGINT lands, the main
greenlet gets the ``KeyboardInterrupt``, nothing prints a traceback, and the process
remembers it. Each case runs in a process of its own: signal handlers are per process."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: A process where SIGINT lands in a greenlet other than the main one: the pacer's (sent from
#: a frame's write, which the pacer makes) or a session's. Prints what the greenlets did.
INTERRUPTED = r"""
import os, signal, sys
import gevent
from harness.client import pacer as pacing
from harness.load import interrupts

if sys.argv[1] == "fixed":
    interrupts.install()
seen = []

class Wire:
    can_send_audio = True
    def audio_frame(self, frame): return frame
    def audio_sent(self, size, scheduled, sent): pass
    def interrupt(self): pass

class Writer:
    def writing(self): return False
    def write_now(self, chunks=None):
        if gevent.getcurrent() is pacing.pacer()._greenlet and not seen:
            os.kill(os.getpid(), signal.SIGINT)  # lands in the pacer's greenlet
            seen.append("pacer went on")
        return []
    def finish_write(self, rest): pass
    def release(self): pass
    def flush(self): pass

def session():
    os.kill(os.getpid(), signal.SIGINT)  # lands in a session's greenlet
    seen.append("session went on")

if sys.argv[2] == "session":
    gevent.spawn_later(0.05, session)
else:
    gevent.spawn(pacing.pacer().send_frames, Writer(), Wire(), [b"x" * 1024] * 8, 1.0, None, True)
try:
    gevent.sleep(2)
    print("main: slept on")
except KeyboardInterrupt:
    print("main: interrupted")
gevent.sleep(0.5)  # the interrupted greenlet, if alive, goes on
print(*seen, sep="\n")
print("received:", interrupts.received())
"""


@pytest.mark.parametrize("where", ["pacer", "session"])
def test_ctrl_c_reaches_the_main_greenlet_only(where: str) -> None:
    """Wherever SIGINT lands, the main greenlet gets the KeyboardInterrupt (Locust writes its
    reports there), the greenlet it landed in goes on, and no traceback is printed."""

    def run(mode: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", INTERRUPTED, mode, where],
            capture_output=True,
            text=True,
            timeout=60,
        )

    fixed = run("fixed")
    assert fixed.returncode == 0, fixed.stderr
    assert "main: interrupted" in fixed.stdout, fixed.stdout + fixed.stderr
    assert f"{where} went on" in fixed.stdout, fixed.stdout
    assert "Traceback" not in fixed.stderr, fixed.stderr
    assert "received: True" in fixed.stdout  # the gate reads it: the run was interrupted
    # The scenario: with Python's own handler the interrupt kills that greenlet, loudly.
    plain = run("plain")
    assert "Traceback" in plain.stderr and "KeyboardInterrupt" in plain.stderr, plain.stderr
