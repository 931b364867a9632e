"""Past runs as a trend: p50 and p95 of every latency across the summaries in a directory.

``--asrx-history DIR`` reads every ``*.json`` summary in DIR (a reports directory works:
its ``asrx-summary.json`` is a copy of its newest timestamped summary, and the same run is
shown once), keeps the runs comparable with the current one (``harness.compare.identity``;
a different duration is allowed, a trend is about the service), and adds the current run
last. Files that are not summaries, or not comparable, are listed with the reason. At most
``MAX_FILES`` files are read (the newest) and ``MAX_RUNS`` runs shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.compare import identity
from harness.compare.record import read_summary
from harness.errors import UsageError
from harness.load.stats import METRICS

MAX_FILES = 400
MAX_RUNS = 40
#: What a trend may span without the runs being judged not comparable.
TREND_ALLOWS = ("duration",)


def check_directory(directory: Path) -> None:
    """``UsageError`` (one line) unless ``directory`` is a readable directory."""
    if not directory.is_dir():
        raise UsageError(f"--asrx-history {directory}: not a directory")


def _row(summary: Mapping[str, Any]) -> dict[str, Any]:
    started = str(summary.get("started_at") or "")
    percentiles = summary.get("percentiles") or {}
    return {
        "label": started[5:16].replace("T", " "),
        "started_at": started,
        "passed": summary.get("passed"),
        "metrics": {
            name: {p: (row or {}).get(p) for p in ("p50", "p95")}
            for name, row in percentiles.items()
            if name in METRICS and METRICS[name].server_latency
        },
    }


def _newest(directory: Path) -> list[Path]:
    files = [p for p in directory.glob("*.json") if p.is_file()]
    files.sort(key=lambda p: p.stat().st_mtime)
    return files[-MAX_FILES:]


def trend(directory: Path, current: Mapping[str, Any]) -> dict[str, Any]:
    """The ``"history"`` section of ``current``'s summary."""
    check_directory(directory)
    mine = current.get("identity") or {}
    key_of_current = (current.get("started_at"), current.get("ended_at"))
    seen = {key_of_current}
    runs: list[dict[str, Any]] = []
    skipped: list[str] = []
    for path in _newest(directory):
        try:
            summary = read_summary(path)
        except UsageError as exc:
            skipped.append(str(exc))
            continue
        key = (summary.get("started_at"), summary.get("ended_at"))
        if key in seen:
            continue
        seen.add(key)
        theirs = summary.get("identity")
        if not isinstance(theirs, dict):
            skipped.append(f"{path.name}: no identity (written by an older harness)")
            continue
        refused, _ = identity.differences(theirs, mine, TREND_ALLOWS)
        if refused:
            skipped.append(f"{path.name}: not comparable: {'; '.join(refused)}")
            continue
        runs.append(_row(summary))
    runs.sort(key=lambda r: r["started_at"])
    runs = [*runs[-(MAX_RUNS - 1) :], _row(current)]
    names = {n for r in runs for n, v in r["metrics"].items() if v.get("p50") is not None}
    return {
        "dir": str(directory),
        "runs": runs,
        "skipped": skipped,
        "metrics": [n for n in METRICS if n in names],
    }
