"""The protocol rules the harness enforces, each with a stable id.

Findings, conformance checks and reports name a rule by its id, so a reader can look up
what was required: docs/protocol.md has one section per id (``doc_anchor``), with its
meaning, its grading and why. The ids start with the section of that page they belong to.
"""

from __future__ import annotations

RULES: dict[str, str] = {
    "1.handshake": "a handshake with a valid apikey is answered with HTTP 101",
    "1.tls": "over wss:// the handshake succeeds with the server certificate verified",
    "1.auth": "a missing, empty or wrong apikey must not yield a working session",
    "1.auth-strict": "strict: an unauthenticated handshake is answered with HTTP 401 or 403",
    "1.auth-close": "lenient: an accepted unauthenticated session is closed with 1008 or "
    "4000-4999 within 2 s, before any transcript",
    "2.any-frame-size": "audio in frames of any size (odd-length, 2-byte, 64 KiB) is "
    "transcribed and the session closes normally",
    "2.pacing": "audio sent faster than real time, or paused mid-stream, is transcribed and "
    "the session closes normally",
    "3.text-frame": "every server message is a text frame",
    "3.json": "every server message holds valid JSON",
    "3.utf8": "every server text frame holds valid UTF-8",
    "3.object": "every server message is a JSON object",
    "3.text": "every server message has a string field 'text'",
    "3.state": "every transcript message has a string field 'state' "
    "(on the confirmation: NON-STRICT)",
    "3.state-allowed": "the 'state' value is one the profile allows",
    "3.size": "every server message fits the client's maximum message size",
    "3.websocket": "the server's frames follow RFC 6455 (masking, opcodes, fragmentation, "
    "control frames)",
    "3.silence": "pure silence yields no message with non-empty text",
    "3.sentences": "a multi-sentence utterance yields as many sentences as its speech segments",
    "3.no-repeat": "earlier sentences are not repeated in the next sentence's text",
    "3.error-reply": "bad client input gets an error message or a legal close code, "
    "and never takes the server down",
    "4.final-before-confirm": "the last sentence's final text comes before the confirmation",
    "4.confirm": "after end-of-stream the server sends exactly one confirmation message",
    "4.confirm-after-eos": "the confirmation comes only after the client's end-of-stream",
    "4.nothing-after-confirm": "nothing follows the confirmation",
    "4.close-1000": "the server closes with code 1000 after the confirmation",
    "4.close-in-time": "confirmation and close arrive within their bounded waits",
    "4.isolation": "each session gets only its own transcript",
    # Client rules: what `asrx grade-client` checks of a client (docs/protocol.md#client-rules).
    "C.apikey": "the client sends the key it was given in one apikey header",
    "C.audio-format": "the audio arrives as binary frames holding exactly the 16 kHz s16le "
    "mono PCM given",
    "C.frame-size": "audio frames hold whole samples, 10 ms to 1 s each (NON-STRICT)",
    "C.pacing": "audio is sent at real time within the tolerance (faster: NON-STRICT)",
    "C.pacing-gaps": "no pause between audio frames beyond a frame's duration + 250 ms "
    "(NON-STRICT)",
    "C.end-of-stream": "exactly one end-of-stream message, in the expected form, after the "
    "last audio frame, and no other text frame",
    "C.waits-for-confirm": "the client keeps the connection open until the confirmation",
    "C.close-1000": "the client ends a completed session with a close frame of code 1000",
    "C.shows-text": "the client shows every final text the server sent, in order",
    "C.exit-0": "the client exits 0 after a completed session",
    "C.exit-nonzero": "the client exits non-zero when the server failed the session",
    "C.ends-in-time": "the client ends by itself within the scenario's time bound, giving up "
    "on a server that stops answering",
    "C.no-tight-retry": "after a refused handshake the client does not retry in a tight loop",
    "C.tolerant": "extra fields and undocumented states change nothing: the session "
    "completes as a normal one",
}


def describe(rule: str) -> str:
    """One line: ``§id: text``."""
    return f"§{rule}: {RULES.get(rule, 'unknown rule')}"


#: The user documentation of the rules, relative to the repository root.
PROTOCOL_DOC = "docs/protocol.md"


def doc_anchor(rule: str) -> str:
    """Where ``rule`` is explained, e.g. ``docs/protocol.md#rule-3.state``."""
    return f"{PROTOCOL_DOC}#rule-{rule}"
