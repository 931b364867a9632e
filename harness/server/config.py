"""The server's options: one argparse definition shared by ``asrx serve`` and
``python -m harness.server``, turned into a frozen ``ServerConfig``."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field, replace

from harness.errors import UsageError
from harness.protocol.dialect import DEFAULT_DIALECT, Dialect, load_profile
from harness.server.auth import load_keys
from harness.server.connection import DEFAULT_MAX_SEND_BACKLOG_BYTES
from harness.server.engines import ENGINES
from harness.server.faults import parse_faults, parse_hazards

DEFAULT_MAX_FRAME_BYTES = 1 << 20
DEFAULT_MAX_SESSIONS = 100
DEFAULT_IDLE_TIMEOUT_S = 30.0
DEFAULT_MAX_SESSION_S = 3600.0
DEFAULT_END_SILENCE_MS = 600
DEFAULT_PARTIAL_EVERY_MS = 250
#: Audio a session may have waiting for its decoder before it is closed 1013 (bounded memory).
DEFAULT_MAX_BACKLOG_S = 20.0
#: Server messages queued for a session and not yet handed to the socket.
DEFAULT_MAX_SEND_BACKLOG_MESSAGES = 1000
#: From TCP accept to a complete WebSocket handshake (a slowloris client is cut then).
DEFAULT_HANDSHAKE_TIMEOUT_S = 10.0
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    dialect: Dialect = DEFAULT_DIALECT
    apikeys: tuple[str, ...] = field(default=(), repr=False)
    no_auth: bool = False
    engine: str = "pocketsphinx"
    workers: int = 0  # 0: one per core
    faults: frozenset[str] = frozenset()
    #: Lawful behaviours that are hard on clients (``--hazard``).
    hazards: frozenset[str] = frozenset()
    delay_ms: int = 0
    #: Hold each result until this long after the audio it covers arrived (calibration).
    result_latency_ms: int | None = None
    #: Write what each client did to this JSON-lines file (``--record-clients``).
    record_clients: str | None = None
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    max_sessions: int = DEFAULT_MAX_SESSIONS
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    max_session_s: float = DEFAULT_MAX_SESSION_S
    max_backlog_s: float = DEFAULT_MAX_BACKLOG_S
    max_send_backlog_bytes: int = DEFAULT_MAX_SEND_BACKLOG_BYTES
    max_send_backlog_messages: int = DEFAULT_MAX_SEND_BACKLOG_MESSAGES
    handshake_timeout_s: float = DEFAULT_HANDSHAKE_TIMEOUT_S
    log_level: str = "INFO"
    end_silence_ms: int = DEFAULT_END_SILENCE_MS
    partial_every_ms: int = DEFAULT_PARTIAL_EVERY_MS
    tls_cert: str | None = None
    tls_key: str | None = None
    #: Run by another program (``--owned``): Ctrl-C ignored, stop when stdin closes.
    owned: bool = False

    @property
    def path(self) -> str:
        return self.dialect.path

    @property
    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Every server option (the help is what ``asrx serve --help`` shows)."""
    net = parser.add_argument_group("network")
    net.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    net.add_argument(
        "--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)"
    )
    net.add_argument("--path", default=None, help="WebSocket path (default /asrx)")
    net.add_argument(
        "--profile", default=None, help="dialect TOML profile (path, header, messages)"
    )
    net.add_argument(
        "--tls-cert", default=None, help="PEM certificate chain: serve wss:// and https://"
    )
    net.add_argument("--tls-key", default=None, help="PEM private key for --tls-cert")

    auth = parser.add_argument_group("authentication")
    auth.add_argument(
        "--apikey",
        action="append",
        default=[],
        metavar="KEY",
        help="accepted key (repeatable; prefer ASRX_APIKEYS or --apikey-file, "
        "argv is visible in ps)",
    )
    auth.add_argument("--apikey-file", default=None, help="file of accepted keys, one per line")
    auth.add_argument(
        "--no-auth", action="store_true", help="accept every session (local play only)"
    )

    own = parser.add_argument_group("run by another program")
    own.add_argument(
        "--owned",
        action="store_true",
        help="the server is another program's child (asrx load, the conformance plugin): "
        "ignore Ctrl-C (SIGINT), which reaches the terminal's whole process group and which "
        "the owner handles before it stops the server with SIGTERM; and stop when standard "
        "input closes, so the server never outlives its owner",
    )

    logs = parser.add_argument_group("logging")
    logs.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="INFO",
        help="JSON log lines on stderr from this level (default INFO; DEBUG adds "
        "websockets' frame and handshake lines, the key header masked)",
    )

    eng = parser.add_argument_group("recognition")
    eng.add_argument(
        "--engine",
        choices=ENGINES,
        default="pocketsphinx",
        help="pocketsphinx: real recognition (en-us) in worker processes; "
        "synthetic: placeholder words 'word1 word2 ...', one per ~300 ms of "
        "speech, does NOT recognize speech (fast tests, harness self-measurement)",
    )
    eng.add_argument(
        "--workers", type=int, default=0, help="decoder processes (default: one per core)"
    )
    eng.add_argument(
        "--end-silence-ms",
        type=int,
        default=DEFAULT_END_SILENCE_MS,
        help="pause that ends a sentence (default 600)",
    )
    eng.add_argument(
        "--partial-every-ms",
        type=int,
        default=DEFAULT_PARTIAL_EVERY_MS,
        help="speech between partial hypotheses (default 250)",
    )

    lim = parser.add_argument_group("limits")
    lim.add_argument(
        "--max-frame-bytes",
        type=int,
        default=DEFAULT_MAX_FRAME_BYTES,
        help="largest accepted frame, larger ones close 1009 (default 1 MiB)",
    )
    lim.add_argument(
        "--max-sessions",
        type=int,
        default=DEFAULT_MAX_SESSIONS,
        help="concurrent sessions; beyond it the handshake gets HTTP 503 (default 100)",
    )
    lim.add_argument(
        "--idle-timeout",
        type=float,
        default=DEFAULT_IDLE_TIMEOUT_S,
        help="seconds without a client frame before closing 1000 (default 30)",
    )
    lim.add_argument(
        "--max-session-seconds",
        type=float,
        default=DEFAULT_MAX_SESSION_S,
        help="longest session in seconds, then close 1008 (default 3600)",
    )
    lim.add_argument(
        "--max-backlog-seconds",
        type=float,
        default=DEFAULT_MAX_BACKLOG_S,
        help="audio waiting for the decoder before closing 1013 (default 20)",
    )
    lim.add_argument(
        "--max-send-backlog-bytes",
        type=int,
        default=DEFAULT_MAX_SEND_BACKLOG_BYTES,
        help="output a client has not read (messages, pongs) before it is closed 1008 "
        "(default 1 MiB)",
    )
    lim.add_argument(
        "--max-send-backlog-messages",
        type=int,
        default=DEFAULT_MAX_SEND_BACKLOG_MESSAGES,
        help="messages queued for a client and not yet sent before it is closed 1008 "
        "(default 1000)",
    )
    lim.add_argument(
        "--handshake-timeout",
        type=float,
        default=DEFAULT_HANDSHAKE_TIMEOUT_S,
        help="seconds from connect to a complete WebSocket handshake (default 10)",
    )

    lat = parser.add_argument_group("latency (calibrating a client or harness)")
    lat.add_argument(
        "--delay-ms",
        type=int,
        default=0,
        help="hold every server message back by exactly this many ms",
    )
    lat.add_argument(
        "--result-latency-ms",
        type=int,
        default=None,
        metavar="L",
        help="hold each result until L ms after the arrival of the last audio it covers, "
        "so results leave at a known time instead of when decoding ends (plus --delay-ms); "
        "results decoded later than that go at once and are counted "
        "(asrx_results_late_total). Default: send each result when decoded",
    )

    flt = parser.add_argument_group("fault injection")
    flt.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help="commit a deliberate protocol defect (see --list-faults)",
    )
    flt.add_argument("--list-faults", action="store_true", help="list the faults and exit")
    flt.add_argument(
        "--hazard",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help="behave in a lawful way that is hard on clients (see --list-hazards)",
    )
    flt.add_argument("--list-hazards", action="store_true", help="list the hazards and exit")
    flt.add_argument(
        "--record-clients",
        default=None,
        metavar="FILE",
        help="write what each client did (handshake, frames, closing; never its key) to "
        "this JSON-lines file, for grading clients (asrx grade-client)",
    )


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    dialect = load_profile(args.profile) if args.profile else DEFAULT_DIALECT
    if args.path:
        if not args.path.startswith("/"):
            raise UsageError("--path must start with '/'")
        dialect = replace(dialect, path=args.path)
    if bool(args.tls_cert) != bool(args.tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    keys = load_keys(args.apikey, args.apikey_file)
    if not keys and not args.no_auth:
        raise UsageError("no API key: give --apikey, ASRX_APIKEYS or --apikey-file, or --no-auth")
    for name in (
        "max_frame_bytes",
        "max_sessions",
        "max_send_backlog_bytes",
        "max_send_backlog_messages",
    ):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1")
    for name in ("idle_timeout", "max_session_seconds", "max_backlog_seconds", "handshake_timeout"):
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be > 0")
    if args.delay_ms < 0 or args.end_silence_ms < 30 or args.partial_every_ms < 30:
        raise UsageError("--delay-ms must be >= 0; --end-silence-ms, --partial-every-ms >= 30")
    if args.result_latency_ms is not None and args.result_latency_ms < 1:
        raise UsageError("--result-latency-ms must be >= 1")
    if not 0 <= args.port <= 65535:
        raise UsageError("--port must be within 0..65535")
    return ServerConfig(
        host=args.host,
        port=args.port,
        dialect=dialect,
        apikeys=keys,
        no_auth=args.no_auth,
        engine=args.engine,
        workers=max(0, args.workers),
        faults=parse_faults(args.fault),
        hazards=parse_hazards(args.hazard),
        delay_ms=args.delay_ms,
        result_latency_ms=args.result_latency_ms,
        record_clients=args.record_clients,
        max_frame_bytes=args.max_frame_bytes,
        max_sessions=args.max_sessions,
        idle_timeout_s=args.idle_timeout,
        max_session_s=args.max_session_seconds,
        max_backlog_s=args.max_backlog_seconds,
        max_send_backlog_bytes=args.max_send_backlog_bytes,
        max_send_backlog_messages=args.max_send_backlog_messages,
        handshake_timeout_s=args.handshake_timeout,
        log_level=args.log_level,
        end_silence_ms=args.end_silence_ms,
        partial_every_ms=args.partial_every_ms,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        owned=args.owned,
    )
