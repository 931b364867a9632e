"""Parsing and validation of server messages (PROTOCOL.md §3) into events or findings.

``parse_server_message`` never raises: any payload yields events, findings or both. A
message that breaks the schema but still carries a string ``text`` yields its findings
*and* the transcript, so a client shows what the server said while the suite fails it.
"""

from __future__ import annotations

import json

from harness.protocol.dialect import Dialect
from harness.protocol.events import Confirmation, Event, Finding, Transcript, quote


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
    if "text" not in obj:
        out.append(Finding("3.text", "a field 'text' holding a string", quote(payload)))
    elif not isinstance(text, str):
        out.append(
            Finding("3.text", "'text' to be a string", f"{type(text).__name__}: {quote(payload)}")
        )
    if "state" not in obj:
        out.append(Finding("3.state", "a field 'state' holding a string", quote(payload)))
    elif not isinstance(state, str):
        out.append(
            Finding(
                "3.state", "'state' to be a string", f"{type(state).__name__}: {quote(payload)}"
            )
        )
    elif dialect.allowed_states is not None and state not in dialect.allowed_states:
        allowed = ", ".join(sorted(dialect.allowed_states))
        out.append(Finding("3.state-allowed", f"state in {{{allowed}}}", quote(payload)))

    if isinstance(text, str):
        state_str = state if isinstance(state, str) else ""
        if text == dialect.confirmation_text:
            out.append(Confirmation(state=state_str))
        else:
            out.append(
                Transcript(
                    text=text, state=state_str, new_sentence=state_str == dialect.new_sentence_state
                )
            )
    return out
