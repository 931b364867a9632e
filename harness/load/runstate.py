"""What one Locust process keeps for an asrx run, and how the master merges its workers'.

Every process has one ``RunState`` (``state(environment)``). Users record into its
``stats``. The statistics travel the way Locust's own do: a worker sends what it recorded
*since its last report* with each report (``report_to_master``), and once more when its
users stop (a custom message, since Locust's "stop" sends no final report); the master
adds each delta into ``remote``. The merge is exact (HdrHistogram counts add bucket by
bucket), and a reset is simple: the master clears what it holds, as Locust clears its
request statistics (web UI's Reset, a new run).

``run_stats(environment)`` is the run's merged ``RunStats``: on the master its workers'
deltas, in a local run the process's own. A worker's own total (``worker_total``) is what
it sent plus what it has not sent yet, for ``--asrx-stats-out``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from harness.client.target import Target
from harness.corpus.manifest import Utterance
from harness.load.stats import RunStats
from harness.redaction import Redactor

#: Key of a delta ``RunStats.to_dict()`` in a worker's report to the master.
REPORT_KEY = "asrx_stats"
#: Custom message a worker sends when its users stopped: its last delta.
FINAL_MESSAGE = "asrx_final_stats"


@dataclass
class RunState:
    """What one Locust process keeps for the asrx users (``environment.asrx``)."""

    #: Recorded by this process's users (on a worker: since its last report).
    stats: RunStats = field(default_factory=RunStats)
    #: Worker: everything already sent to the master. Master: every worker's deltas.
    sent: RunStats = field(default_factory=RunStats)
    remote: RunStats = field(default_factory=RunStats)
    utterances: Sequence[Utterance] = ()
    corpus_dir: str = ""
    frames: dict[str, list[bytes]] = field(default_factory=dict)
    server: Any = None
    #: The engine and URL of the embedded server this run started (kept after it stops).
    embedded_engine: str | None = None
    embedded_url: str | None = None
    targets: dict[str, Target] = field(default_factory=dict)
    #: Removes the run's key from logs and reports (the embedded server's key is added
    #: when it is made).
    redactor: Redactor = field(default_factory=Redactor)
    refusals_in_a_row: int = 0
    sessions_opened: int = 0
    #: (exit code, message) once the run was stopped because it could not test.
    aborted: tuple[int, str] | None = None
    next_index: itertools.count[int] = field(default_factory=itertools.count)

    def reset(self) -> None:
        """Forget every figure (a new run, or the web UI's Reset)."""
        self.stats = RunStats()
        self.remote = RunStats()


def state(environment: Environment) -> RunState:
    st = getattr(environment, "asrx", None)
    if st is None:
        st = RunState()
        environment.asrx = st  # type: ignore[attr-defined]
    return st


def _sum(*parts: RunStats) -> RunStats:
    total = RunStats()
    for part in parts:
        total.merge(part)
    return total


def run_stats(environment: Environment) -> RunStats:
    """The run's statistics: this process's own merged with every worker's deltas."""
    st = state(environment)
    return _sum(st.stats, st.remote)


def worker_total(environment: Environment) -> RunStats:
    """A worker's whole contribution: what it sent plus what it has not sent yet."""
    st = state(environment)
    return _sum(st.sent, st.stats)


def take_delta(st: RunState) -> dict[str, Any]:
    """A worker's unsent statistics, as sent; they move to ``sent``."""
    delta, st.stats = st.stats, RunStats()
    st.sent.merge(delta)
    return delta.to_dict()


def connect(environment: Environment) -> None:
    """Wire this environment's statistics into Locust's reports and resets (at ``init``)."""
    events = environment.events
    runner = environment.runner

    if isinstance(runner, WorkerRunner):

        def on_report(client_id: str, data: dict[str, Any]) -> None:
            data[REPORT_KEY] = take_delta(state(environment))

        def on_stop(**_: Any) -> None:
            runner.send_message(FINAL_MESSAGE, take_delta(state(environment)))

        events.report_to_master.add_listener(on_report)
        events.test_stop.add_listener(on_stop)
        # A new run: Locust clears its request statistics, and so does the asrx side.
        events.test_start.add_listener(lambda **_: state(environment).reset())
        events.spawning_complete.add_listener(lambda **_: _reset_if_asked(environment))
        return

    if isinstance(runner, MasterRunner):

        def on_worker_report(client_id: str, data: dict[str, Any]) -> None:
            if REPORT_KEY in data:
                state(environment).remote.merge(RunStats.from_dict(data[REPORT_KEY]))

        def on_final(msg: Any, **_: Any) -> None:
            state(environment).remote.merge(RunStats.from_dict(msg.data))

        events.worker_report.add_listener(on_worker_report)
        runner.register_message(FINAL_MESSAGE, on_final)

    events.test_start.add_listener(lambda **_: state(environment).reset())
    events.reset_stats.add_listener(lambda **_: state(environment).reset())
    events.spawning_complete.add_listener(lambda **_: _reset_if_asked(environment))


def _reset_if_asked(environment: Environment) -> None:
    """``--reset-stats``: Locust forgets the ramp-up once every user runs; so does asrx."""
    if environment.reset_stats:
        state(environment).reset()
