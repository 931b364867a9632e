"""The corpus format: a folder with ``manifest.jsonl`` and raw 16 kHz mono s16le ``.pcm`` files.

Each manifest line is one utterance (JSON Schema: ``manifest.schema.json`` next to this
module)::

    {"id": "en-multi-01", "audio": "en-multi-01.pcm", "lang": "en",
     "text": "the sun is hot today we will go home now", "duration_ms": 5210.0,
     "segments": [[510.0, 1790.5], [3020.0, 4700.0]], "source": "synthesized ...",
     "sentences": ["the sun is hot today", "we will go home now"]}

``audio`` is relative to the folder; ``segments`` are the speech ``[on_ms, off_ms]`` the
latency metrics are measured from (PROTOCOL.md §5); ``text`` is the reference for WER/CER.
Loading checks each line's shape and names the file and line of the first bad one; the
deeper checks (audio present, lengths agree) are ``harness.corpus.check``'s job.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.protocol.audio import bytes_to_ms

MANIFEST_NAME = "manifest.jsonl"
SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")

REQUIRED_FIELDS = ("id", "audio", "lang", "text", "duration_ms", "segments", "source")
OPTIONAL_FIELDS = ("sentences",)
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_LANG_RE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")

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
    #: Reference transcript; "" when nothing is said.
    text: str
    duration_ms: float
    #: Speech ``(on_ms, off_ms)`` pairs, ordered.
    segments: tuple[Segment, ...]
    source: str
    #: Reference text per segment when known (synthesized corpora), else empty.
    sentences: tuple[str, ...] = field(default=())

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
            "duration_ms": _ms(self.duration_ms),
            "segments": [[_ms(on), _ms(off)] for on, off in self.segments],
            "source": self.source,
        }
        if self.sentences:
            line["sentences"] = list(self.sentences)
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


def _ms(value: float) -> float:
    # Sample positions are multiples of 1/16 ms; 4 decimals keep them exact and short.
    return round(float(value), 4)


def pcm_duration_ms(n_bytes: int) -> float:
    return bytes_to_ms(n_bytes)


def check_lang(lang: str) -> str:
    """``lang`` if it is a language tag (``en``, ``th-TH``), else ``UsageError``."""
    if not _LANG_RE.match(lang):
        raise UsageError(f"language must be a tag such as 'en' or 'th-TH', got {lang!r}")
    return lang


def parse_line(text: str, *, root: Path, path: Path, line: int) -> Utterance:
    """One manifest line to an ``Utterance``; ``ManifestError`` says what is wrong with it."""

    def bad(detail: str) -> ManifestError:
        return ManifestError(path, line, detail)

    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise bad(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise bad(f"expected a JSON object, got {type(obj).__name__}")
    missing = [k for k in REQUIRED_FIELDS if k not in obj]
    if missing:
        raise bad(f"missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    unknown = sorted(set(obj) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
    if unknown:
        raise bad(f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")

    uid = obj["id"]
    if not isinstance(uid, str) or not _ID_RE.match(uid):
        raise bad(f"id must be letters, digits, '.', '_' or '-', got {uid!r}")
    for key in ("audio", "lang", "text", "source"):
        if not isinstance(obj[key], str):
            raise bad(f"{uid}: {key} must be a string, got {type(obj[key]).__name__}")
    if not _LANG_RE.match(obj["lang"]):
        raise bad(f"{uid}: lang must be a tag such as 'en' or 'th-TH', got {obj['lang']!r}")
    if not obj["source"].strip():
        raise bad(f"{uid}: source is empty (say where the audio came from and its licence)")
    audio = _resolve_audio(obj["audio"], root)
    if audio is None:
        raise bad(f"{uid}: audio must be a relative path inside the corpus, got {obj['audio']!r}")

    duration = obj["duration_ms"]
    if not _is_number(duration) or duration < 0:
        raise bad(f"{uid}: duration_ms must be a number >= 0, got {duration!r}")
    segments = _parse_segments(obj["segments"], uid, bad)
    sentences = obj.get("sentences", [])
    if not isinstance(sentences, list) or not all(isinstance(s, str) for s in sentences):
        raise bad(f"{uid}: sentences must be a list of strings")
    if sentences and len(sentences) != len(segments):
        raise bad(f"{uid}: {len(sentences)} sentences for {len(segments)} segments")
    return Utterance(
        id=uid,
        audio=audio,
        lang=obj["lang"],
        text=obj["text"],
        duration_ms=float(duration),
        segments=segments,
        source=obj["source"],
        sentences=tuple(sentences),
    )


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _parse_segments(raw: object, uid: str, bad: Any) -> tuple[Segment, ...]:
    if not isinstance(raw, list):
        raise bad(f"{uid}: segments must be a list of [on_ms, off_ms] pairs")
    out: list[Segment] = []
    for i, pair in enumerate(raw):
        if not (isinstance(pair, list) and len(pair) == 2 and all(_is_number(v) for v in pair)):
            raise bad(f"{uid}: segment {i} must be a pair of numbers [on_ms, off_ms], got {pair!r}")
        on, off = float(pair[0]), float(pair[1])
        if on < 0 or off <= on:
            raise bad(f"{uid}: segment {i} [{on:g}, {off:g}] must have 0 <= on < off")
        if out and on < out[-1][1]:
            raise bad(f"{uid}: segment {i} starts at {on:g} ms, before segment {i - 1} ends")
        out.append((on, off))
    return tuple(out)


def _resolve_audio(rel: str, root: Path) -> Path | None:
    if not rel or rel.startswith(("/", "\\")) or Path(rel).is_absolute():
        return None
    resolved = (root / rel).resolve()
    if not resolved.is_relative_to(root.resolve()):
        return None
    return resolved


def iter_manifest(root: str | Path) -> Iterator[tuple[int, Utterance | ManifestError]]:
    """Every non-blank line of the manifest: ``(line number, utterance or its error)``."""
    folder = Path(root)
    path = folder / MANIFEST_NAME
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a corpus folder (no such directory)")
    if not path.is_file():
        raise UsageError(f"{folder}: not a corpus folder (no {MANIFEST_NAME})")
    with path.open("r", encoding="utf-8", errors="strict") as fh:
        try:
            for lineno, text in enumerate(fh, start=1):
                if not text.strip():
                    continue
                try:
                    yield lineno, parse_line(text, root=folder, path=path, line=lineno)
                except ManifestError as exc:
                    yield lineno, exc
        except UnicodeDecodeError:
            raise UsageError(f"{path}: not UTF-8 text") from None


def load_corpus(root: str | Path) -> Corpus:
    """Read a corpus folder's manifest; ``UsageError`` naming file and line on a bad line."""
    folder = Path(root)
    utterances: list[Utterance] = []
    seen: dict[str, int] = {}
    for lineno, item in iter_manifest(folder):
        if isinstance(item, ManifestError):
            raise item
        if item.id in seen:
            detail = f"duplicate id {item.id!r} (first on line {seen[item.id]})"
            raise ManifestError(folder / MANIFEST_NAME, lineno, detail)
        seen[item.id] = lineno
        utterances.append(item)
    if not utterances:
        raise UsageError(f"{folder / MANIFEST_NAME}: no utterances")
    return Corpus(root=folder.resolve(), utterances=utterances)


def write_manifest(root: str | Path, utterances: Iterable[Utterance]) -> Path:
    """Write ``manifest.jsonl`` in ``root`` (audio paths made relative to it)."""
    folder = Path(root)
    path = folder / MANIFEST_NAME
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for utt in utterances:
            fh.write(json.dumps(utt.to_json(folder), ensure_ascii=False) + "\n")
    return path
