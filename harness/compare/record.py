"""A load summary read back for a comparison: its histograms, windows and identity.

A summary (``asrx-summary/2``) carries every metric's merged HdrHistogram
(``"histograms"``, base64), the histogram of every time-series interval
(``timeseries[i][metric]["histogram"]``), the sessions completed and failed per interval,
per-utterance accuracy and the run's ``"identity"``. ``read_run`` turns one into a
``RunRecord``; a file that is not such a summary is one line (``UsageError``, exit 2).

A histogram is kept *sparse*: the bucket indices that hold samples, their counts and
their values in ms (the highest value of each bucket, as ``LatencyHistogram.percentile``
reports), so a run's windows share one index space for the resampling.
"""

from __future__ import annotations

import binascii
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from hdrh.codec import HdrCookieException, HdrHistogramSettingsException, HdrLengthException

from harness.conformance.capped import read_capped
from harness.errors import UsageError
from harness.load.stats import LatencyHistogram, RunStats

SCHEMA = "asrx-summary/2"
#: The summary a reports directory holds for its latest run.
LATEST_NAME = "asrx-summary.json"
#: Largest summary read: an hour at one window every 2 s is a few MiB.
MAX_SUMMARY_BYTES = 256 << 20
_TEMPLATE = LatencyHistogram().h
#: What decoding a damaged histogram text raises.
_CORRUPT = (
    ValueError,
    TypeError,
    IndexError,
    binascii.Error,
    zlib.error,
    HdrCookieException,
    HdrLengthException,
    HdrHistogramSettingsException,
)


def histograms_section(stats: RunStats) -> dict[str, str]:
    """The ``"histograms"`` of a summary: every metric's merged histogram, encoded."""
    return {name: hist.encode() for name, hist in stats.histograms.items()}


@dataclass(frozen=True)
class Sparse:
    """The non-empty buckets of one histogram: index, count, value (ms)."""

    index: np.ndarray
    counts: np.ndarray

    @property
    def total(self) -> int:
        return int(self.counts.sum())


def bucket_values(index: np.ndarray) -> np.ndarray:
    """The value (ms) ``LatencyHistogram.percentile`` reports for a sample in each bucket."""
    h = _TEMPLATE
    return np.array(
        [h.get_highest_equivalent_value(h.get_value_from_index(int(i))) / 1000.0 for i in index],
        dtype=float,
    )


def decode_sparse(encoded: str) -> Sparse:
    """A histogram from its base64 text (``ValueError`` when it is not one)."""
    hist = LatencyHistogram.decode(encoded) if encoded else LatencyHistogram()
    h = hist.h
    counts = np.ctypeslib.as_array(h.counts)[: h.counts_len].astype(np.int64)
    index = np.flatnonzero(counts)
    return Sparse(index, counts[index])


@dataclass
class RunRecord:
    """One load run as a comparison reads it."""

    path: str
    summary: dict[str, Any]
    identity: dict[str, Any]
    #: The whole run, per metric.
    histograms: dict[str, Sparse]
    #: Per metric, one histogram per time-series interval (empty: the summary has none).
    windows: dict[str, list[Sparse]] = field(default_factory=dict)
    #: Per interval: (sessions completed, sessions failed).
    sessions: list[tuple[int, int]] = field(default_factory=list)
    #: Seconds between two intervals (None without a time series).
    window_s: float | None = None

    @property
    def label(self) -> str:
        return str(self.summary.get("started_at") or self.path)

    @property
    def completed(self) -> int:
        return int(self.summary.get("sessions_ok") or 0)

    @property
    def failed(self) -> int:
        return int(self.summary.get("sessions_failed") or 0)


def summary_path(path: Path) -> Path:
    """A summary file, or the latest run's summary in a reports directory."""
    return path / LATEST_NAME if path.is_dir() else path


def read_summary(path: Path) -> dict[str, Any]:
    """The JSON of an ``asrx-summary/2`` file (``UsageError``, one line, otherwise)."""
    path = summary_path(path)
    raw = read_capped(path, MAX_SUMMARY_BYTES, f"cannot read {path}")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not a load summary (not JSON: {exc})") from None
    schema = data.get("schema") if isinstance(data, dict) else None
    if not isinstance(schema, str) or not schema.startswith("asrx-summary/"):
        raise UsageError(f'{path}: not a load summary (no "schema": "{SCHEMA}")')
    if schema != SCHEMA:
        raise UsageError(f"{path}: {schema} is not supported; this harness reads {SCHEMA}")
    return data


