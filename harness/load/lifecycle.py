"""The asrx user's side of a Locust run's life: set up at ``init``, refresh at each start,
tidy up at ``quitting`` and ``quit``. Importing this module installs the listeners.

At ``init`` every process checks the ``--asrx-*`` options (a bad one: one line, exit 2),
puts the key redaction filter on every log handler (so ``--loglevel DEBUG``, where
websockets logs handshake headers, never shows the key), has Ctrl-C raised in the main
greenlet only (never a traceback from the pacer or a session it happened to interrupt),
and wires the statistics and the abort protocol between workers and master. A process that
runs users loads the corpus (a missing or invalid one: one line, exit 2). With no
``--host`` the master (or the local runner) starts the embedded reference server, and
stops it at ``quit``, Locust's last event, after the users have stopped and the run has been
judged.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from harness.client.target import check_url
from harness.corpus import default_corpus_dir, load_corpus
from harness.errors import HarnessError, UsageError
from harness.exitcodes import USAGE
from harness.load import abort, collector, interrupts, runstate
from harness.load.abort import fail_usage
from harness.load.options import LoadOptions
from harness.load.runstate import run_stats, state, worker_total
from harness.load.stats import LATENCY_METRICS, RunStats
from harness.redaction import install_log_filter

log = logging.getLogger("asrx.load")

#: Locust's loggers that do not propagate to the root logger: their handlers need the
#: redaction filter too.
LOCUST_LOGGERS = ("locust", "locust.stats_logger")


def load_utterances(environment: Environment, corpus: str) -> None:
    """Load the corpus the users replay (raises ``HarnessError`` or ``OSError``)."""
    st = state(environment)
    folder = corpus or str(default_corpus_dir("en"))
    utterances = list(load_corpus(folder).utterances)
    if not utterances:
        raise HarnessError(f"corpus {folder} has no utterances")
    st.utterances, st.corpus_dir, st.frames = utterances, corpus, {}


def cache_locust_defaults() -> None:
    """Compute Locust's default options once in a worker.

    A worker rebuilds Locust's whole argument parser for every option of every spawn
    message (``default_args_dict()`` called inside a comprehension over the options):
    30-100 ms without a frame sent, each time the master changes the user count, which
    put p99 send lateness of a ramp over 70 ms. The defaults do not change in a process.
    """
    from locust import argument_parser

    compute = argument_parser.default_args_dict
    if not hasattr(compute, "cache_info"):
        setattr(argument_parser, "default_args_dict", functools.cache(compute))  # noqa: B010


@events.init.add_listener
def on_init(environment: Environment, runner: Any = None, **_: Any) -> None:
    st = state(environment)
    install_log_filter(st.redactor, LOCUST_LOGGERS)
    interrupts.install()
    if isinstance(runner, WorkerRunner):
        cache_locust_defaults()
    runstate.connect(environment)
    abort.connect(environment)
    if environment.parsed_options is None:  # used as a library without Locust's command line
        return
    try:
        opts = LoadOptions.from_parsed(environment.parsed_options)
    except UsageError as exc:
        fail_usage(environment, str(exc))
        return
    st.redactor.add(opts.apikey)
    if not isinstance(runner, MasterRunner):
        try:
            load_utterances(environment, opts.corpus)
        except (HarnessError, OSError) as exc:
            fail_usage(environment, f"cannot use corpus: {exc}")
    if environment.host:
        try:
            check_url(environment.host)
        except HarnessError as exc:
            fail_usage(environment, str(exc))
    elif not isinstance(runner, WorkerRunner):
        _start_embedded_server(environment, opts)


def _start_embedded_server(environment: Environment, opts: LoadOptions) -> None:
    from harness.server.embedded import EmbeddedServer

    key = opts.apikey or secrets.token_urlsafe(12)
    state(environment).redactor.add(key)
    # Workers get the master's options with each spawn: the key travels with them.
    environment.parsed_options.asrx_apikey = key  # type: ignore[union-attr]
    server = EmbeddedServer(
        engine=opts.engine, apikeys=(key,), extra_args=("--max-sessions", "100000")
    )
    try:
        server.start()
    except HarnessError as exc:
        fail_usage(environment, f"cannot start the embedded server: {exc}")
    state(environment).server = server
    # Stopped at Locust's last event, once the users have stopped and the run is judged:
    # stopped at ``quitting``, the users still running (after Ctrl-C) met a closed server.
    environment.events.quit.add_listener(functools.partial(_stop_embedded_server, environment))
    state(environment).embedded_engine = opts.engine
    state(environment).embedded_url = server.url
    environment.host = server.url
    log.info("asrx: no --host given; embedded %s server at %s", opts.engine, server.url)


@events.test_start.add_listener
def on_test_start(environment: Environment, **_: Any) -> None:
    st = state(environment)
    st.refusals_in_a_row = 0
    st.aborted = None
    if environment.parsed_options is None or isinstance(environment.runner, MasterRunner):
        return
    try:  # the web UI may have changed options since start
        opts = LoadOptions.from_parsed(environment.parsed_options)
    except UsageError as exc:
        abort.abort(environment, str(exc), USAGE)
        return
    st.redactor.add(opts.apikey)  # a worker learns the embedded server's key here
    # A worker's options are replaced by the master's at each spawn: reload if changed.
    if opts.corpus != st.corpus_dir or not st.utterances:
        try:
            load_utterances(environment, opts.corpus)
        except (HarnessError, OSError) as exc:
            abort.abort(environment, f"cannot use corpus: {exc}", USAGE)
            return
    collector.settle()  # this process streams: no collector pauses between frames


@events.quitting.add_listener
def on_quitting(environment: Environment, **_: Any) -> None:
    worker = isinstance(environment.runner, WorkerRunner)
    opts = environment.parsed_options
    stats_out = getattr(opts, "asrx_stats_out", "") if opts is not None else ""
    if stats_out:
        path = Path(stats_out)
        if worker:
            path = path.with_name(f"{path.stem}.worker-{os.getpid()}{path.suffix}")
        stats = worker_total(environment) if worker else run_stats(environment)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stats.to_dict()))
    if not worker:
        log.info("asrx: %s", one_line_summary(run_stats(environment)))


def _stop_embedded_server(environment: Environment, **_: Any) -> None:
    st = state(environment)
    if st.server is not None:
        st.server.close()
        st.server = None


def one_line_summary(stats: RunStats) -> str:
    parts = [f"{stats.sessions_ok} sessions ok"]
    parts += [f"{n} {kind}" for kind, n in sorted(stats.failures.items())]
    for name in LATENCY_METRICS:
        p95 = stats.histograms[name].percentile(95)
        if p95 is not None and name != "connect":
            parts.append(f"{name} p95 {p95:.0f} ms")
    p99 = stats.histograms["send_lateness"].percentile(99)
    if p99 is not None:
        parts.append(f"send lateness p99 {p99:.1f} ms")
    return ", ".join(parts)
