"""What a corpus holds: utterances, each one line of ``manifest.jsonl``.

One line (JSON Schema: ``manifest.schema.json`` next to this module)::

    {"id": "en-multi-01", "audio": "en-multi-01.pcm", "lang": "en",
     "text": "good morning everyone the meeting starts at ten", "duration_ms": 5580.0,
     "segments": [[510.0, 1812.5], [3330.0, 5010.0]], "source": "synthesized ...",
     "sentences": ["good morning everyone", "the meeting starts at ten"],
     "words": [["good", 510.0, 702.1], ["morning", 702.1, 1093.9], ...]}

``audio`` is relative to the folder; ``segments`` are the speech ``[on_ms, off_ms]`` the
sentence latencies are measured from; ``text`` is the reference for WER/CER: ``""`` when
nothing is said, ``null`` (or absent) when it is not known, which makes the utterance
latency-only; ``words`` are the reference's words with where each lies in the audio, for
the word latencies (``null`` times: a word an aligner could not place).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.protocol.words import ReferenceWord

MANIFEST_NAME = "manifest.jsonl"
SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")

REQUIRED_FIELDS = ("id", "audio", "lang", "duration_ms", "segments", "source")
OPTIONAL_FIELDS = ("text", "sentences", "words")

Segment = tuple[float, float]


class ManifestError(UsageError):
    """A manifest line that is not a valid utterance; ``line`` is 1-based."""

    def __init__(self, path: Path, line: int, detail: str) -> None:
        self.path = path
        self.line = line
        self.detail = detail
        super().__init__(f"{path}:{line}: {detail}")


@dataclass(frozen=True)
class Utterance:
    id: str
    #: Absolute, resolved path of the ``.pcm`` file.
    audio: Path
    lang: str
    #: Reference transcript: "" when nothing is said, None when unknown (latency only).
    text: str | None
    duration_ms: float
    #: Speech ``(on_ms, off_ms)`` pairs, ordered.
    segments: tuple[Segment, ...]
    source: str
    #: Reference text per segment when known (synthesized corpora), else empty.
    sentences: tuple[str, ...] = field(default=())
    #: The reference's words with their times in the audio, when known, else empty.
    words: tuple[ReferenceWord, ...] = field(default=())

    def pcm(self) -> bytes:
        """The audio: 16 kHz mono s16le bytes, ready to send."""
        try:
            return self.audio.read_bytes()
        except OSError as exc:
            raise UsageError(f"{self.audio}: cannot read: {exc.strerror or exc}") from None

    def to_json(self, root: Path) -> dict[str, Any]:
        """The manifest line for this utterance, with ``audio`` relative to ``root``."""
        line: dict[str, Any] = {
            "id": self.id,
            "audio": self.audio.relative_to(root.resolve()).as_posix(),
            "lang": self.lang,
            "text": self.text,
            "duration_ms": ms(self.duration_ms),
            "segments": [[ms(on), ms(off)] for on, off in self.segments],
            "source": self.source,
        }
        if self.sentences:
            line["sentences"] = list(self.sentences)
        if self.words:
            line["words"] = [[w.text, _opt_ms(w.start_ms), _opt_ms(w.end_ms)] for w in self.words]
        return line


@dataclass(frozen=True)
class Corpus:
    root: Path
    utterances: list[Utterance]

    def __len__(self) -> int:
        return len(self.utterances)

    def __iter__(self) -> Iterator[Utterance]:
        return iter(self.utterances)

    def get(self, utterance_id: str) -> Utterance:
        for utt in self.utterances:
            if utt.id == utterance_id:
                return utt
        raise UsageError(f"{self.root}: no utterance with id {utterance_id!r}")


def ms(value: float) -> float:
    """A time as written: sample positions are multiples of 1/16 ms, 4 decimals keep them."""
    return round(float(value), 4)


def _opt_ms(value: float | None) -> float | None:
    return None if value is None else ms(value)
