"""The Locust user that replays corpus utterances over asrx, and its event hooks.

``locustfiles/stream.py`` imports this module; importing it registers the ``--asrx-*``
options and the event listeners. Each user loops: pick an utterance (round-robin or
random), stream it at real time through ``harness.client.gevent_client`` (absolute
deadlines, a receiver greenlet, end-of-stream, confirmation, close; every wait bounded),
then fire what it measured as Locust requests (``request_type="ASRX"``):

=============== ========================================================================
name            response time (real, never a placeholder)
=============== ========================================================================
connect         TCP + TLS + WebSocket handshake; a failure here is ``rejected``,
                ``connect_failed`` or ``timeout`` and the session never opened
first_partial   one per server sentence: first non-empty text minus W(speech onset)
sentence        one per sentence: final text minus W(speech end) (PROTOCOL.md §5)
close           confirmation minus end-of-stream send time
session         one per opened session, connect start to close; a failed session is
                a failure here, its message prefixed with the kind
=============== ========================================================================

Failure kinds are ``harness.load.stats.FAILURE_KINDS``. The same numbers go, at full
resolution, into one ``RunStats`` per process; workers ship theirs with every Locust
report and the master merges them exactly. ``run_stats(environment)`` is the run's
merged ``RunStats`` (on the master: its own plus every worker's latest report; in a
local run: the process's own): the SLO gate and the HTML report read it at
``test_stop``/``quitting``.

With no ``--host`` the master (or the local runner) starts the embedded reference server
at ``init`` and stops it at ``quitting``. When every session is refused or cannot
connect (``--asrx-max-refusals`` in a row, none opened yet) the run stops with one error
line and exit code 1 instead of hammering; a missing or invalid corpus is one line and
exit code 2.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import random
import secrets
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from locust import User, constant, events, task
from locust.env import Environment
from locust.runners import MasterRunner, Runner, WorkerRunner

from harness.client.target import Target, check_url
from harness.corpus import default_corpus_dir, load_corpus, score
from harness.corpus.manifest import Utterance
from harness.errors import (
    ConnectFailed,
    ConnectionDropped,
    HandshakeRejected,
    HarnessError,
    SessionTimeout,
    TargetError,
)
from harness.client import gevent_client
from harness.load.stats import RunStats
from harness.protocol.audio import DEFAULT_FRAME_BYTES, split_frames
from harness.protocol.metrics import DEFAULT_LATENESS_BOUND_MS, SessionMetrics, session_metrics
from harness.protocol.session import ClientSession
from harness.timeouts import DEFAULT_TIMEOUTS

log = logging.getLogger("asrx.load")

REQUEST_TYPE = "ASRX"
#: After a session that never opened, a user waits this long, doubling up to the maximum
#: while refusals continue: a dead server is not hammered in a tight loop.
REFUSAL_BACKOFF_S = 0.05
REFUSAL_BACKOFF_MAX_S = 2.0
ORDERS = ("round-robin", "random")
ENGINES = ("synthetic", "pocketsphinx")
#: Exit codes this module sets (the same as ``harness.load.slo``'s).
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
#: Custom message a worker sends the master when all its sessions are refused.
ABORT_MESSAGE = "asrx_abort"
#: Key of ``RunStats.to_dict()`` in Locust's worker reports.
REPORT_KEY = "asrx_stats"


class AsrxFailure(Exception):
    """A failed session as Locust shows it: ``<kind>: <what happened>``."""

    def __init__(self, kind: str, detail: str) -> None:
        self.kind = kind
        super().__init__(f"{kind}: {detail}")

    def __repr__(self) -> str:  # Locust keys and shows failures by repr
        return str(self)


# -- options -------------------------------------------------------------------------
@events.init_command_line_parser.add_listener
def add_options(parser: Any) -> None:
    # Locust's own add_argument (not a group's) knows include_in_web_ui and is_secret.
    g = parser
    g.add_argument(
        "--asrx-corpus",
        env_var="ASRX_CORPUS",
        default="",
        help="corpus folder (manifest.jsonl + .pcm); default: the shipped en-synth",
    )
    g.add_argument(
        "--asrx-apikey",
        env_var="ASRX_APIKEY",
        default=None,
        is_secret=True,
        help="API key sent in the handshake (prefer ASRX_APIKEY: argv shows in ps)",
    )
    g.add_argument(
        "--asrx-frame-bytes",
        env_var="ASRX_FRAME_BYTES",
        type=int,
        default=DEFAULT_FRAME_BYTES,
        help="bytes per audio frame (default 1024 = 32 ms)",
    )
    g.add_argument(
        "--asrx-order",
        env_var="ASRX_ORDER",
        choices=ORDERS,
        default="round-robin",
        help="which utterance each session replays next (default round-robin)",
    )
    g.add_argument(
        "--asrx-speed",
        env_var="ASRX_SPEED",
        type=float,
        default=1.0,
        help="pacing as a multiple of real time (default 1.0)",
    )
    g.add_argument(
        "--asrx-ca-file",
        env_var="ASRX_CA_FILE",
        default=None,
        help="PEM file of CAs to trust for wss:// (default: the system's)",
    )
    g.add_argument(
        "--asrx-timeout-scale",
        env_var="ASRX_TIMEOUT_SCALE",
        type=float,
        default=1.0,
        help="multiply every wait (handshake, confirmation, close, send) by this",
    )
    g.add_argument(
        "--asrx-engine",
        env_var="ASRX_ENGINE",
        choices=ENGINES,
        default="synthetic",
        help="engine of the embedded server started when no --host is given",
    )
    g.add_argument(
        "--asrx-max-refusals",
        env_var="ASRX_MAX_REFUSALS",
        type=int,
        default=10,
        help="stop the run after this many sessions in a row were refused or could "
        "not connect while none ever opened (default 10)",
    )
    g.add_argument(
        "--asrx-stats-out",
        env_var="ASRX_STATS_OUT",
        default="",
        include_in_web_ui=False,
        help="write the run's RunStats as JSON here at the end (workers add "
        ".worker-<pid> before the suffix)",
    )


# -- per-process state ---------------------------------------------------------------
@dataclass
class LoadState:
    """What one Locust process keeps for the asrx users (``environment.asrx``)."""

    stats: RunStats = field(default_factory=RunStats)
    #: Master only: each worker's latest cumulative RunStats, by client id.
    worker_stats: dict[str, RunStats] = field(default_factory=dict)
    utterances: Sequence[Utterance] = ()
    corpus_dir: str = ""
    frames: dict[str, list[bytes]] = field(default_factory=dict)
    server: Any = None
    targets: dict[str, Target] = field(default_factory=dict)
    refusals_in_a_row: int = 0
    sessions_opened: int = 0
    aborted: bool = False
    next_index: itertools.count[int] = field(default_factory=itertools.count)


def state(environment: Environment) -> LoadState:
    st = getattr(environment, "asrx", None)
    if st is None:
        st = LoadState()
        environment.asrx = st  # type: ignore[attr-defined]
    return st


def run_stats(environment: Environment) -> RunStats:
    """The run's statistics: this process's, merged with every worker's latest report."""
    st = state(environment)
    merged = RunStats()
    merged.merge(st.stats)
    for worker in st.worker_stats.values():
        merged.merge(worker)
    return merged


