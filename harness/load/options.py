"""The options of a load run, each with its environment variable: ``--asrx-*`` (the user
and the reports) and ``--slo-*`` (the gate), and their typed, checked forms
(``LoadOptions``, ``slo_from_options``).

Importing this module registers the options with Locust's parser (Locust's own
``add_argument`` knows ``env_var``, ``is_secret`` and ``include_in_web_ui``), so they also
come from ``locust.conf``, ``pyproject.toml [tool.locust]`` and the web UI's custom
parameters. ``LoadOptions.from_parsed`` turns Locust's parsed options into one frozen
object, or a one-line ``UsageError``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from locust import events

from harness.client.target import Target
from harness.errors import UsageError
from harness.limits import DEFAULT_MAX_MESSAGE_BYTES, Limits
from harness.load import slo
from harness.protocol.audio import DEFAULT_FRAME_BYTES
from harness.server.engines import ENGINES
from harness.timeouts import DEFAULT_TIMEOUTS

ORDERS = ("round-robin", "random")
#: Whether sessions compute word latencies (UPL): after each completed session, not per frame.
WORD_LATENCY = ("on", "off")
REPORT_DIR_DEFAULT = "reports"
#: Seconds between two time-series samples (one row of the "over time" charts).
SAMPLE_INTERVAL_S = 2.0


@dataclass(frozen=True)
class LoadOptions:
    """The asrx user's settings (defaults when Locust's command line is not used)."""

    corpus: str = ""
    apikey: str | None = None
    frame_bytes: int = DEFAULT_FRAME_BYTES
    order: str = "round-robin"
    speed: float = 1.0
    ca_file: str | None = None
    timeout_scale: float = 1.0
    engine: str = "synthetic"
    max_refusals: int = 10
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    stats_out: str = ""
    report_dir: str = REPORT_DIR_DEFAULT
    sample_interval: float = SAMPLE_INTERVAL_S
    word_latency: str = "on"

    def __post_init__(self) -> None:
        for name in ("frame_bytes", "max_message_bytes", "max_refusals"):
            if getattr(self, name) <= 0:
                raise UsageError(f"{_flag(name)} must be > 0, got {getattr(self, name)}")
        for name in ("speed", "timeout_scale", "sample_interval"):
            if not getattr(self, name) > 0:
                raise UsageError(f"{_flag(name)} must be > 0, got {getattr(self, name)}")
        if self.word_latency not in WORD_LATENCY:
            raise UsageError(f"--asrx-word-latency must be on or off, got {self.word_latency!r}")
        if self.frame_bytes % 2:
            raise UsageError(
                f"--asrx-frame-bytes must be even (whole samples), got {self.frame_bytes}"
            )

    @classmethod
    def from_parsed(cls, parsed: Any) -> LoadOptions:
        """From Locust's parsed options (``None``: the defaults)."""
        if parsed is None:
            return cls()
        values = {
            f.name: getattr(parsed, f"asrx_{f.name}")
            for f in fields(cls)
            if getattr(parsed, f"asrx_{f.name}", None) is not None
        }
        return cls(**values)

    def target(self, url: str) -> Target:
        """The ``Target`` every session of this run connects to."""
        return Target(
            url,
            self.apikey or None,
            ca_file=self.ca_file,
            timeouts=DEFAULT_TIMEOUTS.scaled(self.timeout_scale),
            limits=Limits(max_message_bytes=self.max_message_bytes),
        )


def _flag(name: str) -> str:
    return "--asrx-" + name.replace("_", "-")


