"""The suite's options (``--asrx-*``, env ``ASRX_*``) as one frozen ``SuiteSettings``.

Every option has an environment fallback, as in pytest-httpserver; the command line wins.
``settings_from_config`` raises ``UsageError`` with one line for a bad value.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.client.target import check_url
from harness.conformance.known import KnownDeviations, load_known
from harness.errors import UsageError
from harness.limits import DEFAULT_MAX_MESSAGE_BYTES, Limits
from harness.protocol.dialect import DEFAULT_DIALECT, Dialect, load_profile
from harness.server.engines import ENGINES
from harness.timeouts import DEFAULT_TIMEOUTS, Timeouts

DEFAULT_SPEED = 2.0
#: What each of the suite's sessions keeps of a server's output. The suite holds one
#: finished session per corpus utterance (and five more) until the run ends, so it keeps
#: less history than a single ``asrx stream`` session may: 256 Ki characters (at most
#: 1 MiB) and 5,000 messages each, some hundred times what a corpus utterance yields.
SUITE_HISTORY_CHARS = 256 << 10
SUITE_MESSAGES_KEPT = 5_000

#: option dest -> (flag, env var, help). One table, so the README and --help agree.
OPTIONS: dict[str, tuple[str, str, str]] = {
    "asrx_url": (
        "--asrx-url",
        "ASRX_URL",
        "ws:// or wss:// URL of the server under test (default: start the embedded "
        "reference server on a free loopback port)",
    ),
    "asrx_apikey": ("--asrx-apikey", "ASRX_APIKEY", "a valid apikey for --asrx-url"),
    "asrx_corpus": (
        "--asrx-corpus",
        "ASRX_CORPUS",
        "corpus folder (manifest.jsonl + .pcm) streamed by the checks (default: corpora/en-synth)",
    ),
    "asrx_strict": (
        "--asrx-strict",
        "ASRX_STRICT",
        "strict grading: NON-STRICT results fail (docs/protocol.md: lenient by default)",
    ),
    "asrx_timeout_scale": (
        "--asrx-timeout-scale",
        "ASRX_TIMEOUT_SCALE",
        "multiply every wait (open 10 s, confirm 10 s, close 5 s, reject-close 2 s, ...) "
        "by this factor (default 1)",
    ),
    "asrx_ca_file": (
        "--asrx-ca-file",
        "ASRX_CA_FILE",
        "PEM CA bundle to verify a wss:// server with (default: system CAs)",
    ),
    "asrx_profile": (
        "--asrx-profile",
        "ASRX_PROFILE",
        "dialect TOML profile (path, key header, end-of-stream, states)",
    ),
    "asrx_report": (
        "--asrx-report",
        "ASRX_REPORT",
        "write a self-contained HTML report to this path (and the JSON result beside it, "
        "same name with .json, unless --asrx-json is given)",
    ),
    "asrx_json": (
        "--asrx-json",
        "ASRX_JSON",
        "write the machine-readable result (every check, its grade and findings) to this "
        "path; asrx conformance-diff compares two",
    ),
    "asrx_known": (
        "--asrx-known",
        "ASRX_KNOWN",
        "TOML file of known deviations (rule or check ids, each with a reason and an "
        "optional expiry date): they are reported as KNOWN and do not fail the run",
    ),
    "asrx_max_message_bytes": (
        "--asrx-max-message-bytes",
        "ASRX_MAX_MESSAGE_BYTES",
        f"largest server message accepted, in bytes; a larger one is a §3.size finding "
        f"and ends its session (default {DEFAULT_MAX_MESSAGE_BYTES})",
    ),
    "asrx_speed": (
        "--asrx-speed",
        "ASRX_SPEED",
        f"pacing of checks where real time does not matter, as a multiple of real time "
        f"(default {DEFAULT_SPEED:g})",
    ),
    "asrx_engine": (
        "--asrx-engine",
        "ASRX_ENGINE",
        "engine of the embedded reference server: synthetic (default, fast, placeholder "
        "words) or pocketsphinx (real recognition, slow)",
    ),
}


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("asrx", "asrx conformance suite")
    for dest, (flag, env, text) in OPTIONS.items():
        if dest == "asrx_strict":
            group.addoption(flag, dest=dest, action="store_true", default=None, help=text)
        else:
            group.addoption(flag, dest=dest, default=None, metavar="VALUE", help=f"{text} [{env}]")


@dataclass(frozen=True)
class SuiteSettings:
    url: str | None = None
    apikey: str | None = field(default=None, repr=False)
    corpus_dir: Path | None = None
    strict: bool = False
    timeout_scale: float = 1.0
    ca_file: str | None = None
    profile: str | None = None
    dialect: Dialect = DEFAULT_DIALECT
    report: Path | None = None
    json: Path | None = None
    known: KnownDeviations | None = None
    speed: float = DEFAULT_SPEED
    engine: str = "synthetic"
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES

    @property
    def timeouts(self) -> Timeouts:
        return DEFAULT_TIMEOUTS.scaled(self.timeout_scale)

    @property
    def limits(self) -> Limits:
        return Limits(
            max_message_bytes=self.max_message_bytes,
            max_messages_kept=SUITE_MESSAGES_KEPT,
            max_history_chars=SUITE_HISTORY_CHARS,
        )

    @property
    def json_path(self) -> Path | None:
        """Where the JSON result goes: ``--asrx-json``, else beside the HTML report."""
        if self.json is not None:
            return self.json
        return self.report.with_suffix(".json") if self.report is not None else None

    @property
    def embedded(self) -> bool:
        return self.url is None


def option_text(config: pytest.Config, dest: str, env: str) -> str | None:
    """An option's text: the command line's, else the environment variable's (None: unset
    or empty). The plugins of this package read their options through it."""
    value = config.getoption(dest, default=None)
    if value is None:
        value = os.environ.get(env) or None
    return value if value is None or isinstance(value, str) else str(value)


def number(
    flag: str, raw: str | None, default: float, low: float = 0.0, *, above: bool = True
) -> float:
    """``raw`` as a number above ``low`` (``above=False``: at least ``low``), or a one-line
    usage error naming ``flag``; ``default`` when unset."""
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{flag} must be a number, got {raw!r}") from None
    if not (value > low if above else value >= low):
        raise UsageError(f"{flag} must be {'>' if above else '>='} {low:g}, got {raw!r}")
    return value


def _raw(config: pytest.Config, dest: str) -> str | None:
    return option_text(config, dest, OPTIONS[dest][1])


def _positive(flag: str, raw: str | None, default: float) -> float:
    return number(flag, raw, default)


def _byte_count(flag: str, raw: str | None, default: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise UsageError(f"{flag} must be a whole number of bytes, got {raw!r}") from None
    if value < 1:
        raise UsageError(f"{flag} must be >= 1, got {raw!r}")
    return value


def settings_from_config(config: pytest.Config) -> SuiteSettings:
    """The settings, or ``UsageError`` naming the bad option."""
    url = _raw(config, "asrx_url")
    apikey = _raw(config, "asrx_apikey")
    if url is not None:
        check_url(url)
        if not apikey:
            raise UsageError("--asrx-url needs a valid key: --asrx-apikey or ASRX_APIKEY")
    strict_flag = config.getoption("asrx_strict", default=None)
    strict_env = os.environ.get("ASRX_STRICT", "").strip().lower()
    strict = bool(strict_flag) or strict_env in ("1", "true", "yes", "on")
    corpus = _raw(config, "asrx_corpus")
    if corpus is not None and not (Path(corpus) / "manifest.jsonl").is_file():
        raise UsageError(f"--asrx-corpus {corpus}: no manifest.jsonl in that folder")
    ca_file = _raw(config, "asrx_ca_file")
    if ca_file is not None:
        _check_ca_file(ca_file)
    profile = _raw(config, "asrx_profile")
    dialect = load_profile(profile) if profile else DEFAULT_DIALECT
    engine = _raw(config, "asrx_engine") or "synthetic"
    if engine not in ENGINES:
        raise UsageError(f"--asrx-engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    report = _raw(config, "asrx_report")
    json_path = _raw(config, "asrx_json")
    known = _raw(config, "asrx_known")
    return SuiteSettings(
        url=url,
        apikey=apikey,
        corpus_dir=Path(corpus).resolve() if corpus else None,
        strict=strict,
        timeout_scale=_positive("--asrx-timeout-scale", _raw(config, "asrx_timeout_scale"), 1.0),
        ca_file=ca_file,
        profile=profile,
        dialect=dialect,
        report=Path(report) if report else None,
        json=Path(json_path) if json_path else None,
        known=load_known(Path(known)) if known else None,
        speed=_positive("--asrx-speed", _raw(config, "asrx_speed"), DEFAULT_SPEED),
        engine=engine,
        max_message_bytes=_byte_count(
            "--asrx-max-message-bytes",
            _raw(config, "asrx_max_message_bytes"),
            DEFAULT_MAX_MESSAGE_BYTES,
        ),
    )


def _check_ca_file(path: str) -> None:
    """A CA file that cannot be loaded is a usage error now, not a failed check later."""
    if not Path(path).is_file():
        raise UsageError(f"--asrx-ca-file {path}: no such file")
    try:
        ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"--asrx-ca-file {path}: not a PEM CA bundle ({exc})") from None
