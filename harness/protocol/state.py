"""The client session lifecycle, written as a table (after h11's ``_state.py``).

Theory of operation: a session is CONNECTING until the opening handshake completes, then
STREAMING while audio goes out and transcripts come in. The client's end-of-stream
message moves it to CLOSING; the server's confirmation to CONFIRMED; the close of the
connection, from any state, to CLOSED, which is final.

Inputs caused by the *server* (a transcript, a confirmation, a close) are legal in every
state: where docs/protocol.md forbids them, the table names the rule broken and the session
records a finding instead of failing. Inputs caused by the *client* that the table does
not list are bugs in the I/O adapter and raise ``LocalProtocolError``.
"""

from __future__ import annotations

from enum import Enum


class State(Enum):
    CONNECTING = "connecting"
    STREAMING = "streaming"
    CLOSING = "closing"
    CONFIRMED = "confirmed"
    CLOSED = "closed"


class Input(Enum):
    # caused by the client
    OPENED = "opened"
    AUDIO_SENT = "audio_sent"
    END_OF_STREAM_SENT = "end_of_stream_sent"
    # caused by the server (or the network)
    TRANSCRIPT = "transcript"
    CONFIRMATION = "confirmation"
    CLOSED = "closed"


SERVER_INPUTS = frozenset({Input.TRANSCRIPT, Input.CONFIRMATION, Input.CLOSED})


class LocalProtocolError(Exception):
    """The I/O adapter drove the session through a transition the table does not have."""


#: (state, input) -> (next state, rule broken or None)
TRANSITIONS: dict[tuple[State, Input], tuple[State, str | None]] = {
    (State.CONNECTING, Input.OPENED): (State.STREAMING, None),
    (State.CONNECTING, Input.CLOSED): (State.CLOSED, None),
    (State.CONNECTING, Input.TRANSCRIPT): (State.CONNECTING, "1.auth"),
    (State.CONNECTING, Input.CONFIRMATION): (State.CONNECTING, "4.confirm-after-eos"),
    (State.STREAMING, Input.AUDIO_SENT): (State.STREAMING, None),
    (State.STREAMING, Input.TRANSCRIPT): (State.STREAMING, None),
    (State.STREAMING, Input.END_OF_STREAM_SENT): (State.CLOSING, None),
    (State.STREAMING, Input.CONFIRMATION): (State.CONFIRMED, "4.confirm-after-eos"),
    (State.STREAMING, Input.CLOSED): (State.CLOSED, None),
    (State.CLOSING, Input.TRANSCRIPT): (State.CLOSING, None),
    (State.CLOSING, Input.CONFIRMATION): (State.CONFIRMED, None),
    (State.CLOSING, Input.CLOSED): (State.CLOSED, None),
    (State.CONFIRMED, Input.TRANSCRIPT): (State.CONFIRMED, "4.nothing-after-confirm"),
    (State.CONFIRMED, Input.CONFIRMATION): (State.CONFIRMED, "4.confirm"),
    (State.CONFIRMED, Input.CLOSED): (State.CLOSED, None),
    # A transport may still hand over a frame it had buffered when the close arrived.
    (State.CLOSED, Input.TRANSCRIPT): (State.CLOSED, "4.nothing-after-confirm"),
    (State.CLOSED, Input.CONFIRMATION): (State.CLOSED, "4.confirm"),
    (State.CLOSED, Input.CLOSED): (State.CLOSED, None),
}


def transition(state: State, event: Input) -> tuple[State, str | None]:
    """The next state and the rule broken, if any; raise for an illegal client input."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise LocalProtocolError(f"{event.value} is not allowed in state {state.value}") from None
