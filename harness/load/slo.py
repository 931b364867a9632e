"""Service-level objectives of a load run: the thresholds, where they come from, and their checks.

Each threshold is a Locust option (``--slo-p95-first-partial-ms 800``), so it comes through
Locust's own configuration layering: ``~/.locust.conf``, ``./locust.conf``,
``pyproject.toml [tool.locust]``, ``--config FILE``, environment variables
(``ASRX_SLO_P95_FIRST_PARTIAL_MS``) and the command line, the later winning::

    # locust.conf                       # pyproject.toml
    slo-p95-first-partial-ms = 800      [tool.locust]
    slo-max-error-ratio = 0.01          slo-p95-first-partial-ms = 800

Thresholds may also sit in a file of their own, an ``[slo]`` table in ``asrx.toml`` (read
from the run's directory) or in the file ``--slo-file`` names; those come *below* every
Locust layer. A value that is not a finite number >= 0 (or a ratio above 1), or an
unknown key of an ``[slo]`` table, is a one-line ``SLOConfigError`` (a ``UsageError``:
exit 2). The checks themselves are ``harness.load.verdict``'s.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.protocol.metrics import DEFAULT_LATENESS_BOUND_MS
from harness.protocol.words import WordStatus

#: Failed sessions allowed when no ``max_error_ratio`` is set: none.
DEFAULT_MAX_ERROR_RATIO = 0.0
#: The table thresholds sit in, in ``asrx.toml`` and a ``--slo-file``.
TABLE = "slo"
#: The run directory's thresholds file.
SLO_FILE_NAME = "asrx.toml"


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
    #: Word latencies (UPL and finalization): need a corpus with word timings.
    p50_upl_ms: float | None = None
    p90_upl_ms: float | None = None
    p95_upl_ms: float | None = None
    p99_upl_ms: float | None = None
    p95_word_final_ms: float | None = None
    p99_word_final_ms: float | None = None
    #: Missed timed words over the timed words sent (words never shown).
    max_missed_word_ratio: float | None = None
    max_error_ratio: float | None = None
    #: Pooled WER over the WER-scored utterances (may exceed 1).
    max_wer: float | None = None
    #: Pooled CER over the CER-scored utterances (Thai and other unspaced scripts).
    max_cer: float | None = None
    #: p99 send lateness above this marks the harness saturated.
    lateness_bound_ms: float = DEFAULT_LATENESS_BOUND_MS

    @property
    def error_ratio_limit(self) -> float:
        """The allowed failed-session ratio: the threshold, or 0 when none is set."""
        return DEFAULT_MAX_ERROR_RATIO if self.max_error_ratio is None else self.max_error_ratio

    @property
    def gated(self) -> bool:
        """True when a latency or accuracy threshold is set (not only the checks that
        always apply: sessions completed, error ratio, harness health)."""
        gates = LATENCY_KEYS | ACCURACY_KEYS | WORD_RATIO_KEYS
        return any(getattr(self, k) is not None for k in gates)

    def settings(self) -> dict[str, float | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: Latency key -> (RunStats metric, percentile).
LATENCY_KEYS_SPEC: dict[str, tuple[str, int]] = {
    "p95_first_partial_ms": ("first_partial", 95),
    "p99_first_partial_ms": ("first_partial", 99),
    "p95_sentence_ms": ("sentence", 95),
    "p99_sentence_ms": ("sentence", 99),
    "p95_close_ms": ("close", 95),
    "p50_upl_ms": ("word_upl", 50),
    "p90_upl_ms": ("word_upl", 90),
    "p95_upl_ms": ("word_upl", 95),
    "p99_upl_ms": ("word_upl", 99),
    "p95_word_final_ms": ("word_final", 95),
    "p99_word_final_ms": ("word_final", 99),
}
LATENCY_KEYS = frozenset(LATENCY_KEYS_SPEC)
ACCURACY_KEYS = frozenset({"max_wer", "max_cer"})
#: Word ratio key -> the word status it bounds (``RunStats.word_ratio``).
WORD_RATIO_KEYS_SPEC: dict[str, WordStatus] = {"max_missed_word_ratio": "missed"}
WORD_RATIO_KEYS = frozenset(WORD_RATIO_KEYS_SPEC)
#: The metrics measured on the reference's words (``harness.load.stats.METRICS``).
WORD_METRICS = ("word_upl", "word_final")
#: Keys measured on the reference's words: they need a server that recognizes speech.
WORD_KEYS = WORD_RATIO_KEYS | {k for k, (m, _) in LATENCY_KEYS_SPEC.items() if m in WORD_METRICS}
KEYS: tuple[str, ...] = tuple(f.name for f in fields(SLO))
_RATIO_KEYS = frozenset({"max_error_ratio"}) | WORD_RATIO_KEYS

#: What each key means (option help and the README).
HELP: dict[str, str] = {
    "p95_first_partial_ms": "p95 first-partial latency ceiling, ms",
    "p99_first_partial_ms": "p99 first-partial latency ceiling, ms",
    "p95_sentence_ms": "p95 sentence (end of speech to final) latency ceiling, ms",
    "p99_sentence_ms": "p99 sentence latency ceiling, ms",
    "p95_close_ms": "p95 close latency (end-of-stream to confirmation) ceiling, ms",
    "p50_upl_ms": "p50 user-perceived word latency (UPL: word shown minus word end) ceiling, ms",
    "p90_upl_ms": "p90 UPL ceiling, ms",
    "p95_upl_ms": "p95 UPL ceiling, ms",
    "p99_upl_ms": "p99 UPL ceiling, ms",
    "p95_word_final_ms": "p95 word finalization latency (word final minus word end) ceiling, ms",
    "p99_word_final_ms": "p99 word finalization latency ceiling, ms",
    "max_missed_word_ratio": "missed words / timed words sent ceiling, 0..1 (needs word timings)",
    "max_error_ratio": "failed sessions / all sessions ceiling, 0..1 (default 0: any "
    "failed session fails the run)",
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


def read_toml(path: Path) -> dict[str, Any]:
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
    """Thresholds from the ``[slo]`` table of a TOML file."""
    table = _table_at(read_toml(path), TABLE)
    if table is None:
        raise SLOConfigError(f"{path}: no [{TABLE}] table")
    return check_table(table, f"{path} [{TABLE}]")


def discover(cwd: Path) -> dict[str, float]:
    """Thresholds from ``asrx.toml`` ``[slo]`` in ``cwd`` (empty without one).

    ``pyproject.toml`` is Locust's to read (``[tool.locust]``): a ``[tool.asrx.slo]`` table
    there would be silently ignored, so it is refused with the way to write it instead.
    """
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file() and _table_at(read_toml(pyproject), "tool.asrx.slo") is not None:
        raise SLOConfigError(
            f"{pyproject}: thresholds in pyproject.toml go under [tool.locust] as options, "
            "e.g. slo-p95-first-partial-ms = 800 (docs/load.md#the-slo-gate)"
        )
    path = cwd / SLO_FILE_NAME
    if not path.is_file():
        return {}
    # The file may hold other tables only (``[compare]`` tolerances): no thresholds then.
    table = _table_at(read_toml(path), TABLE)
    return check_table(table, f"{path} [{TABLE}]") if table is not None else {}


def load_slo(
    cwd: Path | None = None,
    *,
    slo_file: Path | None = None,
    overrides: Mapping[str, float | None] | None = None,
) -> SLO:
    """The effective SLO: ``asrx.toml`` in ``cwd``, then ``slo_file``, then the non-None
    ``overrides`` (the options, through Locust's layering)."""
    values = discover(cwd or Path.cwd())
    if slo_file is not None:
        values.update(read_slo_file(slo_file))
    for key, value in (overrides or {}).items():
        if key not in KEYS:
            raise SLOConfigError(f"unknown SLO {key!r} (known: {', '.join(KEYS)})")
        if value is not None:
            values[key] = check_value(key, value, option_name(key))
    return SLO(**values)
