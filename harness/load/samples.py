"""One sample session per utterance, kept small, for the report's partials pictures.

A load run streams the same utterances thousands of times; the report draws, for each,
the last completed session (``harness.plots.partials``). A ``SessionSample`` is what that
picture needs of a session, compacted and bounded so that workers can send it with their
statistics: the messages (arrival, text, state, sentence marker), times relative to the
first audio frame sent, and only the frames whose send times the picture reads (those
holding a word's or a speech segment's edges, the first and the last) plus every k-th frame
so that at most ``MAX_FRAMES`` are kept. ``W(a)`` of a kept edge is exact; the audio-axis
ticks between kept frames fall on the kept frame before them. ``RunStats.record_sample``
keeps each utterance's latest session and makes its sample only when the samples are read.

Bounds: at most ``MAX_SAMPLES`` utterances have a sample (the first by id: which ones does
not depend on the order sessions ended in), and a session with more than ``MAX_MESSAGES``
messages or ``MAX_TEXT_CHARS`` characters of text is not kept (counted instead).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.corpus.utterance import Utterance
from harness.protocol.audio import ms_to_bytes
from harness.protocol.timeline import MessageRecord, Timeline
from harness.protocol.words import ReferenceWord

#: Utterances with a sample (the first by id).
MAX_SAMPLES = 20
#: Frames kept per sample beyond the edges the picture reads.
MAX_FRAMES = 500
#: A session with more messages or text than this is not kept.
MAX_MESSAGES = 2000
MAX_TEXT_CHARS = 100_000


@dataclass(frozen=True)
class SessionSample:
    """One completed session of one utterance, as the partials picture reads it."""

    utterance_id: str
    lang: str
    words: tuple[ReferenceWord, ...]
    segments: tuple[tuple[float, float], ...]
    #: ``(offset, size, sent)`` of the kept frames, ``sent`` in seconds since the first.
    frames: tuple[tuple[int, int, float], ...]
    #: ``(at, text, state, new_sentence, confirmation)``, ``at`` as ``sent`` above.
    messages: tuple[tuple[float, str, str, bool, bool], ...]
    connected: float | None = None
    end_of_stream: float | None = None

    @staticmethod
    def fits(timeline: Timeline) -> bool:
        """The session sent audio and is small enough to keep as a sample."""
        tl = timeline
        if not len(tl.frames) or len(tl.messages) > MAX_MESSAGES:
            return False
        return sum(len(m.text) + len(m.state) for m in tl.messages) <= MAX_TEXT_CHARS

    @classmethod
    def of(cls, utt: Utterance, timeline: Timeline) -> SessionSample | None:
        """The sample of a session, or None when it sent no audio or is too large to keep."""
        tl = timeline
        if not cls.fits(tl):
            return None
        t0 = tl.frames.sent[0]
        return cls(
            utt.id,
            utt.lang,
            tuple(utt.words),
            tuple((float(on), float(off)) for on, off in utt.segments),
            _kept_frames(tl, utt, t0),
            tuple(
                (m.at - t0, m.text, m.state, m.new_sentence, m.confirmation) for m in tl.messages
            ),
            _since(tl.connected, t0),
            _since(tl.end_of_stream_at, t0),
        )

    def timeline(self) -> Timeline:
        """A timeline the picture reads as it would the session's own."""
        tl = Timeline(connected=self.connected, end_of_stream_at=self.end_of_stream)
        for offset, size, sent in self.frames:
            tl.frames.append(offset, size, sent, sent)
        tl.messages = [MessageRecord(*m) for m in self.messages]
        return tl

    def to_dict(self) -> dict[str, Any]:
        return {
            "utterance_id": self.utterance_id,
            "lang": self.lang,
            "words": [[w.text, w.start_ms, w.end_ms] for w in self.words],
            "segments": [list(s) for s in self.segments],
            "frames": [list(f) for f in self.frames],
            "messages": [list(m) for m in self.messages],
            "connected": self.connected,
            "end_of_stream": self.end_of_stream,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SessionSample:
        return cls(
            str(data["utterance_id"]),
            str(data["lang"]),
            tuple(ReferenceWord(str(t), s, e) for t, s, e in data["words"]),
            tuple((float(on), float(off)) for on, off in data["segments"]),
            tuple((int(o), int(n), float(s)) for o, n, s in data["frames"]),
            tuple(
                (float(at), str(text), str(state), bool(new), bool(conf))
                for at, text, state, new, conf in data["messages"]
            ),
            data.get("connected"),
            data.get("end_of_stream"),
        )


def keep(samples: dict[str, SessionSample], new: Iterable[SessionSample]) -> None:
    """Add ``new`` into ``samples``: a later sample of an utterance replaces the earlier;
    past ``MAX_SAMPLES`` utterances the first ids are kept."""
    for sample in new:
        samples[sample.utterance_id] = sample
        if len(samples) > MAX_SAMPLES:
            del samples[max(samples)]


def _since(at: float | None, t0: float) -> float | None:
    return None if at is None else at - t0


def _kept_frames(tl: Timeline, utt: Utterance, t0: float) -> tuple[tuple[int, int, float], ...]:
    f = tl.frames
    n = len(f)
    step = max(1, -(-n // MAX_FRAMES))
    keep_at = set(range(0, n, step)) | {n - 1}
    edges = [ms for w in utt.words for ms in (w.start_ms, w.end_ms) if ms is not None]
    edges += [ms for segment in utt.segments for ms in segment]
    for ms in edges:
        keep_at.add(max(0, bisect.bisect_right(f.offsets, ms_to_bytes(ms)) - 1))
    return tuple((f.offsets[i], f.sizes[i], f.sent[i] - t0) for i in sorted(keep_at))


def sample_list(samples: Mapping[str, SessionSample]) -> Sequence[SessionSample]:
    """The samples in utterance-id order."""
    return [samples[k] for k in sorted(samples)]
