"""Deliberate protocol defects the server can be told to commit (``--fault NAME``).

Each one breaks exactly one rule of docs/protocol.md so the conformance suite can be shown to
catch it. The names are a contract: the suite and the kill-matrix test refer to them.

The session logic never looks at fault names. ``FaultPolicy.from_names`` turns them into a
``FaultPolicy``: one field per decision a fault can change, consulted at its named point
(the handshake, the reader, the making of a transcript, the closing sequence). Its defaults
are the reference behaviour, so adding a fault is one line in ``FAULTS``, one in
``_EFFECTS`` and, when it changes a new decision, one field.

*Hazards* (``--hazard NAME``) go through the same policy but are not defects: a lawful
server may behave so (fail a session with an error close, add fields and states no client
has seen), and a client must survive it. ``asrx grade-client`` uses them; the conformance
suite's kill matrix, which must catch every fault, does not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace

from harness.errors import UsageError
from harness.protocol.messages import STATE_SENTENCE, encode

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

#: Hazard name -> one-line description (``asrx serve --list-hazards``).
HAZARDS: dict[str, str] = {
    "error-close-mid-stream": "after the first transcript, close 1011 (internal error): a "
    "server failing one session, as servers sometimes do (§3 lawful close)",
    "unexpected-fields": "transcripts carry extra fields (numbers, lists, objects, null, "
    "non-ASCII) and undocumented states 'Partial' and 'Final' (§3 allows both)",
}

#: Seconds ``bad-key-close-late`` keeps an unauthenticated session open (PROTOCOL allows 2 s).
LATE_CLOSE_S = 3.0
#: Placeholder text ``text-in-silence`` sends, once per this much silence.
PHANTOM_TEXT = "phantom"
PHANTOM_EVERY_MS = 1000
#: The text ``transcript-after-confirm`` sends after the confirmation.
LATE_TEXT = "late transcript"
#: The close ``error-close-mid-stream`` sends.
ERROR_CLOSE_CODE = 1011
ERROR_CLOSE_REASON = "internal error"
#: What ``unexpected-fields`` adds to every transcript, and the states it gives a sentence's
#: later messages instead of ``Sentence``.
EXTRA_FIELDS: dict[str, object] = {
    "confidence": 0.87,
    "alternatives": [{"text": "", "confidence": 0.1}],
    "meta": {"engine": "reference", "segment": {"start_ms": 0, "flags": [True, None, 3]}},
    "lang": None,
    "note": "d\u00e9j\u00e0 vu \u2014 \u6587\u5b57",
}
PARTIAL_STATE = "Partial"
FINAL_STATE = "Final"
#: Final texts ``shared-state`` keeps for every session (bounded, even when faulty).
SHARED_HISTORY_KEPT = 50


@dataclass(frozen=True)
class FaultPolicy:
    """Every decision a fault can change; the defaults are the reference behaviour."""

    # -- the handshake (app.py)
    #: Serve sessions whatever key they present.
    accept_any_key: bool = False
    #: Answer a bad key with 101 and close 1008 only after ``LATE_CLOSE_S``.
    close_bad_key_late: bool = False
    # -- the reader (session.py)
    #: Close 1011 on an odd-length audio frame instead of carrying the half sample.
    close_on_odd_frame: bool = False
    #: Drop the TCP connection on a malformed text frame instead of an error reply.
    drop_on_malformed_text: bool = False
    #: Send ``PHANTOM_TEXT`` for every ``PHANTOM_EVERY_MS`` of silence.
    text_in_silence: bool = False
    # -- the making of a transcript (replies.py)
    #: Give a sentence's first message the new-sentence state.
    mark_new_sentence: bool = True
    #: One transcript history for all sessions, shown before each session's own text.
    share_history: bool = False
    #: Send nothing more after the first transcript.
    stall_after_first_transcript: bool = False
    text_as_word_list: bool = False
    omit_state: bool = False
    plain_text_reply: bool = False
    binary_reply: bool = False
    # -- the closing sequence (replies.py)
    send_confirmation: bool = True
    #: Hold each sentence's final back until the next sentence or after the confirmation.
    final_after_confirm: bool = False
    transcript_after_confirm: bool = False
    close_after_confirm: bool = True
    close_code: int = 1000
    # -- hazards: lawful behaviours that are hard on clients
    #: Close ``ERROR_CLOSE_CODE`` right after the first transcript.
    error_close_after_first_transcript: bool = False
    #: Transcripts carry ``EXTRA_FIELDS`` and the states ``PARTIAL_STATE``/``FINAL_STATE``.
    unexpected_fields: bool = False

    @classmethod
    def from_names(cls, names: Iterable[str]) -> FaultPolicy:
        reference = cls()
        changes = {
            f.name: getattr(_EFFECTS[name], f.name)
            for name in names
            for f in fields(cls)
            if getattr(_EFFECTS[name], f.name) != getattr(reference, f.name)
        }
        return replace(reference, **changes)

    def encode_transcript(self, message: Mapping[str, object]) -> str | bytes:
        """A transcript message as the frame to send, with any §3 encoding defect."""
        obj = dict(message)
        if self.unexpected_fields:
            if obj.get("state") == STATE_SENTENCE:
                obj["state"] = FINAL_STATE if obj.get("final") else PARTIAL_STATE
            obj.update(EXTRA_FIELDS)
        if self.text_as_word_list:
            obj["text"] = str(obj["text"]).split()
        if self.omit_state:
            del obj["state"]
        if self.plain_text_reply:
            return f"{obj.get('state', '')}: {obj['text']}"
        payload = encode(obj)
        return payload.encode() if self.binary_reply else payload


#: Fault name -> the policy that differs from the reference in exactly that fault's way.
_EFFECTS: dict[str, FaultPolicy] = {
    "accept-any-key": FaultPolicy(accept_any_key=True),
    "bad-key-close-late": FaultPolicy(close_bad_key_late=True),
    "never-confirm": FaultPolicy(send_confirmation=False),
    "confirm-never-close": FaultPolicy(close_after_confirm=False),
    "transcript-after-confirm": FaultPolicy(transcript_after_confirm=True),
    "final-after-confirm": FaultPolicy(final_after_confirm=True),
    "text-not-string": FaultPolicy(text_as_word_list=True),
    "state-missing": FaultPolicy(omit_state=True),
    "binary-reply": FaultPolicy(binary_reply=True),
    "non-json-reply": FaultPolicy(plain_text_reply=True),
    "text-in-silence": FaultPolicy(text_in_silence=True),
    "never-new-sentence": FaultPolicy(mark_new_sentence=False),
    "odd-frame-1011": FaultPolicy(close_on_odd_frame=True),
    "drop-on-malformed-json": FaultPolicy(drop_on_malformed_text=True),
    "close-1011": FaultPolicy(close_code=1011),
    "stall-mid-stream": FaultPolicy(stall_after_first_transcript=True),
    "shared-state": FaultPolicy(share_history=True),
    "error-close-mid-stream": FaultPolicy(error_close_after_first_transcript=True),
    "unexpected-fields": FaultPolicy(unexpected_fields=True),
}


def _names(values: Iterable[str], known: Mapping[str, str], what: str) -> frozenset[str]:
    names = {n.strip() for v in values for n in v.split(",") if n.strip()}
    unknown = sorted(names - known.keys())
    if unknown:
        raise UsageError(
            f"unknown {what}(s): {', '.join(unknown)} (see 'asrx serve --list-{what}s')"
        )
    return frozenset(names)


def parse_faults(values: Iterable[str]) -> frozenset[str]:
    """``--fault`` values (each may be a comma list) -> validated fault names."""
    return _names(values, FAULTS, "fault")


def parse_hazards(values: Iterable[str]) -> frozenset[str]:
    """``--hazard`` values (each may be a comma list) -> validated hazard names."""
    return _names(values, HAZARDS, "hazard")


def _listing(table: Mapping[str, str]) -> str:
    width = max(map(len, table))
    return "\n".join(f"{name:<{width}}  {desc}" for name, desc in table.items())


def list_faults() -> str:
    """One line per fault: name, then description."""
    return _listing(FAULTS)


def list_hazards() -> str:
    """One line per hazard: name, then description."""
    return _listing(HAZARDS)