def _options(environment: Environment) -> Any:
    return environment.parsed_options


def _fail_usage(environment: Environment, message: str) -> None:
    """One error line, exit code 2, no traceback (at init: nothing runs yet)."""
    log.error("asrx: %s", message)
    environment.process_exit_code = EXIT_USAGE
    sys.stderr.flush()
    sys.exit(EXIT_USAGE)


def load_utterances(environment: Environment, corpus: str) -> None:
    st = state(environment)
    folder = corpus or str(default_corpus_dir("en"))
    corp = load_corpus(folder)
    utts = list(corp.utterances)
    if not utts:
        raise HarnessError(f"corpus {folder} has no utterances")
    st.utterances, st.corpus_dir, st.frames = utts, corpus, {}


# -- event hooks -----------------------------------------------------------------------
@events.init.add_listener
def on_init(environment: Environment, runner: Runner | None = None, **_: Any) -> None:
    opts = _options(environment)
    if opts is None:  # used as a library without Locust's command line
        return
    st = state(environment)
    if opts.asrx_frame_bytes <= 0 or opts.asrx_speed <= 0 or opts.asrx_timeout_scale <= 0:
        _fail_usage(
            environment, "--asrx-frame-bytes, --asrx-speed and --asrx-timeout-scale must be > 0"
        )
    if not isinstance(runner, MasterRunner):
        try:
            load_utterances(environment, opts.asrx_corpus)
        except (HarnessError, OSError) as exc:
            _fail_usage(environment, f"cannot use corpus: {exc}")
    if environment.host:
        try:
            check_url(environment.host)
        except HarnessError as exc:
            _fail_usage(environment, str(exc))
    elif not isinstance(runner, WorkerRunner):
        _start_embedded_server(environment, opts)
    if isinstance(runner, MasterRunner):
        runner.register_message(ABORT_MESSAGE, _on_abort_message)
    st.stats = RunStats()


