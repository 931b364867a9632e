"""Stopping a run that cannot test: a usage error at start, every session refused, no
corpus on a worker.

Hammering a server that refuses every session measures nothing, so the run stops with one
error line and a non-zero exit code instead. A local runner or a master stops itself; a
worker cannot, so it tells the master (a custom message) and the master stops the run. The
gate reads ``RunState.aborted`` and judges the run as failed with that cause.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, NoReturn

import gevent
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from harness.exitcodes import TARGET_FAILED, USAGE
from harness.load.runstate import state

log = logging.getLogger("asrx.load")

#: Custom message a worker sends the master when its run cannot test.
ABORT_MESSAGE = "asrx_abort"


def fail_usage(environment: Environment | None, message: str) -> NoReturn:
    """One line on stderr and exit 2, before any user starts (at ``init``).

    ``quitting`` does not fire on this path, so an embedded server already started for the
    run is stopped here rather than left running.
    """
    st = getattr(environment, "asrx", None)
    if st is not None and st.server is not None:
        st.server.close()
        st.server = None
    sys.stderr.write(f"asrx: {message}\n")
    sys.stderr.flush()
    sys.exit(USAGE)


def abort(environment: Environment, message: str, code: int = TARGET_FAILED) -> None:
    """Stop the run once, with ``message`` logged and ``code`` as the process's exit code."""
    st = state(environment)
    if st.aborted is not None:
        return
    st.aborted = (code, message)
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.send_message(ABORT_MESSAGE, {"message": message, "code": code})
        return
    _stop(environment, message, code)


def _stop(environment: Environment, message: str, code: int) -> None:
    """Headless, the process quits; with the web UI the run stops and the UI shows why."""
    log.error("asrx: %s; stopping the run", message)
    environment.process_exit_code = code
    runner = environment.runner
    if runner is not None:
        gevent.spawn(runner.quit if environment.web_ui is None else runner.stop)


def connect(environment: Environment) -> None:
    """On a master, listen for the workers' abort messages (at ``init``)."""
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        return

    def on_abort(msg: Any, **_: Any) -> None:
        st = state(environment)
        if st.aborted is not None:
            return
        code = int(msg.data.get("code", TARGET_FAILED))
        message = f"{msg.data['message']} (worker {msg.node_id})"
        st.aborted = (code, message)
        _stop(environment, message, code)

    runner.register_message(ABORT_MESSAGE, on_abort)
