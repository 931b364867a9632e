"""Service-level objectives for a load run: where thresholds come from, and the verdicts.

A threshold is set by a Locust option (``--slo-p95-first-partial-ms 800``), its
environment variable (``ASRX_SLO_P95_FIRST_PARTIAL_MS``), or a TOML table::

    # pyproject.toml                  # or asrx.toml
    [tool.asrx.slo]                   [slo]
    p95_first_partial_ms = 800        p95_first_partial_ms = 800
    max_error_ratio = 0.01            max_error_ratio = 0.01

Precedence, lowest first: pyproject.toml ``[tool.asrx.slo]``, then ``asrx.toml``
``[slo]`` (both looked up in the working directory), then ``--slo-file`` (either table),
then options and environment variables. An unknown key or a bad value is a one-line
``SLOConfigError`` (a ``UsageError``: exit 2).

``evaluate`` turns a run's ``RunStats`` into one ``Verdict`` per configured threshold,
plus two that always apply: the run produced sessions, and the harness was not
saturated (p99 send lateness within ``lateness_bound_ms``, PROTOCOL.md §5). A saturated
run never passes: its latencies are untrusted. A threshold whose metric was not measured
at all (no samples) fails rather than passing silently.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.load.stats import RunStats
from harness.protocol.metrics import DEFAULT_LATENESS_BOUND_MS

#: Process exit codes of a gated run (``environment.process_exit_code``).
EXIT_PASSED = 0
#: The run failed: no session completed (wrong key, unreachable host, bad corpus).
EXIT_RUN_FAILED = 1
#: Usage error: a bad option or SLO file (argparse and ``UsageError`` use 2 as well).
EXIT_USAGE = 2
#: At least one SLO was breached.
EXIT_SLO_BREACHED = 3
#: The harness itself was saturated (p99 send lateness over its bound): latencies untrusted.
EXIT_HARNESS_SATURATED = 4

EXIT_CODES: dict[int, str] = {
    EXIT_PASSED: "every SLO held",
    EXIT_RUN_FAILED: "run failed: no session completed",
    EXIT_USAGE: "usage error: bad option or SLO file",
    EXIT_SLO_BREACHED: "SLO breached",
    EXIT_HARNESS_SATURATED: "harness saturated: latencies untrusted",
}

#: Verdict names of the checks that always apply.
RUN_VERDICT = "sessions_completed"
HEALTH_VERDICT = "harness_not_saturated"


class SLOConfigError(UsageError):
    """An SLO file or option is malformed: unknown key, wrong type, out of range."""


@dataclass(frozen=True)
class SLO:
    """Thresholds; ``None`` means not gated. Latencies in ms, ratios in [0, 1]."""

    p95_first_partial_ms: float | None = None
    p99_first_partial_ms: float | None = None
    p95_sentence_ms: float | None = None
    p99_sentence_ms: float | None = None
    p95_close_ms: float | None = None
    max_error_ratio: float | None = None
    #: Pooled WER over the WER-scored utterances (may exceed 1).
    max_wer: float | None = None
    #: Pooled CER over the CER-scored utterances (Thai and other unspaced scripts).
    max_cer: float | None = None
    #: p99 send lateness above this marks the harness saturated.
    lateness_bound_ms: float = DEFAULT_LATENESS_BOUND_MS

    @property
    def gated(self) -> bool:
        """True when at least one threshold (besides harness health) is set."""
        return any(getattr(self, k) is not None for k in LATENCY_KEYS | OTHER_KEYS)

    def settings(self) -> dict[str, float | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: Latency key -> (RunStats metric, percentile).
LATENCY_KEYS_SPEC: dict[str, tuple[str, int]] = {
    "p95_first_partial_ms": ("first_partial", 95),
    "p99_first_partial_ms": ("first_partial", 99),
    "p95_sentence_ms": ("sentence", 95),
    "p99_sentence_ms": ("sentence", 99),
    "p95_close_ms": ("close", 95),
}
LATENCY_KEYS = frozenset(LATENCY_KEYS_SPEC)
OTHER_KEYS = frozenset({"max_error_ratio", "max_wer", "max_cer"})
KEYS: tuple[str, ...] = tuple(f.name for f in fields(SLO))
_RATIO_KEYS = frozenset({"max_error_ratio"})

#: What each key means (option help and the README).
HELP: dict[str, str] = {
    "p95_first_partial_ms": "p95 first-partial latency ceiling, ms",
    "p99_first_partial_ms": "p99 first-partial latency ceiling, ms",
    "p95_sentence_ms": "p95 sentence (end of speech to final) latency ceiling, ms",
    "p99_sentence_ms": "p99 sentence latency ceiling, ms",
    "p95_close_ms": "p95 close latency (end-of-stream to confirmation) ceiling, ms",
    "max_error_ratio": "failed sessions / all sessions ceiling, 0..1",
    "max_wer": "pooled WER ceiling over WER-scored utterances",
    "max_cer": "pooled CER ceiling over CER-scored utterances",
    "lateness_bound_ms": (
        f"p99 send lateness above which the harness is saturated, ms "
        f"(default {DEFAULT_LATENESS_BOUND_MS:g})"
    ),
}


def option_name(key: str) -> str:
    """``p95_first_partial_ms`` -> ``--slo-p95-first-partial-ms``."""
    return "--slo-" + key.replace("_", "-")


def env_name(key: str) -> str:
    """``p95_first_partial_ms`` -> ``ASRX_SLO_P95_FIRST_PARTIAL_MS``."""
    return "ASRX_SLO_" + key.upper()


def check_value(key: str, value: Any, where: str) -> float:
    """A valid threshold for ``key`` or a one-line ``SLOConfigError`` naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SLOConfigError(f"{where}: {key} must be a number, got {value!r}")
    number = float(value)
    if not number >= 0 or number == float("inf"):
        raise SLOConfigError(f"{where}: {key} must be a finite number >= 0, got {value!r}")
    if key in _RATIO_KEYS and number > 1:
        raise SLOConfigError(f"{where}: {key} is a ratio between 0 and 1, got {value!r}")
    return number


