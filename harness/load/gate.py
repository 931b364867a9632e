"""Locust wiring of the SLO gate and the reports. Importing this module installs it.

A locustfile imports it beside the user (``harness/locustfiles/stream.py`` does)::

    import harness.load.gate  # noqa: F401  (SLO gate, reports, web UI tab, exit code)

At ``init`` (the master or the local runner; workers judge nothing) it reads the SLO
(``harness.load.options.slo_from_options``: a bad value is one line and exit 2) and adds the
asrx tab to the web UI (``harness.load.webui``). While a run goes it samples the time
series. When a run ends it is judged (``harness.load.verdict``) on the whole run's merged
statistics, and the summary JSON and the HTML report are written (``harness.load.report``);
``environment.process_exit_code`` is set to the same verdict, so the three always agree.

When is a run judged: with the web UI, when it stops (so the UI can show the verdict and
link the report); in any case when Locust quits, unless the run was judged already and
nothing changed since. Headless runs are judged only at quit, after the workers' final
reports have arrived (Locust's master fires ``test_stop`` before them).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from locust import events
from locust.env import Environment
from locust.runners import STATE_RUNNING, STATE_SPAWNING, WorkerRunner

from harness.errors import UsageError
from harness.exitcodes import TARGET_FAILED
from harness.load import baseline, interrupts, report, verdict
from harness.load import capacity as capacity_mod
from harness.load import webui as web_tab
from harness.load.abort import fail_usage
from harness.load.options import REPORT_DIR_DEFAULT, LoadOptions, slo_from_options
from harness.load.runstate import run_stats, state
from harness.load.slo import SLO, WORD_KEYS
from harness.load.stats import RunStats
from harness.load.timeseries import TimeSeries

logger = logging.getLogger("asrx.gate")


@dataclass(frozen=True)
class JudgedRun:
    """The verdict of the last judged run (shown by the web UI)."""

    passed: bool
    code: int
    headline: str
    summary_path: Path
    report_path: Path
    ended_at: dt.datetime


@dataclass
class GateState:
    slo: SLO
    started_at: dt.datetime | None = None
    series: TimeSeries = field(default_factory=TimeSeries)
    #: What the statistics looked like when the current run was judged (None: not yet).
    judged: tuple[int, ...] | None = None
    quitting: bool = False
    last: JudgedRun | None = None


def gate_state(environment: Environment) -> GateState | None:
    return getattr(environment, "asrx_gate", None)


def fingerprint(stats: RunStats) -> tuple[int, ...]:
    """Changes whenever anything is recorded (to know whether a verdict is stale)."""
    counts = tuple(h.count for h in stats.histograms.values())
    return (stats.sessions, stats.sessions_ok, stats.failed, *counts)


def target_url(environment: Environment) -> str:
    """The URL the run's users connect to (the web UI's host field may be cleared)."""
    return environment.host or state(environment).embedded_url or ""


def embedded_engine(environment: Environment) -> str | None:
    """The engine of the embedded server this run uses, or None for an outside host."""
    st = state(environment)
    if st.embedded_url is not None:
        return st.embedded_engine if target_url(environment) == st.embedded_url else None
    if environment.host:
        return None
    # At init, before the asrx user's listener has started it: no host means it will.
    return str(getattr(environment.parsed_options, "asrx_engine", None) or LoadOptions.engine)


@events.init.add_listener
def on_init(environment: Environment, **_kw: Any) -> None:
    if isinstance(environment.runner, WorkerRunner) or environment.parsed_options is None:
        return
    try:
        objectives = slo_from_options(environment.parsed_options)
    except UsageError as exc:
        fail_usage(environment, str(exc))
    if embedded_engine(environment) == "synthetic":
        for key in ("max_wer", "max_cer", *sorted(WORD_KEYS)):
            if getattr(objectives, key) is not None:
                fail_usage(
                    environment,
                    f"--slo-{key.replace('_', '-')} needs a server that recognizes speech: the "
                    "embedded synthetic engine emits placeholder words (use --asrx-engine "
                    "pocketsphinx, or --host)",
                )
    environment.asrx_gate = GateState(objectives)  # type: ignore[attr-defined]
    web_tab.install(environment)


def _sample(environment: Environment, gate: GateState) -> None:
    users = environment.runner.user_count if environment.runner else None
    gate.series.sample(run_stats(environment), users)


@events.test_start.add_listener
def on_test_start(environment: Environment, **_kw: Any) -> None:
    gate = gate_state(environment)
    if gate is None:
        return
    gate.started_at = dt.datetime.now(dt.UTC)
    gate.judged = None
    gate.series.restart()
    try:
        interval = LoadOptions.from_parsed(environment.parsed_options).sample_interval
    except UsageError:  # a bad option from the web UI: the users' start says which
        interval = LoadOptions().sample_interval
    gate.series.start(interval, lambda: _sample(environment, gate))


@events.test_stop.add_listener
def on_test_stop(environment: Environment, **_kw: Any) -> None:
    gate = gate_state(environment)
    if gate is None or gate.quitting:
        return
    gate.series.stop()
    if environment.web_ui is not None:
        _finish_logged(environment)


@events.quitting.add_listener
def on_quitting(environment: Environment, **_kw: Any) -> None:
    gate = gate_state(environment)
    if gate is None:
        return
    gate.quitting = True
    gate.series.stop()
    if gate.judged is None or gate.judged != fingerprint(run_stats(environment)):
        _finish_logged(environment)


def _finish_logged(environment: Environment) -> None:
    try:
        finish(environment)
    except Exception as exc:  # one line for the user; the traceback at debug level
        logger.error("asrx: writing the report failed: %s: %s", type(exc).__name__, exc)
        logger.debug("asrx: report failure", exc_info=True)
        environment.process_exit_code = environment.process_exit_code or TARGET_FAILED


def settings_of(environment: Environment) -> dict[str, Any]:
    options = vars(environment.parsed_options) if environment.parsed_options else {}
    settings = dict(options)
    settings["user_classes"] = [u.__name__ for u in environment.user_classes]
    if environment.shape_class is not None:
        settings["shape_class"] = type(environment.shape_class).__name__
    settings["runner"] = type(environment.runner).__name__ if environment.runner else None
    return settings


def finish(environment: Environment, *, now: dt.datetime | None = None) -> JudgedRun:
    """Judge the run, set the exit code, write both reports."""
    gate = gate_state(environment)
    assert gate is not None
    st = state(environment)
    objectives = gate.slo
    try:  # the web UI may have changed options since start
        objectives = slo_from_options(environment.parsed_options)
    except UsageError as exc:
        logger.error("asrx: %s (keeping the SLO checked at start)", exc)
    stats = run_stats(environment)
    runner = environment.runner
    running = bool(runner and runner.state in (STATE_RUNNING, STATE_SPAWNING))
    interrupted = running or interrupts.received()
    try:
        _sample(environment, gate)
    except Exception:
        logger.exception("asrx: final time-series sample failed")
    aborted_code, aborted_why = st.aborted if st.aborted else (None, None)
    verdicts = verdict.evaluate(stats, objectives, aborted_why)
    capacity = getattr(environment, "asrx_capacity", None)
    if capacity is not None:  # a capacity run is judged by its steps
        code = capacity.exit_code(verdicts)
        headline = f"{capacity_mod.EXIT_MEANINGS[code]}: {capacity.summary_line()}"
    else:
        code = verdict.exit_code(verdicts, aborted_code)
        headline = verdict.headline(verdicts, code)
    summary = report.build_summary(
        stats=stats,
        slo=objectives,
        verdicts=verdicts,
        settings=settings_of(environment),
        redactor=st.redactor,
        target=report.target_info(
            st.redactor.url(target_url(environment)), embedded_engine(environment)
        ),
        started_at=gate.started_at,
        ended_at=now,
        timeseries=gate.series.rows,
        capacity=capacity.to_dict() if capacity is not None else None,
        interrupted=interrupted,
        locust_html=getattr(environment.parsed_options, "html_file", None),
        code=code,
        headline=headline,
    )
    code, headline = baseline.judge(summary, environment.parsed_options, st.redactor.value)
    report_dir = Path(
        getattr(environment.parsed_options, "asrx_report_dir", None) or REPORT_DIR_DEFAULT
    )
    json_path, html_path = report.write_reports(summary, report_dir, report.timestamp(now))
    gate.judged = fingerprint(stats)
    gate.last = JudgedRun(
        code == 0, code, headline, json_path, html_path, now or dt.datetime.now(dt.UTC)
    )
    environment.process_exit_code = code
    logger.info(
        "asrx gate: %s (exit %d) %s; summary %s; report %s",
        "PASS" if code == 0 else "FAIL",
        code,
        headline,
        json_path,
        html_path,
    )
    return gate.last
