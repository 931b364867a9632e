"""The harness's exceptions.

Hierarchy::

    HarnessError                  root: everything the harness raises on purpose
    ├── UsageError                the harness was misused (bad option, bad file) -> exit 2
    └── TargetError               the server under test failed us -> exit 1
        ├── ConnectFailed         refused, unknown host, TLS failure, open timeout
        ├── HandshakeRejected     HTTP status other than 101 (``status`` field)
        ├── SessionTimeout        a named wait ran out (``what`` field)
        └── ConnectionDropped     the connection ended before the protocol said so

A *finding* (``harness.protocol.events.Finding``) is not an exception: it is data, the
record of a server breaking a docs/protocol.md rule. The streaming client collects findings
and carries on where it can; the conformance suite turns them into failed checks.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Root of every error the harness raises on purpose."""

    exit_code = 1


class UsageError(HarnessError):
    """The harness was misused: a bad option, a missing or undecodable file."""

    exit_code = 2


class TargetError(HarnessError):
    """The server under test (or the path to it) failed."""

    exit_code = 1


class ConnectFailed(TargetError):
    """TCP, DNS, TLS or the opening handshake did not complete."""


class HandshakeRejected(TargetError):
    """The server answered the WebSocket upgrade with an HTTP status other than 101."""

    def __init__(self, status: int, reason: str = "") -> None:
        self.status = status
        self.reason = reason
        super().__init__(f"handshake rejected with HTTP {status}{' ' + reason if reason else ''}")


class SessionTimeout(TargetError):
    """A named wait (see ``harness.timeouts``) ran out."""

    def __init__(self, what: str, seconds: float) -> None:
        self.what = what
        self.seconds = seconds
        super().__init__(f"timed out after {seconds:g} s waiting for {what}")


class ConnectionDropped(TargetError):
    """The connection closed or broke before the protocol's closing sequence finished."""

    def __init__(self, detail: str, code: int | None = None) -> None:
        self.code = code
        super().__init__(detail)