def parse_number(key: str, text: str, where: str) -> float:
    """An option or environment value (text) as a threshold."""
    try:
        value = float(text)
    except ValueError:
        raise SLOConfigError(f"{where}: {key} must be a number, got {text!r}") from None
    return check_value(key, value, where)


def check_table(table: Any, where: str) -> dict[str, float]:
    """Validate one ``[slo]`` table: known keys, numeric values in range."""
    if not isinstance(table, Mapping):
        raise SLOConfigError(f"{where}: expected a table of thresholds, got {table!r}")
    out: dict[str, float] = {}
    for key, value in table.items():
        if key not in KEYS:
            raise SLOConfigError(f"{where}: unknown key {key!r} (known: {', '.join(KEYS)})")
        out[key] = check_value(key, value, where)
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise SLOConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SLOConfigError(f"{path}: invalid TOML: {exc}") from None


def _table_at(doc: Mapping[str, Any], dotted: str) -> Any:
    node: Any = doc
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def read_slo_file(path: Path) -> dict[str, float]:
    """Thresholds from an explicit file: its ``[slo]`` or ``[tool.asrx.slo]`` table."""
    doc = _read_toml(path)
    for dotted in ("slo", "tool.asrx.slo"):
        table = _table_at(doc, dotted)
        if table is not None:
            return check_table(table, f"{path} [{dotted}]")
    raise SLOConfigError(f"{path}: no [slo] or [tool.asrx.slo] table")


def discover(cwd: Path) -> dict[str, float]:
    """Thresholds from ``pyproject.toml`` ``[tool.asrx.slo]`` then ``asrx.toml`` ``[slo]``."""
    merged: dict[str, float] = {}
    for name, dotted in (("pyproject.toml", "tool.asrx.slo"), ("asrx.toml", "slo")):
        path = cwd / name
        if not path.is_file():
            continue
        table = _table_at(_read_toml(path), dotted)
        if table is not None:
            merged.update(check_table(table, f"{path} [{dotted}]"))
    return merged


