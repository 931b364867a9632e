"""A load run against a baseline: ``--asrx-baseline FILE`` and ``--asrx-history DIR``.

Importing this module installs the check at ``init`` (the master or the local runner):
the baseline must be a load summary a comparison can read, the history a directory, and
the ``[compare]`` tolerances (``asrx.toml``, ``--slo-file``) valid; otherwise the run
stops before any user starts, with one line and exit 2.

When the run is judged, ``judge`` compares its summary with the baseline
(``harness.compare``) and adds the comparison (``"comparison"``) and the trend across the
history's runs (``"history"``) to the summary, which the report then shows. The run's own
verdict comes first: a run that failed its own checks (exit 1, 2, 3 or 4) keeps its code;
only a run that passed them takes the comparison's, 6 not comparable before 5 regressed
(docs/compare.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

from harness.compare import tolerance
from harness.compare.history import check_directory, trend
from harness.compare.judge import MEANINGS, compare
from harness.compare.record import read_run, run_record
from harness.errors import UsageError
from harness.exitcodes import OK, USAGE
from harness.load.abort import fail_usage
from harness.load.verdict import MEANINGS as RUN_MEANINGS

logger = logging.getLogger("asrx.gate")


def _option(parsed: Any, name: str) -> str:
    return str(getattr(parsed, name, None) or "")


def tolerances_of(parsed: Any) -> tolerance.Tolerances:
    """The ``[compare]`` tolerances of ``asrx.toml`` and the ``--slo-file`` file."""
    slo_file = _option(parsed, "slo_file")
    return tolerance.load(file=Path(slo_file) if slo_file else None)


def check(parsed: Any) -> None:
    """``UsageError`` (one line) for a baseline, history or tolerance the run cannot use."""
    if _option(parsed, "asrx_baseline"):
        read_run(Path(_option(parsed, "asrx_baseline")))
        tolerances_of(parsed)
    if _option(parsed, "asrx_history"):
        check_directory(Path(_option(parsed, "asrx_history")))


@events.init.add_listener
def on_init(environment: Environment, **_kw: Any) -> None:
    if isinstance(environment.runner, WorkerRunner) or environment.parsed_options is None:
        return
    try:
        check(environment.parsed_options)
    except UsageError as exc:
        fail_usage(environment, str(exc))


def _set_outcome(summary: dict[str, Any], code: int, headline: str) -> None:
    summary.update(
        passed=code == OK,
        exit_code=code,
        exit_meaning=MEANINGS[code] if code in MEANINGS and code != OK else RUN_MEANINGS[code],
        headline=headline,
    )


def judge(
    summary: dict[str, Any], parsed: Any, redact: Callable[[Any], Any] = lambda v: v
) -> tuple[int, str]:
    """Add the comparison and the trend to ``summary``; the run's final code and headline.

    ``redact`` cleans what the earlier runs' files bring in (the run's ``Redactor.value``).
    """
    code, headline = int(summary["exit_code"]), str(summary["headline"])
    history = _option(parsed, "asrx_history")
    baseline = _option(parsed, "asrx_baseline")
    try:
        if history:
            summary["history"] = redact(trend(Path(history), summary))
        if not baseline:
            return code, headline
        comparison = compare(
            read_run(Path(baseline)), run_record(summary, "this run"), tolerances_of(parsed)
        )
    except UsageError as exc:  # the files changed since the run started
        logger.error("asrx: %s", exc)
        summary["comparison"] = redact({"error": str(exc)})
        if code == OK:
            code, headline = USAGE, f"usage error: {exc}"
            _set_outcome(summary, code, headline)
        return code, headline
    summary["comparison"] = redact(comparison.to_dict())
    logger.info("asrx baseline: %s", comparison.headline)
    if code == OK and comparison.exit_code != OK:
        code, headline = comparison.exit_code, f"baseline: {comparison.headline}"
        _set_outcome(summary, code, headline)
    return code, headline
