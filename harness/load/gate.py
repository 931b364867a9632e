"""Locust wiring of the SLO gate and the reports. Importing this module installs it.

A locustfile imports it (``locustfiles/stream.py`` and ``locustfiles/capacity.py`` do)::

    import harness.load.gate  # noqa: F401  (SLO options, reports, exit code)

It adds the ``--slo-*`` options (each with its ``ASRX_SLO_*`` variable), ``--slo-file``,
``--asrx-report-dir`` and ``--asrx-sample-interval``; checks the SLO configuration at
start (a bad file or value: one line on stderr, exit 2); samples the run every interval
for the report's time series; and when Locust quits (end of ``-t``, Ctrl-C, SIGTERM, or
the web UI's stop and quit) evaluates the SLOs on the whole run, sets
``environment.process_exit_code`` (see ``harness.load.slo.EXIT_CODES``) and writes the
summary JSON and HTML report. Workers do none of this: the master (or the local runner)
judges the merged statistics.

The run's ``RunStats`` comes from ``harness.load.user.run_stats`` (on a master: the exact
merge of every worker's latest report) or, for another user class, from
``environment.asrx_stats``; a capacity run's result from ``environment.asrx_capacity``
(``harness.load.capacity``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.argument_parser import LocustArgumentParser
from locust.env import Environment
from locust.runners import STATE_RUNNING, STATE_SPAWNING, WorkerRunner

from harness.errors import UsageError
from harness.load import capacity as capacity_mod
from harness.load import report, slo
from harness.load.stats import RunStats
from harness.load.window import snapshot, subtract

logger = logging.getLogger("asrx.gate")

REPORT_DIR_DEFAULT = "reports"
#: Seconds between two time-series samples (one row of the "over time" charts).
SAMPLE_INTERVAL_S = 2.0
_APIKEY_ENV = "ASRX_APIKEY"


@dataclass
class GateState:
    slo: slo.SLO
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    t0: float = field(default_factory=time.monotonic)
    timeseries: list[dict[str, Any]] = field(default_factory=list)
    previous: RunStats | None = None
    sampler: gevent.Greenlet | None = None
    written: bool = False


# -- options ----------------------------------------------------------------------------
@events.init_command_line_parser.add_listener
def add_options(parser: LocustArgumentParser) -> None:
    group = parser.add_argument_group("asrx SLO gate and report")
    for key in slo.KEYS:
        group.add_argument(
            slo.option_name(key),
            env_var=slo.env_name(key),
            default=None,
            metavar="N",
            help=slo.HELP[key],
        )
    group.add_argument(
        "--slo-file",
        env_var="ASRX_SLO_FILE",
        default=None,
        help="TOML file with a [slo] or [tool.asrx.slo] table (after pyproject.toml and "
        "asrx.toml of the working directory, before options)",
    )
    group.add_argument(
        "--asrx-report-dir",
        env_var="ASRX_REPORT_DIR",
        default=REPORT_DIR_DEFAULT,
        help="where the summary JSON and HTML report go (default: reports)",
    )
    group.add_argument(
        "--asrx-sample-interval",
        env_var="ASRX_SAMPLE_INTERVAL",
        type=float,
        default=SAMPLE_INTERVAL_S,
        help=f"seconds between time-series samples (default {SAMPLE_INTERVAL_S:g})",
    )


def slo_from_options(options: Any, cwd: Path | None = None) -> slo.SLO:
    """The effective SLO for parsed Locust options (raises ``SLOConfigError``)."""
    overrides: dict[str, float | None] = {}
    for key in slo.KEYS:
        raw = getattr(options, key_attr(key), None)
        if raw is not None and str(raw).strip() != "":
            overrides[key] = slo.parse_number(key, str(raw), slo.option_name(key))
    slo_file = getattr(options, "slo_file", None)
    return slo.load_slo(cwd, slo_file=Path(slo_file) if slo_file else None, overrides=overrides)


def key_attr(key: str) -> str:
    return "slo_" + key


def fail_usage(exc: UsageError, environment: Environment | None = None) -> None:
    """One line on stderr and exit 2 (before any user starts).

    ``quitting`` does not fire on this path, so an embedded server the asrx user
    already started at ``init`` is stopped here rather than left running.
    """
    server = getattr(getattr(environment, "asrx", None), "server", None)
    if server is not None:
        server.close()
        environment.asrx.server = None  # type: ignore[union-attr]
    sys.stderr.write(f"asrx: {exc}\n")
    sys.stderr.flush()
    sys.exit(slo.EXIT_USAGE)


# -- the run's statistics ----------------------------------------------------------------
def run_stats(environment: Environment) -> RunStats | None:
    """The run's merged statistics, from the asrx user if loaded, else ``asrx_stats``."""
    user = sys.modules.get("harness.load.user")
    if user is not None and hasattr(environment, "asrx"):
        return user.run_stats(environment)
    stats = getattr(environment, "asrx_stats", None)
    return stats if isinstance(stats, RunStats) else None


def apikey_of(environment: Environment) -> str | None:
    options = environment.parsed_options
    for name in ("asrx_apikey", "apikey", "asrx_key"):
        value = getattr(options, name, None) if options is not None else None
        if value:
            return str(value)
    return os.environ.get(_APIKEY_ENV) or None


def _state(environment: Environment) -> GateState | None:
    return getattr(environment, "asrx_gate", None)


@events.init.add_listener
def on_init(environment: Environment, **_kw: Any) -> None:
    if isinstance(environment.runner, WorkerRunner) or environment.parsed_options is None:
        return
    try:
        objectives = slo_from_options(environment.parsed_options)
    except UsageError as exc:
        fail_usage(exc, environment)
        return
    environment.asrx_gate = GateState(objectives)  # type: ignore[attr-defined]


