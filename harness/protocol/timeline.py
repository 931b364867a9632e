"""The timeline of one session: what was sent and received, and when.

All times are seconds on one monotonic clock chosen by the I/O adapter (PROTOCOL.md §5);
the core never reads a clock itself.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """One audio frame: where it sits in the audio and when it was meant to go and went."""

    offset: int  # first byte of the frame within the stream
    size: int
    scheduled: float
    sent: float


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One server message that parsed into a transcript or confirmation."""

    at: float
    text: str
    state: str
    new_sentence: bool
    confirmation: bool = False


@dataclass
class Sentence:
    """One server sentence: its messages from the opening one to the final one."""

    index: int
    messages: list[MessageRecord] = field(default_factory=list)

    @property
    def final_text(self) -> str:
        return self.messages[-1].text if self.messages else ""

    @property
    def final_at(self) -> float:
        return self.messages[-1].at

    @property
    def first_text_at(self) -> float | None:
        """Arrival of the first message with non-empty text."""
        return next((m.at for m in self.messages if m.text), None)


@dataclass
class Timeline:
    connect_started: float | None = None
    connected: float | None = None
    frames: list[FrameRecord] = field(default_factory=list)
    messages: list[MessageRecord] = field(default_factory=list)
    end_of_stream_at: float | None = None
    confirmed_at: float | None = None
    closed_at: float | None = None
    close_code: int | None = None
    close_reason: str = ""

    @property
    def audio_bytes(self) -> int:
        return self.frames[-1].offset + self.frames[-1].size if self.frames else 0

    def sent_at(self, byte_offset: int) -> float | None:
        """W(a): when the frame holding byte ``byte_offset`` was handed to the socket.

        An offset at or past the end of the audio maps to the last frame (a segment's
        end often coincides with the end of the file).
        """
        if not self.frames:
            return None
        offsets = [f.offset for f in self.frames]
        i = bisect.bisect_right(offsets, max(0, byte_offset)) - 1
        return self.frames[max(0, i)].sent

    def sentences(self) -> list[Sentence]:
        """The server's sentences, split at each new-sentence message (PROTOCOL.md §3).

        Messages before the first new-sentence marker form the first sentence; a marker
        on the very first message opens that same sentence. A sentence none of whose
        messages has text is not counted. The confirmation ends the last sentence.
        """
        groups: list[Sentence] = []
        for msg in self.messages:
            if msg.confirmation:
                break
            if not groups or msg.new_sentence:
                groups.append(Sentence(index=len(groups)))
            groups[-1].messages.append(msg)
        kept = [g for g in groups if any(m.text for m in g.messages)]
        for i, g in enumerate(kept):
            g.index = i
        return kept
