"""Where and how to reach a server under test: URL, key, TLS trust, dialect, timeouts.

The apikey lives here and nowhere else; ``redact`` and ``Target.__repr__`` keep it out of
every log line, report and error message.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from harness.errors import UsageError
from harness.protocol.dialect import DEFAULT_DIALECT, Dialect
from harness.timeouts import DEFAULT_TIMEOUTS, Timeouts

REDACTED = "***"


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` replaced."""
    return text.replace(secret, REDACTED) if secret else text


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

    def __post_init__(self) -> None:
        check_url(self.url)

    def __repr__(self) -> str:
        key = REDACTED if self.apikey else None
        return f"Target(url={self.url!r}, apikey={key!r}, ca_file={self.ca_file!r})"

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
