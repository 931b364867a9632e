"""The timeline of one session: what was sent and received, and when.

All times are seconds on one monotonic clock chosen by the I/O adapter (docs/protocol.md §5);
the core never reads a clock itself.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterator
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
class FrameLog:
    """Every frame of a session, as four flat arrays rather than one object per frame.

    A load worker keeps about 30 000 frames a second in live timelines; as objects they
    are what Python's cyclic garbage collector walks in every full collection, pausing
    all sends for tens of milliseconds. Numbers in arrays are not objects to it.
    """

    offsets: array[int] = field(default_factory=lambda: array("q"))
    sizes: array[int] = field(default_factory=lambda: array("q"))
    scheduled: array[float] = field(default_factory=lambda: array("d"))
    sent: array[float] = field(default_factory=lambda: array("d"))

    def append(self, offset: int, size: int, scheduled: float, sent: float) -> None:
        self.offsets.append(offset)
        self.sizes.append(size)
        self.scheduled.append(scheduled)
        self.sent.append(sent)

    def __len__(self) -> int:
        return len(self.offsets)

    def __getitem__(self, i: int) -> FrameRecord:
        return FrameRecord(self.offsets[i], self.sizes[i], self.scheduled[i], self.sent[i])

    def __iter__(self) -> Iterator[FrameRecord]:
        for i in range(len(self.offsets)):
            yield self[i]

    def lateness_ms(self) -> list[float]:
        return [(s - d) * 1000.0 for s, d in zip(self.sent, self.scheduled, strict=True)]


@dataclass
class Timeline:
    connect_started: float | None = None
    connected: float | None = None
    frames: FrameLog = field(default_factory=FrameLog)
    messages: list[MessageRecord] = field(default_factory=list)
    #: Messages that arrived past the session's history bounds (``harness.limits``).
    messages_not_kept: int = 0
    end_of_stream_at: float | None = None
    confirmed_at: float | None = None
    closed_at: float | None = None
    close_code: int | None = None
    close_reason: str = ""

    @property
    def audio_bytes(self) -> int:
        f = self.frames
        return f.offsets[-1] + f.sizes[-1] if len(f) else 0

    def sent_at(self, byte_offset: int) -> float | None:
        """W(a): when the frame holding byte ``byte_offset`` was handed to the socket.

        An offset at or past the end of the audio maps to the last frame (a segment's
        end often coincides with the end of the file).
        """
        f = self.frames
        if not len(f):
            return None
        i = bisect.bisect_right(f.offsets, max(0, byte_offset)) - 1
        return f.sent[max(0, i)]

    def sentences(self) -> list[Sentence]:
        """The server's sentences, split at each new-sentence message (docs/protocol.md §3).

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
