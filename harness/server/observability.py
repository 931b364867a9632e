"""Prometheus metrics (one registry per server) and structured JSON log lines on stderr.

Log lines never carry an API key (``harness.redaction``): the server never passes one to a
log call; at DEBUG, where websockets logs every handshake header, the key header's value is
masked; and any accepted key standing as a token anywhere in a line is masked (an
exception may quote a malformed header).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from harness.redaction import RedactingFilter, Redactor

__all__ = ["CONTENT_TYPE_LATEST", "ServerMetrics", "log", "setup_logging"]

LOGGER_NAME = "asrx.server"
_LAG_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)


class ServerMetrics:
    """The server's metrics, in a registry of its own (several servers may share a process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.active_sessions = Gauge("asrx_active_sessions", "Open WebSocket sessions", registry=r)
        self.session_slots = Gauge(
            "asrx_session_slots",
            "Session slots in use: open sessions and accepted handshakes (--max-sessions)",
            registry=r,
        )
        self.send_backlog_exceeded = Counter(
            "asrx_send_backlog_exceeded",
            "Sessions closed 1008 because the client did not read what it was sent",
            registry=r,
        )
        self.sessions = Counter(
            "asrx_sessions", "Sessions ended, by close code", ["code"], registry=r
        )
        self.audio_seconds = Counter("asrx_audio_seconds", "Audio received (seconds)", registry=r)
        self.decoded_seconds = Counter(
            "asrx_decoded_audio_seconds", "Audio the engine has decoded (seconds)", registry=r
        )
        self.decode_seconds = Counter(
            "asrx_decode_seconds", "Engine compute time spent decoding (seconds)", registry=r
        )
        self.rtf = Gauge(
            "asrx_decode_real_time_factor",
            "Decode compute time / decoded audio time, since start",
            registry=r,
        )
        self.lag = Histogram(
            "asrx_decoder_lag_seconds",
            "Arrival of audio to the decoder's result for it (seconds)",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.results_late = Counter(
            "asrx_results_late",
            "Results decoded after their --result-latency-ms release time (sent late)",
            registry=r,
        )
        self.refused = Counter(
            "asrx_handshakes_refused", "Handshakes refused, by reason", ["reason"], registry=r
        )
        self.messages = Counter(
            "asrx_messages_sent", "Server messages sent, by kind", ["kind"], registry=r
        )
        for reason in ("missing_key", "bad_key", "not_found", "overloaded"):
            self.refused.labels(reason)
        # The totals behind the real-time factor (a counter's value is not public API).
        self._decoded_s = 0.0
        self._compute_s = 0.0

    def observe_decode(self, audio_s: float, compute_s: float, lag_s: float) -> None:
        self.decoded_seconds.inc(audio_s)
        self.decode_seconds.inc(compute_s)
        self._decoded_s += audio_s
        self._compute_s += compute_s
        if self._decoded_s > 0:
            self.rtf.set(self._compute_s / self._decoded_s)
        self.lag.observe(max(0.0, lag_s))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _JsonFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def _mask(self, value: Any) -> Any:
        return self._redactor.text(value) if isinstance(value, str) else value

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps({k: self._mask(v) for k, v in line.items()}, default=str)


def setup_logging(
    level: str = "INFO", *, secrets: Iterable[str] = (), key_header: str = "apikey"
) -> None:
    """JSON lines on stderr from ``level``; ``secrets`` (the accepted keys) never shown."""
    redactor = Redactor(secrets, key_headers=(key_header,))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter(redactor))
    handler.addFilter(RedactingFilter(redactor))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # websockets logs every refused handshake and each error at INFO/ERROR: below DEBUG,
    # keep only its warnings.
    logging.getLogger("websockets").setLevel(level if level == "DEBUG" else logging.WARNING)


def log(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """One structured line: ``{"ts", "level", "msg": event, ...fields}``."""
    logging.getLogger(LOGGER_NAME).log(level, event, extra={"fields": fields})