# -- time series --------------------------------------------------------------------------
def take_sample(environment: Environment, state: GateState) -> None:
    stats = run_stats(environment)
    if stats is None:
        return
    now = snapshot(stats)
    window = subtract(now, state.previous) if state.previous is not None else now
    state.previous = now
    row: dict[str, Any] = {
        "t_s": round(time.monotonic() - state.t0, 3),
        "users": environment.runner.user_count if environment.runner else None,
        "sessions_ok": window.sessions_ok,
        "failures": sum(window.failures.values()),
    }
    for name, hist in window.histograms.items():
        row[name] = {
            "count": hist.count,
            "p50": hist.percentile(50),
            "p95": hist.percentile(95),
            "p99": hist.percentile(99),
        }
    state.timeseries.append(row)


def _sampler(environment: Environment, state: GateState, interval: float) -> None:
    while True:
        gevent.sleep(interval)
        try:
            take_sample(environment, state)
        except Exception:  # a broken sample must not end the run
            logger.exception("asrx: time-series sample failed")


@events.test_start.add_listener
def on_test_start(environment: Environment, **_kw: Any) -> None:
    state = _state(environment)
    if state is None or isinstance(environment.runner, WorkerRunner):
        return
    state.t0 = time.monotonic()
    state.started_at = dt.datetime.now(dt.UTC)
    state.timeseries.clear()
    state.previous = None
    if state.sampler is None or state.sampler.dead:
        interval = float(getattr(environment.parsed_options, "asrx_sample_interval", 0) or 0)
        state.sampler = gevent.spawn(
            _sampler, environment, state, interval if interval > 0 else SAMPLE_INTERVAL_S
        )


# -- the verdict -----------------------------------------------------------------------------
def settings_of(environment: Environment) -> dict[str, Any]:
    options = vars(environment.parsed_options) if environment.parsed_options else {}
    settings = dict(options)
    settings["user_classes"] = [u.__name__ for u in environment.user_classes]
    if environment.shape_class is not None:
        settings["shape_class"] = type(environment.shape_class).__name__
    settings["runner"] = type(environment.runner).__name__ if environment.runner else None
    return settings


def gate_exit_code(state: GateState, verdicts: list[slo.Verdict], capacity: Any) -> int:
    if capacity is not None:
        return int(capacity.exit_code(verdicts))
    return slo.exit_code(verdicts)


def finish(environment: Environment, *, now: dt.datetime | None = None) -> tuple[Path, Path]:
    """Evaluate, set the exit code, write both reports; returns (summary, report) paths."""
    state = _state(environment)
    assert state is not None
    objectives = state.slo
    try:  # the web UI may have changed options since start
        objectives = slo_from_options(environment.parsed_options)
    except UsageError as exc:
        logger.error("asrx: %s (keeping the SLO checked at start)", exc)
    stats = run_stats(environment) or RunStats()
    interrupted = bool(
        environment.runner and environment.runner.state in (STATE_RUNNING, STATE_SPAWNING)
    )
    try:
        take_sample(environment, state)
    except Exception:
        logger.exception("asrx: final time-series sample failed")
    verdicts = slo.evaluate(stats, objectives)
    capacity = getattr(environment, "asrx_capacity", None)
    code = gate_exit_code(state, verdicts, capacity)
    meaning = (
        capacity_mod.EXIT_MEANINGS.get(code, slo.EXIT_CODES[code])
        if capacity is not None
        else slo.EXIT_CODES[code]
    )
    apikey = apikey_of(environment)
    summary = report.build_summary(
        stats=stats,
        slo=objectives,
        verdicts=verdicts,
        settings=settings_of(environment),
        apikey=apikey,
        started_at=state.started_at,
        ended_at=now,
        timeseries=state.timeseries,
        capacity=capacity.to_dict() if capacity is not None else None,
        interrupted=interrupted,
        locust_html=getattr(environment.parsed_options, "html_file", None),
        code=code,
        exit_meaning=meaning,
    )
    options = environment.parsed_options
    report_dir = Path(getattr(options, "asrx_report_dir", None) or REPORT_DIR_DEFAULT)
    paths = report.write_reports(summary, report_dir, report.timestamp(now), apikey)
    state.written = True

    # Without thresholds Locust's own exit code stands unless the run failed or the
    # harness saturated; another listener's non-zero code ("every user refused") stays.
    decides = objectives.gated or capacity is not None or code != slo.EXIT_PASSED
    if decides and not (code == slo.EXIT_PASSED and environment.process_exit_code):
        environment.process_exit_code = code
    failed = [v for v in verdicts if not v.passed]
    detail = "; ".join(f"{v.name}: {v.reason}" for v in failed) or "all checks held"
    if capacity is not None:  # a capacity run is judged by its steps, not the whole run
        detail = capacity.summary_line()
    logger.info(
        "asrx gate: %s (exit %d: %s) %s; summary %s; report %s",
        "PASS" if code == 0 else "FAIL",
        code,
        meaning,
        detail,
        paths[0],
        paths[1],
    )
    return paths


@events.quitting.add_listener
def on_quitting(environment: Environment, **_kw: Any) -> None:
    state = _state(environment)
    if state is None or state.written or isinstance(environment.runner, WorkerRunner):
        return
    if state.sampler is not None:
        state.sampler.kill(block=False)
    try:
        finish(environment)
    except Exception as exc:  # one line for the user; the traceback at debug level
        logger.error("asrx: writing the report failed: %s: %s", type(exc).__name__, exc)
        logger.debug("asrx: report failure", exc_info=True)
        environment.process_exit_code = environment.process_exit_code or slo.EXIT_RUN_FAILED
