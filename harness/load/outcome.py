"""What became of one session in a load run: completed, or a failure of one kind.

The kind is decided from the typed end of the session (``StreamResult.end``, a
``SessionEnd``) and its findings, never from error text, so a load run names a defect the
way ``asrx stream`` and the conformance suite do (same end, same rule ids). A session that
never opened fails by the type of its error (``HandshakeRejected``, ``ConnectFailed``,
``SessionTimeout``).

Only a session that completed *and* did not fail feeds latency samples
(docs/protocol.md §5); every failed one is counted under its kind, with its message.
"""

from __future__ import annotations

from enum import StrEnum

from harness.errors import ConnectFailed, HandshakeRejected, SessionTimeout, TargetError
from harness.protocol.ending import SessionEnd
from harness.protocol.escape import printable
from harness.protocol.events import Finding
from harness.protocol.result import StreamResult


class FailureKind(StrEnum):
    """How a session failed; Locust's failure messages start with the value."""

    REJECTED = "rejected"
    CONNECT_FAILED = "connect_failed"
    TIMEOUT = "timeout"
    DROPPED = "dropped"
    CLOSED_EARLY = "closed_early"
    PROTOCOL_VIOLATION = "protocol_violation"

    @property
    def meaning(self) -> str:
        return MEANINGS[self]


MEANINGS: dict[FailureKind, str] = {
    FailureKind.REJECTED: "handshake refused (HTTP status), or closed with 1008 before any "
    "transcript (unauthenticated)",
    FailureKind.CONNECT_FAILED: "connection refused, unknown host, TLS failure",
    FailureKind.TIMEOUT: "a bounded wait ran out: opening handshake, sending audio (the "
    "server stopped reading), confirmation, close",
    FailureKind.DROPPED: "the connection ended without a close frame before the confirmation",
    FailureKind.CLOSED_EARLY: "the server closed the connection before confirming (lawful "
    "error closes such as 1011 or 1013 included: the session still failed)",
    FailureKind.PROTOCOL_VIOLATION: "the server broke a §3 or §4 rule (bad message, oversize "
    "or undecodable frame, wrong close code); the message names the rule",
}

#: Ends that break a §3/§4 rule the client recorded as a finding when it happened.
_RULE_ENDS = frozenset(
    {
        SessionEnd.MESSAGE_TOO_BIG,
        SessionEnd.INVALID_UTF8,
        SessionEnd.WEBSOCKET_ERROR,
        SessionEnd.CLOSED_AFTER_CONFIRM,
    }
)
_TIMEOUT_ENDS = frozenset(
    {SessionEnd.SEND_TIMEOUT, SessionEnd.CONFIRM_TIMEOUT, SessionEnd.CLOSE_TIMEOUT}
)
#: Close code of a server that refuses an unauthenticated session after accepting it.
_POLICY_VIOLATION = 1008


class AsrxFailure(Exception):
    """A failed session as Locust shows it: ``<kind>: <what happened>``."""

    def __init__(self, kind: FailureKind, detail: str) -> None:
        self.kind = kind
        self.detail = detail
        super().__init__(f"{kind}: {detail}")

    def __repr__(self) -> str:  # Locust groups and shows failures by repr
        return str(self)


def finding_line(finding: Finding) -> str:
    """A finding in one line, rule first (``finding.seen`` is already escaped)."""
    return f"§{finding.rule}: {finding.seen}"


def classify(result: StreamResult) -> AsrxFailure | None:
    """The failure of a session that opened, or None when it went right.

    A finding that only strict grading counts (a confirmation without ``state``) does not
    fail a session: the load run reports it (``RunStats.non_strict``) and moves on. Nor
    does a server that cuts sentences where the corpus does not (a segmentation mismatch,
    lawful: its sentence latency is undefined, ``RunStats.segmentation_mismatches``).
    """
    end = result.end
    tl = result.session.timeline
    if end is SessionEnd.COMPLETED or end in _RULE_ENDS:
        broken = [f for f in result.findings if not f.strict_only]
        if broken:
            return AsrxFailure(FailureKind.PROTOCOL_VIOLATION, finding_line(broken[0]))
        if end is not SessionEnd.COMPLETED:  # a rule end always has its finding
            return AsrxFailure(FailureKind.PROTOCOL_VIOLATION, end.value)
        return None
    detail = str(result.error) if result.error is not None else end.value
    if end in _TIMEOUT_ENDS:
        return AsrxFailure(FailureKind.TIMEOUT, detail)
    if end is SessionEnd.DROPPED:
        return AsrxFailure(FailureKind.DROPPED, detail)
    if end is SessionEnd.CLOSED:
        if tl.close_code == _POLICY_VIOLATION and not tl.messages:
            return AsrxFailure(FailureKind.REJECTED, f"{detail} (closed as unauthenticated)")
        return AsrxFailure(FailureKind.CLOSED_EARLY, detail)
    # ABANDONED: the client left; callers skip interrupted sessions before classifying.
    return AsrxFailure(FailureKind.DROPPED, f"session abandoned by the client ({detail})")


def refusal(error: TargetError) -> AsrxFailure:
    """The failure of a session that never opened, by the type of its error."""
    detail = printable(str(error))
    if isinstance(error, HandshakeRejected):
        return AsrxFailure(FailureKind.REJECTED, detail)
    if isinstance(error, SessionTimeout):
        return AsrxFailure(FailureKind.TIMEOUT, detail)
    if isinstance(error, ConnectFailed):
        return AsrxFailure(FailureKind.CONNECT_FAILED, detail)
    return AsrxFailure(FailureKind.CONNECT_FAILED, f"{type(error).__name__}: {detail}")