def _start_embedded_server(environment: Environment, opts: Any) -> None:
    from harness.server.embedded import EmbeddedServer

    key = opts.asrx_apikey or secrets.token_urlsafe(12)
    opts.asrx_apikey = key  # workers get the master's options with each spawn
    server = EmbeddedServer(
        engine=opts.asrx_engine, apikeys=(key,), extra_args=("--max-sessions", "100000")
    )
    try:
        server.start()
    except HarnessError as exc:
        _fail_usage(environment, f"cannot start the embedded server: {exc}")
    state(environment).server = server
    environment.host = server.url
    log.info("asrx: no --host given; embedded %s server at %s", opts.asrx_engine, server.url)


@events.test_start.add_listener
def on_test_start(environment: Environment, **_: Any) -> None:
    opts = _options(environment)
    if opts is None or isinstance(environment.runner, MasterRunner):
        return
    st = state(environment)
    st.refusals_in_a_row = 0
    st.aborted = False
    # A worker's options are replaced by the master's at each spawn: reload if changed.
    if opts.asrx_corpus != st.corpus_dir or not st.utterances:
        try:
            load_utterances(environment, opts.asrx_corpus)
        except (HarnessError, OSError) as exc:
            _abort(environment, f"cannot use corpus: {exc}", EXIT_USAGE)


@events.report_to_master.add_listener
def on_report_to_master(client_id: str, data: dict[str, Any]) -> None:
    env = _ENVIRONMENTS[-1] if _ENVIRONMENTS else None
    if env is not None:
        data[REPORT_KEY] = state(env).stats.to_dict()


@events.worker_report.add_listener
def on_worker_report(client_id: str, data: dict[str, Any]) -> None:
    env = _ENVIRONMENTS[-1] if _ENVIRONMENTS else None
    if env is not None and REPORT_KEY in data:
        # Reports are cumulative: the latest one replaces the previous (exact merge).
        state(env).worker_stats[client_id] = RunStats.from_dict(data[REPORT_KEY])


#: The Environment(s) seen at init: report events carry no environment argument.
_ENVIRONMENTS: list[Environment] = []


@events.init.add_listener
def _remember_environment(environment: Environment, **_: Any) -> None:
    _ENVIRONMENTS.append(environment)


@events.test_stop.add_listener
def on_test_stop(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    stats = run_stats(environment)
    p99 = stats.histograms["send_lateness"].percentile(99)
    if p99 is not None and p99 > DEFAULT_LATENESS_BOUND_MS:
        log.warning(
            "asrx: harness saturated: p99 send lateness %.1f ms > %.0f ms; latencies untrusted",
            p99,
            DEFAULT_LATENESS_BOUND_MS,
        )


@events.quitting.add_listener
def on_quitting(environment: Environment, **_: Any) -> None:
    opts = _options(environment)
    st = state(environment)
    if opts is not None and opts.asrx_stats_out:
        path = Path(opts.asrx_stats_out)
        if isinstance(environment.runner, WorkerRunner):
            path = path.with_name(f"{path.stem}.worker-{os.getpid()}{path.suffix}")
            stats = st.stats
        else:
            stats = run_stats(environment)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stats.to_dict()))
    if not isinstance(environment.runner, WorkerRunner):
        summary = run_stats(environment)
        log.info("asrx: %s", one_line_summary(summary))
    if st.server is not None:
        st.server.close()
        st.server = None