@events.init_command_line_parser.add_listener
def add_options(parser: Any) -> None:
    a = parser.add_argument
    a(
        "--asrx-corpus",
        env_var="ASRX_CORPUS",
        default="",
        help="corpus folder (manifest.jsonl + .pcm); default: the shipped en-synth",
    )
    a(
        "--asrx-apikey",
        env_var="ASRX_APIKEY",
        default=None,
        is_secret=True,
        help="API key sent in the handshake (prefer ASRX_APIKEY: argv shows in ps); never "
        "logged or reported",
    )
    a(
        "--asrx-frame-bytes",
        env_var="ASRX_FRAME_BYTES",
        type=int,
        default=DEFAULT_FRAME_BYTES,
        help="bytes per audio frame (default 1024 = 32 ms)",
    )
    a(
        "--asrx-order",
        env_var="ASRX_ORDER",
        choices=ORDERS,
        default="round-robin",
        help="which utterance each session replays next (default round-robin)",
    )
    a(
        "--asrx-speed",
        env_var="ASRX_SPEED",
        type=float,
        default=1.0,
        help="pacing as a multiple of real time (default 1.0)",
    )
    a(
        "--asrx-ca-file",
        env_var="ASRX_CA_FILE",
        default=None,
        help="PEM file of CAs to trust for wss:// (default: the system's)",
    )
    a(
        "--asrx-timeout-scale",
        env_var="ASRX_TIMEOUT_SCALE",
        type=float,
        default=1.0,
        help="multiply every wait (handshake, confirmation, close, send) by this",
    )
    a(
        "--asrx-max-message-bytes",
        env_var="ASRX_MAX_MESSAGE_BYTES",
        type=int,
        default=DEFAULT_MAX_MESSAGE_BYTES,
        help="largest server message accepted (default 1 MiB); a larger one fails the "
        "session (protocol_violation, rule 3.size) without being buffered",
    )
    a(
        "--asrx-engine",
        env_var="ASRX_ENGINE",
        choices=ENGINES,
        default="synthetic",
        help="engine of the embedded server started when no --host is given",
    )
    a(
        "--asrx-max-refusals",
        env_var="ASRX_MAX_REFUSALS",
        type=int,
        default=10,
        help="stop the run after this many sessions in a row were refused or could "
        "not connect while none ever opened (default 10)",
    )
    a(
        "--asrx-stats-out",
        env_var="ASRX_STATS_OUT",
        default="",
        include_in_web_ui=False,
        help="write the run's RunStats as JSON here at the end (workers add "
        ".worker-<pid> before the suffix)",
    )
    a(
        "--asrx-report-dir",
        env_var="ASRX_REPORT_DIR",
        default=REPORT_DIR_DEFAULT,
        help=f"where the summary JSON and HTML report go (default: {REPORT_DIR_DEFAULT})",
    )
    a(
        "--asrx-sample-interval",
        env_var="ASRX_SAMPLE_INTERVAL",
        type=float,
        default=SAMPLE_INTERVAL_S,
        help=f"seconds between time-series samples (default {SAMPLE_INTERVAL_S:g})",
    )
    a(
        "--asrx-word-latency",
        env_var="ASRX_WORD_LATENCY",
        choices=WORD_LATENCY,
        default="on",
        help="per-word latencies (UPL) of utterances with word timings, computed when a "
        "session ends (default on; each costs 0.03-0.1 ms of CPU per message received, "
        "docs/load.md#word-latency-upl)",
    )
    a(
        "--asrx-baseline",
        env_var="ASRX_BASELINE",
        default="",
        include_in_web_ui=False,
        help="an earlier run's summary JSON (or its reports folder): compare this run with "
        "it when it ends; exit 5 regressed, 6 not comparable (docs/compare.md)",
    )
    a(
        "--asrx-history",
        env_var="ASRX_HISTORY",
        default="",
        include_in_web_ui=False,
        help="a folder of earlier runs' summaries: the report charts p50/p95 per metric "
        "across them",
    )
    g = parser.add_argument_group("asrx SLO gate (docs/load.md#the-slo-gate)")
    for key in slo.KEYS:
        g.add_argument(
            slo.option_name(key),
            env_var=slo.env_name(key),
            default=None,
            metavar="N",
            help=slo.HELP[key],
        )
    g.add_argument(
        "--slo-file",
        env_var="ASRX_SLO_FILE",
        default=None,
        help=f"TOML file with an [{slo.TABLE}] table of thresholds (below every Locust "
        f"configuration layer; {slo.SLO_FILE_NAME} in the run's directory is read first)",
    )


def slo_from_options(parsed: Any, cwd: Path | None = None) -> slo.SLO:
    """The effective SLO for Locust's parsed options (raises ``SLOConfigError``)."""
    overrides: dict[str, float | None] = {}
    for key in slo.KEYS:
        raw = getattr(parsed, "slo_" + key, None)
        if raw is not None and str(raw).strip() != "":
            overrides[key] = slo.parse_number(key, str(raw), slo.option_name(key))
    slo_file = getattr(parsed, "slo_file", None)
    return slo.load_slo(cwd, slo_file=Path(slo_file) if slo_file else None, overrides=overrides)
