"""How much a figure may change before a comparison calls it a regression (or improvement).

A change counts only when it is statistically detectable *and* beyond its tolerance: the
resampling answers "is it real?", the tolerance "does it matter?", and it also absorbs
the run-to-run drift of a shared machine that no resampling within one run can see.

A tolerance is written ``10%`` (of the baseline's value), ``20ms`` (milliseconds, for a
latency), a bare number (in the metric's own unit: ms, or a ratio for ``error_ratio``,
``wer`` and ``cer``), or two of them joined by a comma, ``5%,10ms``: the larger of the two,
so a small latency is not judged on a few percent of nothing and a large one not on a
few milliseconds.

Keys, the most specific winning: ``first_partial.p95`` (a metric's percentile),
``first_partial`` (every percentile of a metric), ``latency`` (every latency), and
``error_ratio``, ``wer``, ``cer``; ``confidence`` is the two-sided confidence of the
intervals. They come from ``DEFAULTS``, then the ``[compare]`` table of ``asrx.toml`` in
the working directory, then the file ``--slo-file`` names (``asrx load`` and ``asrx
compare`` alike), then ``asrx compare``'s ``--tolerance KEY=SPEC`` options::

    [compare]
    confidence = 0.95
    latency = "5%,10ms"
    "first_partial.p95" = "10%,20ms"
    error_ratio = 0.01
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.compare.resample import PERCENTILES
from harness.errors import UsageError
from harness.load.slo import SLO_FILE_NAME, read_toml
from harness.load.stats import METRICS

#: The table tolerances sit in, in ``asrx.toml`` or the named file.
TABLE = "compare"
#: Figures that are ratios (their bare-number tolerance is a ratio, not ms).
RATIOS = ("error_ratio", "wer", "cer")
LATENCY = "latency"
CONFIDENCE = "confidence"
DEFAULT_CONFIDENCE = 0.95
DEFAULTS: dict[str, str] = {LATENCY: "5%,10ms", "error_ratio": "0.01", "wer": "0.01", "cer": "0.01"}
_PART = re.compile(r"^\s*(?P<number>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(?P<unit>%|ms)?\s*$")


@dataclass(frozen=True)
class Tolerance:
    """The change a figure may make: the larger of ``relative`` x baseline and ``absolute``."""

    text: str
    relative: float = 0.0
    absolute: float = 0.0

    def allowed(self, baseline: float) -> float:
        return max(self.relative * abs(baseline), self.absolute)


def parse(text: str, ratio: bool, where: str) -> Tolerance:
    """``"5%,10ms"`` and the like (``ratio``: a figure that is a ratio, with no ms)."""
    relative = absolute = 0.0
    for part in str(text).split(","):
        match = _PART.match(part)
        if match is None:
            raise UsageError(f"{where}: tolerance {text!r} is not like 10%, 20ms, 0.01 or 5%,10ms")
        number, unit = float(match["number"]), match["unit"]
        if not math.isfinite(number):
            raise UsageError(f"{where}: tolerance {text!r} is not a finite number")
        if unit == "%":
            relative = max(relative, number / 100.0)
        elif unit == "ms" and ratio:
            raise UsageError(f"{where}: a ratio's tolerance has no ms: {text!r}")
        else:
            absolute = max(absolute, number)
    return Tolerance(str(text).replace(" ", ""), relative, absolute)


def _known(key: str) -> bool:
    metric, _, pct = key.partition(".")
    if metric in (LATENCY, CONFIDENCE, *RATIOS):
        return not pct
    return metric in METRICS and (not pct or pct in {f"p{p}" for p in PERCENTILES})


@dataclass(frozen=True)
class Tolerances:
    """Every tolerance a comparison uses, and its confidence."""

    specs: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULTS))
    confidence: float = DEFAULT_CONFIDENCE

    def get(self, metric: str, percentile: int | None = None) -> Tolerance:
        ratio = metric in RATIOS
        keys = [f"{metric}.p{percentile}", metric] if percentile is not None else [metric]
        if not ratio:
            keys.append(LATENCY)
        key = next(k for k in [*keys, LATENCY] if k in self.specs)
        return parse(self.specs[key], ratio, key)

    def settings(self) -> dict[str, Any]:
        return {CONFIDENCE: self.confidence, **self.specs}


def _confidence(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not 0.5 <= number < 1.0:
        raise UsageError(f"{where}: confidence must be at least 0.5 and below 1, got {value!r}")
    return number


def merge(base: Tolerances, entries: Mapping[str, Any], where: str) -> Tolerances:
    """``base`` with ``entries`` (key -> spec) laid over it, each checked."""
    specs = dict(base.specs)
    confidence = base.confidence
    for key, value in entries.items():
        if not _known(key):
            known = ", ".join([LATENCY, *RATIOS, CONFIDENCE, "<metric>", "<metric>.p95"])
            raise UsageError(f"{where}: unknown key {key!r} (known: {known})")
        if key == CONFIDENCE:
            confidence = _confidence(value, where)
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise UsageError(f"{where}: {key} must be a text like '5%,10ms', got {value!r}")
        parse(str(value), key.partition(".")[0] in RATIOS, f"{where}: {key}")
        specs[key] = str(value)
    return Tolerances(specs, confidence)


def from_file(base: Tolerances, path: Path) -> Tolerances:
    """``base`` with the ``[compare]`` table of a TOML file (none: unchanged)."""
    table = read_toml(path).get(TABLE)
    if table is None:
        return base
    if not isinstance(table, Mapping):
        raise UsageError(f"{path} [{TABLE}]: expected a table, got {table!r}")
    return merge(base, table, f"{path} [{TABLE}]")


def from_options(options: Iterable[str]) -> dict[str, str]:
    """``--tolerance KEY=SPEC`` options (a bare ``SPEC`` is every latency)."""
    out: dict[str, str] = {}
    for option in options:
        key, sep, spec = option.partition("=")
        out[key.strip() if sep else LATENCY] = spec if sep else option
    return out


def load(
    cwd: Path | None = None,
    file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Tolerances:
    """The tolerances: defaults, ``asrx.toml`` in ``cwd``, ``file``, then ``overrides``."""
    tolerances = Tolerances()
    discovered = (cwd or Path.cwd()) / SLO_FILE_NAME
    if discovered.is_file():
        tolerances = from_file(tolerances, discovered)
    if file is not None:
        tolerances = from_file(tolerances, file)
    return merge(tolerances, overrides or {}, "--tolerance")