def one_line_summary(stats: RunStats) -> str:
    parts = [f"{stats.sessions_ok} sessions ok"]
    parts += [f"{n} {kind}" for kind, n in sorted(stats.failures.items())]
    for name in ("first_partial", "sentence", "close"):
        p95 = stats.histograms[name].percentile(95)
        if p95 is not None:
            parts.append(f"{name} p95 {p95:.0f} ms")
    p99 = stats.histograms["send_lateness"].percentile(99)
    if p99 is not None:
        parts.append(f"send lateness p99 {p99:.1f} ms")
    return ", ".join(parts)


# -- stopping a run in which nothing can connect ---------------------------------------
def _abort(environment: Environment, message: str, code: int = EXIT_RUN_FAILED) -> None:
    st = state(environment)
    if st.aborted:
        return
    st.aborted = True
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.send_message(ABORT_MESSAGE, {"message": message, "code": code})
        return
    log.error("asrx: %s; stopping the run", message)
    environment.process_exit_code = code
    if runner is not None:
        gevent.spawn(runner.quit)


def _on_abort_message(environment: Environment, msg: Any, **_: Any) -> None:
    st = state(environment)
    if st.aborted:
        return
    st.aborted = True
    log.error("asrx: %s (worker %s); stopping the run", msg.data["message"], msg.node_id)
    environment.process_exit_code = int(msg.data.get("code", EXIT_RUN_FAILED))
    gevent.spawn(environment.runner.quit)  # type: ignore[union-attr]


# -- the user ----------------------------------------------------------------------------
def classify(result: gevent_client.StreamResult, metrics: SessionMetrics) -> AsrxFailure | None:
    """The failure kind of a session that opened, or None when it went right."""
    session = result.session
    err = result.error
    # The error first: a dropped connection also breaks the close-code rule, but what
    # happened is the drop.
    if isinstance(err, ConnectionDropped):
        if err.code == 1008 and not session.timeline.messages:
            return AsrxFailure("rejected", f"{err} (closed as unauthenticated)")
        return AsrxFailure("dropped", str(err))
    if isinstance(err, SessionTimeout):
        return AsrxFailure("timeout", str(err))
    if err is not None:
        return AsrxFailure("dropped", str(err))
    strict = [f for f in session.findings if not f.strict_only]
    if strict:
        return AsrxFailure("schema_violation", str(strict[0]))
    if metrics.segmentation_mismatch:
        return AsrxFailure(
            "segmentation_mismatch",
            f"{len(metrics.sentences)} server sentences for "
            f"{metrics.corpus_segments} corpus speech segments",
        )
    return None


def _refusal(exc: TargetError) -> AsrxFailure:
    if isinstance(exc, HandshakeRejected):
        return AsrxFailure("rejected", str(exc))
    if isinstance(exc, SessionTimeout):
        return AsrxFailure("timeout", str(exc))
    return AsrxFailure("connect_failed", str(exc))


