"""A load run against a baseline: ``--asrx-baseline FILE`` and ``--asrx-history DIR``.

Importing this module installs the check at ``init`` (the master or the local runner): a
baseline, history or ``[compare]`` tolerance the run cannot use stops it before any user
starts, with one line and exit 2. ``judge`` is called by the gate when the run is judged
(``harness.load.gate``): the comparison and the trend join the summary and the report,
and the comparison's code the run's, after the run's own (``harness.compare.gate``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

from harness.compare import gate
from harness.errors import UsageError
from harness.load.abort import fail_usage

logger = logging.getLogger("asrx.gate")


def _options(parsed: Any) -> tuple[str, str, str | None]:
    """(--asrx-baseline, --asrx-history, --slo-file) of Locust's parsed options."""

    def get(name: str) -> str:
        return str(getattr(parsed, name, None) or "")

    return get("asrx_baseline"), get("asrx_history"), get("slo_file") or None


@events.init.add_listener
def on_init(environment: Environment, **_kw: Any) -> None:
    if isinstance(environment.runner, WorkerRunner) or environment.parsed_options is None:
        return
    try:
        gate.check(*_options(environment.parsed_options))
    except UsageError as exc:
        fail_usage(environment, str(exc))


def judge(
    summary: dict[str, Any], parsed: Any, redact: Callable[[Any], Any] = lambda v: v
) -> tuple[int, str]:
    """The comparison and trend added to ``summary``; the run's final code and headline."""
    code, headline = gate.judge(summary, *_options(parsed), redact)
    comparison = summary.get("comparison") or {}
    if "error" in comparison:
        logger.error("asrx: baseline: %s", comparison["error"])
    elif comparison:
        logger.info("asrx baseline: %s", comparison["headline"])
    return code, headline
