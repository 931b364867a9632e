"""A load run's gate against a baseline: the comparison's part in the run's verdict.

``check`` runs before the run (the baseline must be a summary a comparison can read, the
history a directory, the ``[compare]`` tolerances valid); ``judge`` runs when the run is
judged: it adds the comparison (``"comparison"``) and the trend across the history's runs
(``"history"``) to the run's summary, and gives the run's final exit code and headline.

The run's own verdict comes first: a run that failed its own checks (exit 1, 2, 3 or 4)
keeps its code; only a run that passed them takes the comparison's, 6 not comparable
before 5 regressed. ``harness.load.baseline`` calls these from Locust's events.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.compare import tolerance
from harness.compare.history import check_directory, trend
from harness.compare.judge import MEANINGS, compare
from harness.compare.record import read_run, run_record
from harness.errors import UsageError
from harness.exitcodes import OK, USAGE
from harness.load.verdict import MEANINGS as RUN_MEANINGS


def tolerances_for(slo_file: str | None) -> tolerance.Tolerances:
    """The ``[compare]`` tolerances of ``asrx.toml`` here and of the ``--slo-file`` file."""
    return tolerance.load(file=Path(slo_file) if slo_file else None)


def check(baseline: str, history: str, slo_file: str | None) -> None:
    """``UsageError`` (one line) for a baseline, history or tolerance a run cannot use."""
    if baseline:
        read_run(Path(baseline))
        tolerances_for(slo_file)
    if history:
        check_directory(Path(history))


def _set_outcome(summary: dict[str, Any], code: int, headline: str) -> None:
    meaning = MEANINGS[code] if code in MEANINGS and code != OK else RUN_MEANINGS[code]
    summary.update(passed=code == OK, exit_code=code, exit_meaning=meaning, headline=headline)


def judge(
    summary: dict[str, Any],
    baseline: str,
    history: str,
    slo_file: str | None,
    redact: Callable[[Any], Any] = lambda v: v,
) -> tuple[int, str]:
    """Add the comparison and the trend to ``summary``; the run's final code and headline.

    ``redact`` cleans what the earlier runs' files bring in (the run's ``Redactor.value``).
    """
    code, headline = int(summary["exit_code"]), str(summary["headline"])
    try:
        if history:
            summary["history"] = redact(trend(Path(history), summary))
        if not baseline:
            return code, headline
        comparison = compare(
            read_run(Path(baseline)), run_record(summary, "this run"), tolerances_for(slo_file)
        )
    except UsageError as exc:  # the files changed since the run started
        summary["comparison"] = redact({"error": str(exc)})
        if code == OK:
            code, headline = USAGE, f"usage error: {exc}"
            _set_outcome(summary, code, headline)
        return code, headline
    summary["comparison"] = redact(comparison.to_dict())
    if code == OK and comparison.exit_code != OK:
        code, headline = comparison.exit_code, f"baseline: {comparison.headline}"
        _set_outcome(summary, code, headline)
    return code, headline