class AsrxClient:
    """Streams one utterance per call and fires what it measured (the locust contrib way)."""

    def __init__(self, environment: Environment, host: str) -> None:
        self.environment = environment
        self.state = state(environment)
        opts = _options(environment)
        self.frame_bytes = opts.asrx_frame_bytes if opts else DEFAULT_FRAME_BYTES
        self.speed = opts.asrx_speed if opts else 1.0
        self.max_refusals = opts.asrx_max_refusals if opts else 10
        self.target = self._target(host, opts)
        self.backoff = 0.0

    def _target(self, host: str, opts: Any) -> Target:
        key = (opts.asrx_apikey if opts else None) or None
        cache = f"{host}|{key}|{opts.asrx_ca_file if opts else None}"
        target = self.state.targets.get(cache)
        if target is None:
            scale = opts.asrx_timeout_scale if opts else 1.0
            target = Target(
                host,
                key,
                ca_file=opts.asrx_ca_file if opts else None,
                timeouts=DEFAULT_TIMEOUTS.scaled(scale),
            )
            self.state.targets[cache] = target
        return target

    def frames(self, utt: Utterance) -> list[bytes]:
        frames = self.state.frames.get(utt.id)
        if frames is None:
            frames = split_frames(utt.pcm(), self.frame_bytes)
            self.state.frames[utt.id] = frames
        return frames

    def fire(self, name: str, ms: float, length: int = 0, exc: Exception | None = None) -> None:
        self.environment.events.request.fire(
            request_type=REQUEST_TYPE,
            name=name,
            response_time=ms,
            response_length=length,
            exception=exc,
            context={},
        )

    def stream(self, utt: Utterance) -> None:
        frames = self.frames(utt)
        session = ClientSession(self.target.dialect)
        try:
            result = gevent_client.stream(self.target, frames, speed=self.speed, session=session)
        except (ConnectFailed, HandshakeRejected, SessionTimeout) as exc:
            started = session.timeline.connect_started or time.monotonic()
            refusal = _refusal(exc)
            self.fire("connect", (time.monotonic() - started) * 1000.0, exc=refusal)
            self.state.stats.record_failure(refusal.kind)
            self._refused(refusal)
            self.backoff = min(REFUSAL_BACKOFF_MAX_S, max(REFUSAL_BACKOFF_S, 2 * self.backoff))
            gevent.sleep(self.backoff)
            return
        ended = time.monotonic()
        self.backoff = 0.0
        self.state.refusals_in_a_row = 0
        self.state.sessions_opened += 1
        tl = session.timeline
        metrics = session_metrics(tl, utt.segments)
        if metrics.connect_ms is not None:
            self.fire("connect", metrics.connect_ms)
        for v in metrics.first_partial_ms:
            if v is not None:
                self.fire("first_partial", v)
        for v in metrics.sentence_ms:
            if v is not None:
                self.fire("sentence", v)
        if metrics.close_ms is not None:
            self.fire("close", metrics.close_ms)
        stats = self.state.stats
        stats.record_session(metrics)
        failure = classify(result, metrics)
        duration = (ended - (tl.connect_started or ended)) * 1000.0
        self.fire("session", duration, tl.audio_bytes, failure)
        if failure is not None:
            stats.record_failure(failure.kind)
            if failure.kind == "rejected":
                self._refused(failure)
            return
        stats.sessions_ok += 1
        if session.confirmed:
            hyp = " ".join(t for t in metrics.sentences if t)
            sc = score(utt.text, hyp, utt.lang)
            stats.record_accuracy(
                utt.id, utt.lang, sc.metric, utt.text, hyp, sc.errors, sc.ref_units
            )

    def _refused(self, failure: AsrxFailure) -> None:
        st = self.state
        st.refusals_in_a_row += 1
        if st.sessions_opened == 0 and st.refusals_in_a_row >= self.max_refusals:
            _abort(
                self.environment,
                f"{st.refusals_in_a_row} sessions in a row failed and none opened "
                f"(last: {failure}); check --host and --asrx-apikey / ASRX_APIKEY",
            )


class AsrxUser(User):
    """One simulated client: replays corpus utterances back to back at real time."""

    wait_time = constant(0)

    def on_start(self) -> None:
        host = self.host or self.environment.host
        if not host:
            _abort(self.environment, "no host: pass --host ws://... or wss://...", EXIT_USAGE)
            self.stop()
            return
        self.client = AsrxClient(self.environment, host)

    def next_utterance(self) -> Utterance:
        st = state(self.environment)
        opts = _options(self.environment)
        if opts is not None and opts.asrx_order == "random":
            return random.choice(st.utterances)
        return st.utterances[next(st.next_index) % len(st.utterances)]

    @task
    def stream_utterance(self) -> None:
        self.client.stream(self.next_utterance())