def _sparse(encoded: Any, where: str) -> Sparse:
    if not isinstance(encoded, str):
        raise UsageError(f"{where}: not an encoded histogram")
    try:
        return decode_sparse(encoded)
    except _CORRUPT as exc:
        raise UsageError(f"{where}: not an encoded histogram ({exc})") from None


def _windows(
    rows: list[Any], names: list[str], path: str
) -> tuple[dict[str, list[Sparse]], list[tuple[int, int]], float | None]:
    windows: dict[str, list[Sparse]] = {name: [] for name in names}
    sessions: list[tuple[int, int]] = []
    times: list[float] = []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise UsageError(f"{path}: timeseries[{i}] is not an object")
        here = f"{path}: timeseries[{i}]"
        ok, failed = row.get("sessions_ok"), row.get("failures")
        sessions.append((_count(ok, f"{here}.sessions_ok"), _count(failed, f"{here}.failures")))
        if isinstance(row.get("t_s"), int | float):
            times.append(float(row["t_s"]))
        for name in names:
            cell = row.get(name)
            if isinstance(cell, Mapping) and "histogram" in cell:
                windows[name].append(_sparse(cell["histogram"], f"{here}.{name}"))
    complete = {n: w for n, w in windows.items() if len(w) == len(rows)}
    step = float(np.median(np.diff(times))) if len(times) > 1 else None
    return complete, sessions, step


def _count(value: Any, where: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UsageError(f"{where}: expected a count, got {value!r}")
    return value


def _check(data: Mapping[str, Any], where: str) -> None:
    """The shapes a comparison reads, so a damaged summary is one line, not a traceback."""
    for key in ("sessions_ok", "sessions_failed"):
        _count(data.get(key), f"{where}: {key}")
    identity = data.get("identity") or {}
    for key in ("corpus", "target"):
        if not isinstance(identity.get(key) or {}, Mapping):
            raise UsageError(f"{where}: identity.{key} is not an object")
    accuracy = data.get("accuracy") or {}
    rows = accuracy.get("utterances") if isinstance(accuracy, Mapping) else None
    if not isinstance(rows or [], list):
        raise UsageError(f"{where}: accuracy.utterances is not a list")
    for i, row in enumerate(rows or []):
        ok = isinstance(row, Mapping) and isinstance(row.get("utterance_id"), str)
        if not ok:
            raise UsageError(f"{where}: accuracy.utterances[{i}] has no utterance_id")
        for key in ("errors", "units", "sessions"):
            _count(row.get(key), f"{where}: accuracy.utterances[{i}].{key}")
    distribution = data.get("distribution") or {}
    if not isinstance(distribution, Mapping):
        raise UsageError(f"{where}: distribution is not an object")
    for name, points in distribution.items():
        pairs = isinstance(points, list) and all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, int | float) for x in p)
            for p in points
        )
        if not pairs:
            raise UsageError(f"{where}: distribution.{name} is not a list of [percentile, ms]")


def run_record(data: dict[str, Any], where: str) -> RunRecord:
    """A summary's dict as a ``RunRecord`` (``where`` names it in errors)."""
    encoded, identity = data.get("histograms"), data.get("identity")
    if not isinstance(encoded, dict) or not isinstance(identity, dict):
        raise UsageError(
            f"{where}: this summary carries no histograms (written by an older harness); "
            "run that load again with this version to compare with it"
        )
    _check(data, where)
    histograms = {
        str(name): _sparse(enc, f"{where}: histograms.{name}") for name, enc in encoded.items()
    }
    rows = data.get("timeseries") or []
    if not isinstance(rows, list):
        raise UsageError(f"{where}: timeseries is not a list")
    windows, sessions, step = _windows(rows, list(histograms), where)
    return RunRecord(where, data, identity, histograms, windows, sessions, step)


def read_run(path: Path) -> RunRecord:
    """A summary with what a comparison needs, or a one-line ``UsageError`` saying why not."""
    file = summary_path(path)
    return run_record(read_summary(file), str(file))
