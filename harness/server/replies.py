"""What one session says: transcripts, the confirmation, the close, error replies.

Every message is built with the protocol core's encoder (``harness.protocol.messages``),
the same schema the clients parse. The first message of every sentence has the dialect's
new-sentence state, later ones ``Sentence``; a sentence's final message also carries
``"final": true`` (an extra key the schema allows). The fault policy is consulted at the
points where a fault changes what is said.

Error replies to bad client text frames are rate-limited per session (a token bucket of
``ERROR_REPLY_BURST``, refilled at ``ERROR_REPLIES_PER_S``): a client that floods bad frames
gets a bounded number of replies, and the next reply it gets counts those not answered.
"""

from __future__ import annotations

from harness.protocol.dialect import Dialect
from harness.protocol.events import Confirmation
from harness.protocol.messages import (
    STATE_CONFIRM,
    encode,
    error_object,
    transcript,
    wire_object,
)
from harness.server import faults as F
from harness.server.faults import FaultPolicy
from harness.server.outbox import Outbox

#: Error replies a session may get at once ...
ERROR_REPLY_BURST = 10
#: ... and how fast that allowance comes back.
ERROR_REPLIES_PER_S = 1.0


class ErrorBudget:
    """A token bucket: may this error be answered now?"""

    def __init__(self, now: float) -> None:
        self._tokens = float(ERROR_REPLY_BURST)
        self._at = now
        #: Errors not answered since the last one that was.
        self.unanswered = 0

    def take(self, now: float) -> bool:
        self._tokens = min(
            float(ERROR_REPLY_BURST), self._tokens + (now - self._at) * ERROR_REPLIES_PER_S
        )
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        self.unanswered += 1
        return False


class Replies:
    def __init__(
        self,
        outbox: Outbox,
        dialect: Dialect,
        faults: FaultPolicy,
        shared_history: list[str],
        now: float,
    ) -> None:
        self.outbox = outbox
        self.dialect = dialect
        self.faults = faults
        self.shared_history = shared_history
        self.errors = ErrorBudget(now)
        #: Sentences that got at least one message.
        self.sentences = 0
        self._sentence_messages = 0
        self._last_text = ""
        self._held_final: str | bytes | None = None
        self._stalled = False

    # -- transcripts ----------------------------------------------------------------------

    def begin_sentence(self) -> None:
        self._flush_held()
        self._sentence_messages, self._last_text = 0, ""

    def partial(self, text: str) -> None:
        """The current hypothesis, when it says something new."""
        if text and text != self._last_text:
            self._transcript(text, final=False)

    def final(self, text: str) -> None:
        """The sentence's final text (nothing for a sentence that never said anything)."""
        if self._sentence_messages or text:
            self._transcript(text, final=True)

    def phantom(self) -> None:
        """``text-in-silence``: text where there was no speech."""
        event = transcript(F.PHANTOM_TEXT, new_sentence=False, dialect=self.dialect)
        self._send_transcript(wire_object(event, self.dialect))

    def _transcript(self, text: str, final: bool) -> None:
        self._last_text = text
        if self.faults.share_history:
            history = self.shared_history
            shown = " ".join([*history, text]).strip()
            if final:
                history.append(text)
                del history[: -F.SHARED_HISTORY_KEPT]
            text = shown
        first = self._sentence_messages == 0
        self._sentence_messages += 1
        if first:
            self.sentences += 1
        new = first and self.faults.mark_new_sentence
        message = wire_object(
            transcript(text, new_sentence=new, dialect=self.dialect), self.dialect
        )
        if final:
            message["final"] = True
            if self.faults.final_after_confirm:
                self._flush_held()
                self._held_final = self.faults.encode_transcript(message)
                return
        self._send_transcript(message)

    def _send_transcript(self, message: dict[str, object]) -> None:
        if self._stalled:
            return
        self.outbox.send(self.faults.encode_transcript(message), "transcript")
        if self.faults.stall_after_first_transcript:
            self._stalled = True
        if self.faults.error_close_after_first_transcript:
            self.outbox.close(F.ERROR_CLOSE_CODE, F.ERROR_CLOSE_REASON)

    def _flush_held(self) -> None:
        if self._held_final is not None:
            if not self._stalled:
                self.outbox.send(self._held_final, "transcript")
            self._held_final = None

    # -- the closing sequence -----------------------------------------------------------

    def finish(self) -> None:
        """After end-of-stream and the last final: confirm, then close."""
        if self._stalled or not self.faults.send_confirmation:
            return  # the reader goes on until the client leaves or the idle timeout
        confirmation = wire_object(Confirmation(state=STATE_CONFIRM), self.dialect)
        self.outbox.send(encode(confirmation), "confirmation")
        self._flush_held()  # final-after-confirm: the last final now comes after it
        if self.faults.transcript_after_confirm:
            late = transcript(F.LATE_TEXT, new_sentence=False, dialect=self.dialect)
            self.outbox.send(encode(wire_object(late, self.dialect)), "transcript")
        if self.faults.close_after_confirm:
            self.outbox.close(self.faults.close_code)

    # -- errors ---------------------------------------------------------------------------

    def error(self, why: str, now: float) -> None:
        """An error reply to a bad client text frame, unless the budget is spent."""
        unanswered = self.errors.unanswered
        if not self.errors.take(now):
            return
        self.errors.unanswered = 0
        if unanswered:
            why = f"{why} ({unanswered} earlier bad frames not answered)"
        self.outbox.send(encode(error_object(why)), "error")
