"""Reference words and how soon each spoken word reached the user.

Text is compared after one normalization, shared with the accuracy scoring
(``harness.protocol.text``).

Word latencies (docs/protocol.md §5), per reference word j with its end ``end_j`` in the audio:

- **UPL** (user-perceived latency): arrival of the first message whose hypothesis holds
  word j, minus ``W(end_j)``;
- **finalization latency**: arrival of the message after which word j is held by every
  later message, minus ``W(end_j)``.

The hypothesis at each message is the running transcript: the final text of every closed
sentence, then the current sentence's text, so the figures do not depend on how the server
cuts sentences. It is aligned to the reference by edit distance with the unspoken tail of
the reference free (a partial hypothesis covers a prefix of what will be said); a word is
held when every one of its units (its word, or its characters in a CER language, which is
how the reference's own word boundaries carry over to scripts without spaces) is aligned
to an equal hypothesis unit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from harness.protocol.audio import BYTES_PER_MS, ms_to_bytes
from harness.protocol.text import units
from harness.protocol.timeline import MessageRecord, Timeline

#: What became of a reference word in a session.
WordStatus = Literal["final", "lost", "missed", "untimed", "unsent"]


@dataclass(frozen=True)
class ReferenceWord:
    """One word of the reference as written, with where it lies in the audio (ms).

    ``start_ms`` and ``end_ms`` are both None for a word no timing is known for (an
    aligner could not place it): it is compared but never timed.
    """

    text: str
    start_ms: float | None = None
    end_ms: float | None = None


def hypothesis_matches(ref: Sequence[str], hyp: Sequence[str]) -> list[bool]:
    """Which reference units are aligned to an equal unit of ``hyp``.

    Edit distance (substitution, insertion, deletion cost 1) where ``hyp`` may stop
    anywhere in ``ref``: deleting the tail of the reference after the hypothesis is free.
    Among equal costs the alignment ending earliest in the reference wins, and the trace
    back prefers a match, then a substitution, a deletion, an insertion.
    """
    return _Aligner(ref).matches(hyp)


class _Aligner:
    """The alignment of successive hypotheses to one reference, reusing shared prefixes.

    Each message's hypothesis usually extends the previous one, and the table's rows
    depend only on the hypothesis prefix, so only the rows of the changed tail are redone.
    """

    def __init__(self, ref: Sequence[str]) -> None:
        self._ids: dict[str, int] = {}
        self._units = list(ref)
        self._vocabulary = frozenset(ref)
        self._ref = np.array([self._id(u) for u in ref], dtype=np.int64)
        self._cols = np.arange(len(ref) + 1, dtype=np.int64)
        self._hyp: list[str] = []
        self._ids_of_hyp: list[int] = []
        self._rows: list[np.ndarray] = [self._cols.copy()]

    def _id(self, unit: str) -> int:
        return self._ids.setdefault(unit, len(self._ids))

    def matches(self, hyp: Sequence[str]) -> list[bool]:
        n, m = len(self._units), len(hyp)
        # Two answers need no table. The rows are left as they are: they depend only on the
        # hypothesis they were built for, and a later hypothesis reuses what it shares.
        if m <= n and list(hyp) == self._units[:m]:
            # A prefix of the reference (a server that heard right so far): the one
            # alignment of cost 0.
            return [True] * m + [False] * (n - m)
        if self._vocabulary.isdisjoint(hyp):  # no unit of the reference: nothing matches
            return [False] * n
        return self.table_matches(hyp)

    def table_matches(self, hyp: Sequence[str]) -> list[bool]:
        """``matches`` by the edit-distance table, always."""
        keep, common = 0, min(len(hyp), len(self._hyp))
        while keep < common and hyp[keep] == self._hyp[keep]:
            keep += 1
        del self._rows[keep + 1 :], self._ids_of_hyp[keep:]
        for i in range(keep, len(hyp)):
            unit = self._id(hyp[i])
            self._ids_of_hyp.append(unit)
            self._rows.append(self._next_row(self._rows[-1], unit, i + 1))
        self._hyp = list(hyp)
        return self._trace(self._ids_of_hyp)

    def _next_row(self, prev: np.ndarray, unit: int, i: int) -> np.ndarray:
        best = np.empty_like(prev)
        best[0] = i
        # Substitution or match from the diagonal, or an inserted hypothesis unit from above.
        best[1:] = np.minimum(prev[:-1] + (self._ref != unit), prev[1:] + 1)
        # Deleted reference units run along the row: a running minimum of cost - column.
        return np.minimum.accumulate(best - self._cols) + self._cols

    def _trace(self, ids: list[int]) -> list[bool]:
        matched = [False] * len(self._ref)
        rows, ref = self._rows, self._ref
        i, j = len(ids), int(np.argmin(rows[-1]))
        while i > 0 and j > 0:
            here = rows[i][j]
            same = ref[j - 1] == ids[i - 1]
            if rows[i - 1][j - 1] + (not same) == here:
                matched[j - 1] = bool(same)
                i, j = i - 1, j - 1
            elif rows[i][j - 1] + 1 == here:
                j -= 1
            else:
                i -= 1
        return matched


@dataclass(frozen=True)
class WordLatency:
    """One reference word's fate in a session; latencies in ms, None where undefined."""

    index: int
    text: str
    end_ms: float | None
    status: WordStatus
    #: First arrival holding the word minus W(end): the UPL.
    upl_ms: float | None
    #: Arrival after which the word stays held, minus W(end).
    finalization_ms: float | None
    #: The same two moments as arrival times on the timeline's clock (seconds), for
    #: pictures; set whenever the word was held, timed or not.
    first_at: float | None = None
    final_at: float | None = None
    #: How many times the word was held and then not held by a later message.
    revisions: int = 0


