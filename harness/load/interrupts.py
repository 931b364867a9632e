"""Ctrl-C in a Locust process: raised in the main greenlet only, and remembered.

Python raises ``KeyboardInterrupt`` in whatever code runs when SIGINT arrives. In a load
worker that is often the pacer, which runs every tick, or a session's greenlet; gevent then
prints that greenlet's traceback before passing the interrupt on to the main greenlet,
where Locust waits for it to write its reports. The handler ``install`` sets raises it in
the main greenlet directly, so a Ctrl-C stops a run without a traceback, and no session or
pacer dies of it on the way.

``received()`` tells the gate the run was interrupted even when Locust's runner has already
stopped: with ``--processes`` a terminal's Ctrl-C reaches the workers too, and the master's
runner stops as they quit, a moment before the master's own interrupt.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import gevent

_received = threading.Event()


def install() -> None:
    """Handle SIGINT as above, in place of Python's default handler only (a program's own
    handler stays), and only from the main thread, where signal handlers are set."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt_main)


def received() -> bool:
    """Whether a Ctrl-C reached this process through the handler."""
    return _received.is_set()


def _interrupt_main(signum: int, frame: FrameType | None) -> None:
    _received.set()
    hub = gevent.get_hub()
    if gevent.getcurrent() is hub.parent:  # the main greenlet: as Python's own handler
        raise KeyboardInterrupt
    hub.loop.run_callback(hub.parent.throw, KeyboardInterrupt, KeyboardInterrupt())
