"""Where and how to reach a server under test: URL, key, TLS trust, dialect, timeouts, and
the limits on what a client keeps of its output.

The apikey lives here and nowhere else; ``Target.__repr__`` never shows it, and
``harness.redaction`` keeps it out of every log line, report and error message.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

from harness.errors import (
    ConnectFailed,
    HandshakeRejected,
    HarnessError,
    SessionTimeout,
    UsageError,
)
from harness.limits import DEFAULT_LIMITS, Limits
from harness.protocol.dialect import DEFAULT_DIALECT, Dialect
from harness.protocol.escape import printable
from harness.redaction import REDACTED, redact
from harness.timeouts import DEFAULT_TIMEOUTS, Timeouts


def check_url(url: str) -> str:
    """Validate a ws:// or wss:// URL; raise a one-line ``UsageError`` otherwise."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError as exc:
        raise UsageError(f"invalid URL {url!r}: {exc}") from None
    if parts.scheme not in ("ws", "wss"):
        raise UsageError(f"URL must start with ws:// or wss://, got {url!r}")
    if not parts.hostname:
        raise UsageError(f"URL has no host: {url!r}")
    return url


@dataclass(frozen=True)
class Target:
    url: str
    apikey: str | None = field(default=None, repr=False)
    dialect: Dialect = DEFAULT_DIALECT
    ca_file: str | None = None
    timeouts: Timeouts = DEFAULT_TIMEOUTS
    limits: Limits = DEFAULT_LIMITS

    def __post_init__(self) -> None:
        check_url(self.url)

    def __repr__(self) -> str:
        key = REDACTED if self.apikey else None
        return f"Target(url={self.url!r}, apikey={key!r}, ca_file={self.ca_file!r})"

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "wss" else 80)

    @property
    def netloc(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def secure(self) -> bool:
        return self.url.startswith("wss://")

    def headers(self) -> dict[str, str]:
        return {self.dialect.key_header: self.apikey} if self.apikey is not None else {}

    def ssl_context(self) -> ssl.SSLContext | None:
        """Verifying TLS context (system CAs, or only ``ca_file`` when given)."""
        if not self.secure:
            return None
        try:
            return ssl.create_default_context(cafile=self.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(f"cannot load CA file {self.ca_file}: {exc}") from None


def connect_error(exc: BaseException, target: Target) -> HarnessError | None:
    """The one-line harness error for a failure while opening a session to ``target``.

    Shared by every I/O adapter, so a refused connection reads the same in the CLI, the
    conformance suite and the Locust report. ``None``: not a connection failure. Text that
    comes from the server (an HTTP reason phrase, a header) is escaped (``printable``).
    """
    where = target.netloc
    if isinstance(exc, HarnessError):
        return exc
    if isinstance(exc, InvalidStatus):
        return HandshakeRejected(exc.response.status_code, printable(exc.response.reason_phrase))
    if isinstance(exc, InvalidURI):
        return UsageError(f"invalid URL: {exc}")
    if isinstance(exc, TimeoutError):
        return SessionTimeout("the opening handshake", target.timeouts.open)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ConnectFailed(
            f"TLS failure with {where}: certificate verify failed: {exc.verify_message}"
        )
    if isinstance(exc, ssl.SSLError):
        return ConnectFailed(f"TLS failure with {where}: {exc.reason or exc}")
    if isinstance(exc, socket.gaierror):
        return ConnectFailed(f"unknown host {target.host}: {exc.strerror}")
    if isinstance(exc, ConnectionRefusedError):
        return ConnectFailed(f"connection refused by {where}")
    if isinstance(exc, OSError | InvalidHandshake):
        detail = printable(redact(str(exc), target.apikey))
        return ConnectFailed(f"cannot connect to {where}: {detail}")
    return None