@dataclass
class WordLatencies:
    """Every reference word of one session. ``status`` of each word:

    ``final`` held by the last message (timed); ``lost`` held at some point, not at the end
    (has a UPL, no finalization); ``missed`` never held; ``untimed`` no timing in the
    manifest; ``unsent`` its end lies past the audio this session sent.
    """

    words: list[WordLatency] = field(default_factory=list)

    @property
    def upl_ms(self) -> list[float]:
        return [w.upl_ms for w in self.words if w.upl_ms is not None]

    @property
    def finalization_ms(self) -> list[float]:
        return [w.finalization_ms for w in self.words if w.finalization_ms is not None]

    def count(self, status: WordStatus) -> int:
        return sum(1 for w in self.words if w.status == status)

    @property
    def missed(self) -> int:
        return self.count("missed")


def running_hypotheses(messages: Sequence[MessageRecord]) -> list[tuple[float, str]]:
    """``(arrival, full transcript so far)`` after each transcript message.

    The full transcript is the final text of every closed sentence followed by the current
    sentence's text (docs/protocol.md §3: earlier sentences are not repeated).
    """
    return [
        (at, " ".join(t for t in (*closed, current) if t))
        for at, closed, current in _by_sentence(messages)
    ]


def _by_sentence(
    messages: Sequence[MessageRecord],
) -> Iterator[tuple[float, list[str], str]]:
    """``(arrival, final texts of the closed sentences, current text)`` per transcript."""
    closed: list[str] = []
    current = ""
    for i, msg in enumerate(messages):
        if msg.confirmation:
            break
        if msg.new_sentence and i > 0 and current:
            closed.append(current)
        current = msg.text
        yield msg.at, closed, current


def _running_units(
    messages: Sequence[MessageRecord], lang: str
) -> Iterator[tuple[float, list[str]]]:
    """``(arrival, units of the full transcript so far)``, closed sentences normalized once."""
    closed_units: list[str] = []
    n_closed = 0
    for at, closed, current in _by_sentence(messages):
        for text in closed[n_closed:]:
            closed_units += units(text, lang)
        n_closed = len(closed)
        yield at, closed_units + units(current, lang)


def spoken_words(words: Sequence[ReferenceWord], lang: str) -> list[int]:
    """Indices of the words that have units (a word of punctuation alone is not spoken)."""
    return [k for k, word in enumerate(words) if units(word.text, lang)]


def held_words(
    messages: Sequence[MessageRecord], words: Sequence[ReferenceWord], lang: str
) -> Iterator[tuple[float, tuple[bool, ...]]]:
    """``(arrival, held)`` after each transcript message: ``held[i]`` tells whether the
    running hypothesis holds the i-th of ``spoken_words(words, lang)``.

    Plain Python on purpose: a session has tens of messages and words, where numpy's fixed
    cost per call came to 0.3 ms a session, every other stream's sends held meanwhile.
    """
    ref: list[str] = []
    bounds: list[tuple[int, int]] = []  # each spoken word's units: ref[start:end]
    for word in words:
        word_units = units(word.text, lang)
        if word_units:
            bounds.append((len(ref), len(ref) + len(word_units)))
            ref += word_units
    aligner = _Aligner(ref)
    none_held = (False,) * len(bounds)
    last: list[str] | None = None
    held = none_held
    for at, hyp in _running_units(messages, lang):
        if hyp != last:  # a repeated hypothesis holds what the last one held
            matched = aligner.matches(hyp)
            if any(matched):
                held = tuple(all(matched[start:end]) for start, end in bounds)
            else:
                held = none_held
            last = hyp
        yield at, held


def word_latencies(timeline: Timeline, words: Sequence[ReferenceWord], lang: str) -> WordLatencies:
    """UPL and finalization latency of every reference word (docs/protocol.md §5)."""
    spoken = spoken_words(words, lang)
    # Per spoken word: arrival of the first message holding it, and of the message that
    # opened its current run of being held (None: none).
    first: list[float | None] = [None] * len(spoken)
    since: list[float | None] = [None] * len(spoken)
    revisions = [0] * len(spoken)
    before: tuple[bool, ...] = ()
    for at, held in held_words(timeline.messages, words, lang):
        if held == before:  # nothing changes: no word is newly held or let go
            continue
        before = held
        for i, now_held in enumerate(held):
            if now_held:
                if first[i] is None:
                    first[i] = at
                if since[i] is None:
                    since[i] = at
            elif since[i] is not None:
                since[i] = None
                revisions[i] += 1
    result = WordLatencies()
    for i, k in enumerate(spoken):
        result.words.append(_latency(timeline, k, words[k], first[i], since[i], revisions[i]))
    return result


def _latency(
    timeline: Timeline,
    k: int,
    word: ReferenceWord,
    first: float | None,
    since: float | None,
    revisions: int,
) -> WordLatency:
    def entry(
        status: WordStatus, upl: float | None = None, fin: float | None = None
    ) -> WordLatency:
        return WordLatency(k, word.text, word.end_ms, status, upl, fin, first, since, revisions)

    if word.end_ms is None:
        return entry("untimed")
    end_byte = ms_to_bytes(word.end_ms)
    w_end = timeline.sent_at(end_byte)
    if w_end is None or end_byte > timeline.audio_bytes + BYTES_PER_MS:  # 1 ms of rounding
        return entry("unsent")
    if first is None:
        return entry("missed")
    upl = (first - w_end) * 1000.0
    if since is None:
        return entry("lost", upl)
    return entry("final", upl, (since - w_end) * 1000.0)
