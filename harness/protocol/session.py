"""``ClientSession``: the client side of one asrx session, Sans-I/O.

``harness.protocol.wire.Wire`` drives it from a WebSocket connection: it tells the session
what the client did (``opened``, ``frame_sent``, ``end_of_stream``) and what arrived
(``receive``, ``closed``), each with the time it happened; the session parses, advances the
state table, records the timeline and collects findings. The same object serves the CLI
client, the Locust user and the conformance suite.

What it keeps is bounded by ``harness.limits.Limits``: the timeline keeps at most
``max_messages_kept`` messages and ``max_history_chars`` of their text, ``findings`` at
most ``max_findings_per_rule`` of each rule; the rest is counted (``timeline.messages_not_kept``,
``findings_not_kept``) and judged all the same.
"""

from __future__ import annotations

from collections import Counter

from harness.limits import DEFAULT_LIMITS, Limits
from harness.protocol.dialect import DEFAULT_DIALECT, Dialect
from harness.protocol.events import Confirmation, Event, Finding, Transcript, quote
from harness.protocol.messages import parse_server_message
from harness.protocol.state import Input, State, transition
from harness.protocol.timeline import MessageRecord, Timeline

#: Close codes docs/protocol.md §3 allows for error replies, besides 1000: going away, unsupported
#: data, invalid data, policy violation, message too big, internal error, try again later.
LEGAL_ERROR_CLOSE_CODES = frozenset({1001, 1003, 1007, 1008, 1009, 1011, 1013})
LEGAL_CLOSE_CODES = LEGAL_ERROR_CLOSE_CODES | {1000}


class ClientSession:
    def __init__(self, dialect: Dialect = DEFAULT_DIALECT, limits: Limits = DEFAULT_LIMITS) -> None:
        self.dialect = dialect
        self.limits = limits
        self.state = State.CONNECTING
        self.timeline = Timeline()
        self.findings: list[Finding] = []
        #: Findings past ``limits.max_findings_per_rule``, judged but not kept.
        self.findings_not_kept = 0
        self._per_rule: Counter[str] = Counter()
        self._history_chars = 0
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
        if self.state is not State.STREAMING:  # the per-frame path skips the table lookup
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
        """Parse one server message; return its events and any findings (never raises).

        ``payload`` is ``str`` for a text frame (already UTF-8 decoded) and ``bytes`` for a
        binary one. Findings past their rule's bound are counted and left out.
        """
        out: list[Event] = []
        for ev in parse_server_message(payload, self.dialect):
            if isinstance(ev, Transcript):
                rule = self._advance(Input.TRANSCRIPT)
                self._keep_message(MessageRecord(at, ev.text, ev.state, ev.new_sentence))
                if rule:
                    self._found(out, Finding(rule, "no transcript in this state", quote(ev.text)))
            elif isinstance(ev, Confirmation):
                first = self.timeline.confirmed_at is None
                rule = self._advance(Input.CONFIRMATION)
                if first:
                    self.timeline.confirmed_at = at
                    # Always kept: it ends the last sentence (Timeline.sentences).
                    self.timeline.messages.append(
                        MessageRecord(
                            at, self.dialect.confirmation_text, ev.state, False, confirmation=True
                        )
                    )
                if rule:
                    expected = "one confirmation, after end-of-stream"
                    self._found(out, Finding(rule, expected, "a confirmation"))
            else:
                self._found(out, ev)
                continue
            out.append(ev)
        return out

    def report(self, finding: Finding) -> list[Event]:
        """A finding made below the message parser (frame size, UTF-8, WebSocket framing)."""
        out: list[Event] = []
        self._found(out, finding)
        return out

    def closed(
        self, at: float, code: int | None, reason: str = "", *, by_client: bool = False
    ) -> list[Event]:
        """The connection closed (``code`` None: no close frame, the TCP connection dropped).

        ``by_client``: the client failed or abandoned the connection itself, so how it ended
        says nothing about the server and is not judged.
        """
        self._advance(Input.CLOSED)
        if self.timeline.closed_at is not None:
            return []
        self.timeline.closed_at = at
        self.timeline.close_code = code
        self.timeline.close_reason = reason
        found: list[Event] = []
        if by_client:
            return found
        if self.timeline.confirmed_at is not None and code != 1000:
            expected = "close code 1000 after the confirmation"
            self._found(found, Finding("4.close-1000", expected, _code(code)))
        elif self.timeline.confirmed_at is None and code not in LEGAL_CLOSE_CODES:
            codes = ", ".join(str(c) for c in sorted(LEGAL_CLOSE_CODES))
            self._found(
                found, Finding("3.error-reply", f"a lawful close code ({codes})", _code(code))
            )
        return found

    def _keep_message(self, record: MessageRecord) -> None:
        size = len(record.text) + len(record.state)
        tl = self.timeline
        if (
            len(tl.messages) >= self.limits.max_messages_kept
            or self._history_chars + size > self.limits.max_history_chars
        ):
            tl.messages_not_kept += 1
            return
        self._history_chars += size
        tl.messages.append(record)

    def _found(self, out: list[Event], finding: Finding) -> None:
        """Keep ``finding`` (and pass it on in ``out``) unless its rule is over its bound."""
        self._per_rule[finding.rule] += 1
        if self._per_rule[finding.rule] > self.limits.max_findings_per_rule:
            self.findings_not_kept += 1
            return
        self.findings.append(finding)
        out.append(finding)

    # -- derived ---------------------------------------------------------------------
    @property
    def confirmed(self) -> bool:
        return self.timeline.confirmed_at is not None

    def _advance(self, inp: Input) -> str | None:
        self.state, rule = transition(self.state, inp)
        return rule


def _code(code: int | None) -> str:
    return "no close frame (connection dropped)" if code is None else f"close code {code}"
