"""Deliberate protocol defects the server can be told to commit (``--fault NAME``).

Each one breaks exactly one rule of PROTOCOL.md so the conformance suite can be shown to
catch it. The names are a contract: the suite and the kill-matrix test refer to them.
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.errors import UsageError

#: Fault name -> one-line description (``asrx serve --list-faults``).
FAULTS: dict[str, str] = {
    "accept-any-key": "accept a missing or wrong apikey and serve the session (§1)",
    "bad-key-close-late": "answer a bad apikey with 101, then close 1008 only after 3 s (§1)",
    "never-confirm": "send the finals but never 'Confirm Close Connection' (§4)",
    "confirm-never-close": "send the confirmation but never close the WebSocket (§4)",
    "transcript-after-confirm": "send one more transcript after the confirmation (§4)",
    "final-after-confirm": "send the last sentence's final text after the confirmation (§4)",
    "text-not-string": "transcripts carry 'text' as a list of words instead of a string (§3)",
    "state-missing": "transcripts have no 'state' field (§3)",
    "binary-reply": "transcripts are sent as binary frames (§3)",
    "non-json-reply": "transcripts are sent as plain text, not JSON (§3)",
    "text-in-silence": "send non-empty text for every second of silence (§3)",
    "never-new-sentence": "never mark a sentence with state 'NewSentence' (§3)",
    "odd-frame-1011": "close 1011 on an odd-length audio frame, not carry the half sample (§2)",
    "drop-on-malformed-json": "drop the TCP connection (no close) on a malformed text frame (§3)",
    "close-1011": "close with 1011 instead of 1000 after the confirmation (§4)",
    "stall-mid-stream": "after the first transcript, send nothing more and never confirm (§3, §4)",
    "shared-state": "all sessions share one transcript history: text leaks between sessions (§3)",
}

#: Seconds ``bad-key-close-late`` keeps an unauthenticated session open (PROTOCOL allows 2 s).
LATE_CLOSE_S = 3.0
#: Placeholder text ``text-in-silence`` sends, once per this much silence.
PHANTOM_TEXT = "phantom"
PHANTOM_EVERY_MS = 1000
#: The text ``transcript-after-confirm`` sends after the confirmation.
LATE_TEXT = "late transcript"


def parse_faults(values: Iterable[str]) -> frozenset[str]:
    """``--fault`` values (each may be a comma list) -> validated fault names."""
    names = {n.strip() for v in values for n in v.split(",") if n.strip()}
    unknown = sorted(names - FAULTS.keys())
    if unknown:
        raise UsageError(f"unknown fault(s): {', '.join(unknown)} (see 'asrx serve --list-faults')")
    return frozenset(names)


def list_faults() -> str:
    """One line per fault: name, then description."""
    width = max(map(len, FAULTS))
    return "\n".join(f"{name:<{width}}  {desc}" for name, desc in FAULTS.items())
