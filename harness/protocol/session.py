"""``ClientSession``: the client side of one asrx session, Sans-I/O.

An I/O adapter owns the socket and the clock. It tells the session what it did
(``opened``, ``frame_sent``, ``end_of_stream``) and what arrived (``receive``, ``closed``),
each with the time it happened; the session parses, advances the state table, records
the timeline and collects findings. The same object serves the CLI client, the Locust
user and the conformance suite.
"""

from __future__ import annotations

from harness.protocol.dialect import DEFAULT_DIALECT, Dialect
from harness.protocol.events import Confirmation, Event, Finding, Transcript
from harness.protocol.messages import parse_server_message
from harness.protocol.state import Input, State, transition
from harness.protocol.timeline import MessageRecord, Timeline

#: Close codes PROTOCOL.md §3 allows for error replies, besides 1000.
LEGAL_ERROR_CLOSE_CODES = frozenset({1003, 1007, 1008, 1009, 1011})


class ClientSession:
    def __init__(self, dialect: Dialect = DEFAULT_DIALECT) -> None:
        self.dialect = dialect
        self.state = State.CONNECTING
        self.timeline = Timeline()
        self.findings: list[Finding] = []
        self._next_offset = 0

    # -- client-side happenings ------------------------------------------------------
    def connect_started(self, at: float) -> None:
        self.timeline.connect_started = at

    def opened(self, at: float) -> None:
        """The opening handshake completed (HTTP 101)."""
        self._advance(Input.OPENED)
        self.timeline.connected = at

    def frame_sent(self, size: int, scheduled: float, sent: float) -> None:
        """A binary frame of ``size`` bytes was handed to the socket at ``sent``."""
        self._advance(Input.AUDIO_SENT)
        self.timeline.frames.append(self._next_offset, size, scheduled, sent)
        self._next_offset += size

    def end_of_stream(self, at: float) -> str:
        """Record the end-of-stream and return the text frame to send."""
        self._advance(Input.END_OF_STREAM_SENT)
        self.timeline.end_of_stream_at = at
        return self.dialect.end_of_stream_message()

    # -- server-side happenings ------------------------------------------------------
    def receive(self, payload: str | bytes, at: float) -> list[Event]:
        """Parse one server message; return its events and any findings (never raises)."""
        events = parse_server_message(payload, self.dialect)
        out: list[Event] = []
        for ev in events:
            if isinstance(ev, Transcript):
                rule = self._advance(Input.TRANSCRIPT)
                self.timeline.messages.append(MessageRecord(at, ev.text, ev.state, ev.new_sentence))
                if rule:
                    out.append(self._finding(rule, "no transcript in this state", repr(ev.text)))
            elif isinstance(ev, Confirmation):
                first = self.timeline.confirmed_at is None
                rule = self._advance(Input.CONFIRMATION)
                if first:
                    self.timeline.confirmed_at = at
                    self.timeline.messages.append(
                        MessageRecord(
                            at, self.dialect.confirmation_text, ev.state, False, confirmation=True
                        )
                    )
                if rule:
                    out.append(
                        self._finding(
                            rule, "one confirmation, after end-of-stream", "a confirmation"
                        )
                    )
            else:
                self.findings.append(ev)
            out.append(ev)
        return out

    def closed(self, at: float, code: int | None, reason: str = "") -> list[Finding]:
        """The connection closed (``code`` None: no close frame, the TCP connection dropped)."""
        self._advance(Input.CLOSED)
        if self.timeline.closed_at is not None:
            return []
        self.timeline.closed_at = at
        self.timeline.close_code = code
        self.timeline.close_reason = reason
        found: list[Finding] = []
        if self.timeline.confirmed_at is not None and code != 1000:
            found.append(
                self._finding("4.close-1000", "close code 1000 after the confirmation", _code(code))
            )
        elif self.timeline.confirmed_at is None and code not in LEGAL_ERROR_CLOSE_CODES | {1000}:
            found.append(
                self._finding(
                    "3.error-reply", "a legal close code (1000, 1003, 1007-1009, 1011)", _code(code)
                )
            )
        return found

    # -- derived ---------------------------------------------------------------------
    @property
    def confirmed(self) -> bool:
        return self.timeline.confirmed_at is not None

    def _advance(self, inp: Input) -> str | None:
        self.state, rule = transition(self.state, inp)
        return rule

    def _finding(self, rule: str, expected: str, seen: str) -> Finding:
        f = Finding(rule, expected, seen)
        self.findings.append(f)
        return f


def _code(code: int | None) -> str:
    return "no close frame (connection dropped)" if code is None else f"close code {code}"
