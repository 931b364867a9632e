"""How a session ends (docs/protocol.md §4): the waits, the end kinds, and what each one means.

Theory of operation: after its audio an adapter sends the end-of-stream and then waits, each
wait bounded by ``harness.timeouts``, for what ``Wire.next_wait`` names: the confirmation
(``Wait.CONFIRM``), then the server's close (``Wait.CLOSE``). A wait that runs out, the
server closing or dropping the connection early, or the client failing the connection over
a bad frame, ends the session. ``decide_end`` turns those facts into one ``SessionEnd``;
``end_findings`` says which rules each end breaks, ``end_error`` gives its one-line error.
No adapter decides any of this, so the CLI, the suite and a load run judge the same server
the same way.
"""

from __future__ import annotations

from enum import Enum

from harness.errors import ConnectionDropped, SessionTimeout, TargetError
from harness.protocol.escape import printable
from harness.protocol.events import Finding, quote
from harness.protocol.session import ClientSession
from harness.timeouts import Timeouts


class Wait(Enum):
    """A bounded wait of the client, named by its field in ``Timeouts``."""

    SEND = ("send", "sending audio")
    CONFIRM = ("confirm", "the close confirmation")
    CLOSE = ("close", "the server to close the connection after confirming")

    def __init__(self, field: str, what: str) -> None:
        self.field = field
        self.what = what

    def seconds(self, timeouts: Timeouts) -> float:
        return float(getattr(timeouts, self.field))


class SessionEnd(Enum):
    """How a session that opened ended; exactly one per session."""

    #: Confirmed, then closed with 1000: the only end whose latencies count (docs/protocol.md §5).
    COMPLETED = "completed"
    #: Confirmed, then closed with another code or dropped (finding ``4.close-1000``).
    CLOSED_AFTER_CONFIRM = "closed-after-confirm"
    #: The server closed (with a close frame) before confirming.
    CLOSED = "closed"
    #: The connection ended without a close frame before the confirmation.
    DROPPED = "dropped"
    #: A frame could not be handed to the socket in time: the server stopped reading.
    SEND_TIMEOUT = "send-timeout"
    #: No confirmation within ``Timeouts.confirm`` of the end-of-stream.
    CONFIRM_TIMEOUT = "confirm-timeout"
    #: No close within ``Timeouts.close`` of the confirmation.
    CLOSE_TIMEOUT = "close-timeout"
    #: A server message over ``Limits.max_message_bytes``: we closed with 1009 (``3.size``).
    MESSAGE_TOO_BIG = "message-too-big"
    #: Invalid UTF-8 in a text frame (or a close reason): we closed with 1007 (``3.utf8``).
    INVALID_UTF8 = "invalid-utf8"
    #: A frame that breaks RFC 6455: we closed with 1002 (``3.websocket``).
    WEBSOCKET_ERROR = "websocket-error"
    #: The client left before the session ended (a probe's abrupt disconnect).
    ABANDONED = "abandoned"


_TIMEOUT_ENDS = {
    Wait.SEND: SessionEnd.SEND_TIMEOUT,
    Wait.CONFIRM: SessionEnd.CONFIRM_TIMEOUT,
    Wait.CLOSE: SessionEnd.CLOSE_TIMEOUT,
}

#: The close code websockets sends when it fails a connection over a server frame, and
#: what that failure is here (the rule is recorded when it happens).
CLIENT_FAILURES: dict[int, tuple[SessionEnd, str]] = {
    1009: (SessionEnd.MESSAGE_TOO_BIG, "3.size"),
    1007: (SessionEnd.INVALID_UTF8, "3.utf8"),
    1002: (SessionEnd.WEBSOCKET_ERROR, "3.websocket"),
}


def decide_end(
    *,
    failure: SessionEnd | None,
    timed_out: Wait | None,
    confirmed: bool,
    closed_by_server: bool,
    close_code: int | None,
) -> SessionEnd:
    """The one end of a session, from what happened (first matching line wins)."""
    if failure is not None:
        return failure
    if timed_out is not None:
        return _TIMEOUT_ENDS[timed_out]
    if closed_by_server:
        if confirmed:
            return SessionEnd.COMPLETED if close_code == 1000 else SessionEnd.CLOSED_AFTER_CONFIRM
        return SessionEnd.CLOSED if close_code is not None else SessionEnd.DROPPED
    return SessionEnd.ABANDONED


def end_error(end: SessionEnd, session: ClientSession, timeouts: Timeouts) -> TargetError | None:
    """The one-line error of an end the findings alone do not tell (None: nothing to add)."""
    for wait, kind in _TIMEOUT_ENDS.items():
        if end is kind:
            return SessionTimeout(wait.what, wait.seconds(timeouts))
    tl = session.timeline
    when = "while audio was being sent" if tl.end_of_stream_at is None else "without confirming"
    if end is SessionEnd.DROPPED:
        return ConnectionDropped(f"server dropped the connection {when} (no close frame)")
    if end is SessionEnd.CLOSED:
        reason = f": {printable(tl.close_reason)}" if tl.close_reason else ""
        return ConnectionDropped(
            f"server closed the connection {when} (close code {tl.close_code}{reason})",
            tl.close_code,
        )
    return None


_CONFIRM = "one confirmation after end-of-stream"


def end_findings(end: SessionEnd, error: TargetError | None) -> list[Finding]:
    """The rules an end breaks (those found on a message are recorded by the session)."""
    if end in (SessionEnd.CLOSED, SessionEnd.DROPPED):
        return [Finding("4.confirm", _CONFIRM, str(error))]
    if not isinstance(error, SessionTimeout):
        return []
    s = error.seconds
    if end is SessionEnd.CONFIRM_TIMEOUT:
        seen = f"no confirmation within {s:g} s of end-of-stream"
        return [
            Finding("4.confirm", _CONFIRM, seen),
            Finding("4.close-in-time", f"confirmation within {s:g} s", seen),
        ]
    if end is SessionEnd.CLOSE_TIMEOUT:
        return [Finding("4.close-in-time", f"close within {s:g} s of the confirmation", str(error))]
    if end is SessionEnd.SEND_TIMEOUT:
        return [Finding("3.error-reply", "the server to keep reading audio", str(error))]
    return []


def late_final_findings(session: ClientSession) -> list[Finding]:
    """A transcript after the confirmation that is not a new sentence continues the last
    sentence (docs/protocol.md §3): that sentence's final text came after the confirmation."""
    msgs = session.timeline.messages
    idx = next((i for i, m in enumerate(msgs) if m.confirmation), None)
    if idx is None:
        return []
    late = [m for m in msgs[idx + 1 :] if not m.confirmation and not m.new_sentence]
    if not late:
        return []
    return [
        Finding(
            "4.final-before-confirm",
            "the last sentence's final text before the confirmation",
            f"{len(late)} message(s) of that sentence after it, first: {quote(late[0].text)}",
        )
    ]
