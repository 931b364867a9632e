"""The server messages of docs/protocol.md §3, both ways: encoding and parsing.

One schema for both sides: the reference server builds its messages with ``wire_object``
(and serialises them with ``encode``), and every client parses them with
``parse_server_message``, so what the server sends is by construction what the client
accepts (a round-trip test holds the two together).

``parse_server_message`` never raises: any payload yields events, findings or both. A
message that breaks the schema but still carries a string ``text`` yields its findings
*and* the transcript, so a client shows what the server said while the suite fails it.
"""

from __future__ import annotations

import json

from harness.protocol.dialect import Dialect
from harness.protocol.events import Confirmation, Event, Finding, Transcript, quote

#: The ``state`` the reference server gives a sentence's later messages (partials, final).
STATE_SENTENCE = "Sentence"
#: The ``state`` of an error reply to a bad client text frame.
STATE_ERROR = "Error"
#: The ``state`` of the confirmation.
STATE_CONFIRM = ""


def wire_object(event: Transcript | Confirmation, dialect: Dialect) -> dict[str, object]:
    """The JSON object of a server message for ``event`` (``{"text": ..., "state": ...}``)."""
    if isinstance(event, Confirmation):
        return {"text": dialect.confirmation_text, "state": event.state}
    return {"text": event.text, "state": event.state}


def transcript(text: str, *, new_sentence: bool, dialect: Dialect) -> Transcript:
    """A transcript event: a sentence's first message carries the new-sentence state."""
    state = dialect.new_sentence_state if new_sentence else STATE_SENTENCE
    return Transcript(text=text, state=state, new_sentence=new_sentence)


def error_object(why: str) -> dict[str, object]:
    """An error reply in the message shape: empty ``text``, state ``Error``, the reason."""
    return {"text": "", "state": STATE_ERROR, "error": why}


def encode(obj: dict[str, object]) -> str:
    """A message object as the text frame to send."""
    return json.dumps(obj)


def parse_server_message(payload: str | bytes, dialect: Dialect) -> list[Event]:
    """Events and findings for one server WebSocket message.

    ``payload`` is ``bytes`` for a binary frame and ``str`` for a text frame.
    """
    if isinstance(payload, bytes | bytearray | memoryview):
        raw = bytes(payload)
        return [Finding("3.text-frame", "a text frame", f"a binary frame of {len(raw)} bytes")]
    try:
        obj = json.loads(payload)
    except (json.JSONDecodeError, RecursionError):
        return [Finding("3.json", "a JSON text", quote(payload))]
    if not isinstance(obj, dict):
        return [Finding("3.object", "a JSON object", quote(payload))]

    out: list[Event] = []
    text = obj.get("text")
    state = obj.get("state")
    # The confirmation is recognized by its text alone (the public clients never read its
    # state): what is wrong with its state is NON-STRICT (docs/protocol.md §3).
    confirmation = isinstance(text, str) and text == dialect.confirmation_text
    if "text" not in obj:
        out.append(Finding("3.text", "a field 'text' holding a string", quote(payload)))
    elif not isinstance(text, str):
        out.append(
            Finding("3.text", "'text' to be a string", f"{type(text).__name__}: {quote(payload)}")
        )
    if "state" not in obj:
        out.append(
            Finding(
                "3.state",
                "a field 'state' holding a string",
                quote(payload),
                strict_only=confirmation,
            )
        )
    elif not isinstance(state, str):
        out.append(
            Finding(
                "3.state",
                "'state' to be a string",
                f"{type(state).__name__}: {quote(payload)}",
                strict_only=confirmation,
            )
        )
    elif dialect.allowed_states is not None and state not in dialect.allowed_states:
        allowed = ", ".join(sorted(dialect.allowed_states))
        out.append(
            Finding(
                "3.state-allowed",
                f"state in {{{allowed}}}",
                quote(payload),
                strict_only=confirmation,
            )
        )

    if isinstance(text, str):
        state_str = state if isinstance(state, str) else ""
        if confirmation:
            out.append(Confirmation(state=state_str))
        else:
            out.append(
                Transcript(
                    text=text, state=state_str, new_sentence=state_str == dialect.new_sentence_state
                )
            )
    return out