def load_slo(
    cwd: Path | None = None,
    *,
    slo_file: Path | None = None,
    overrides: Mapping[str, float | None] | None = None,
) -> SLO:
    """The effective SLO: files in ``cwd``, then ``slo_file``, then non-None ``overrides``."""
    values = discover(cwd or Path.cwd())
    if slo_file is not None:
        values.update(read_slo_file(slo_file))
    for key, value in (overrides or {}).items():
        if key not in KEYS:
            raise SLOConfigError(f"unknown SLO {key!r} (known: {', '.join(KEYS)})")
        if value is not None:
            values[key] = check_value(key, value, option_name(key))
    return SLO(**values)


@dataclass(frozen=True)
class Verdict:
    name: str
    threshold: float | None
    measured: float | None
    passed: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "threshold": self.threshold,
            "measured": self.measured,
            "passed": self.passed,
            "reason": self.reason,
        }


def _ceiling(name: str, threshold: float, measured: float | None, unit: str) -> Verdict:
    if measured is None:
        return Verdict(name, threshold, None, False, "not measured: no samples")
    passed = measured <= threshold
    op = "<=" if passed else ">"
    return Verdict(
        name, threshold, measured, passed, f"{measured:g}{unit} {op} {threshold:g}{unit}"
    )


def lateness_p99(stats: RunStats) -> float | None:
    hist = stats.histograms.get("send_lateness")
    return hist.percentile(99) if hist is not None else None


def is_saturated(stats: RunStats, bound_ms: float = DEFAULT_LATENESS_BOUND_MS) -> bool:
    p99 = lateness_p99(stats)
    return p99 is not None and p99 > bound_ms


def evaluate(stats: RunStats, slo: SLO) -> list[Verdict]:
    """One verdict per configured threshold, after the two that always apply."""
    completed = stats.sessions_ok
    verdicts = [
        Verdict(
            RUN_VERDICT,
            1,
            completed,
            completed > 0,
            f"{completed} session(s) completed"
            + ("" if completed else f"; failures: {dict(stats.failures) or 'none'}"),
        )
    ]
    p99 = lateness_p99(stats)
    if p99 is None:
        verdicts.append(
            Verdict(HEALTH_VERDICT, slo.lateness_bound_ms, None, True, "no frames sent")
        )
    else:
        ok = p99 <= slo.lateness_bound_ms
        verdicts.append(
            Verdict(
                HEALTH_VERDICT,
                slo.lateness_bound_ms,
                p99,
                ok,
                f"p99 send lateness {p99:g} ms {'<=' if ok else '>'} "
                f"{slo.lateness_bound_ms:g} ms"
                + ("" if ok else ": harness saturated, latencies untrusted"),
            )
        )
    for key, (metric, pct) in LATENCY_KEYS_SPEC.items():
        threshold = getattr(slo, key)
        if threshold is not None:
            hist = stats.histograms.get(metric)
            measured = hist.percentile(pct) if hist is not None else None
            verdicts.append(_ceiling(key, threshold, measured, " ms"))
    if slo.max_error_ratio is not None:
        total = stats.sessions_ok + sum(stats.failures.values())
        ratio = stats.error_ratio if total else None
        verdicts.append(_ceiling("max_error_ratio", slo.max_error_ratio, ratio, ""))
    for key, metric in (("max_wer", "wer"), ("max_cer", "cer")):
        threshold = getattr(slo, key)
        if threshold is not None:
            verdicts.append(_ceiling(key, threshold, stats.pooled_error_rate(metric), ""))
    return verdicts


def exit_code(verdicts: Sequence[Verdict]) -> int:
    """The process exit code for a set of verdicts (see ``EXIT_CODES``)."""
    failed = {v.name for v in verdicts if not v.passed}
    if RUN_VERDICT in failed:
        return EXIT_RUN_FAILED
    if HEALTH_VERDICT in failed:
        return EXIT_HARNESS_SATURATED
    return EXIT_SLO_BREACHED if failed else EXIT_PASSED
