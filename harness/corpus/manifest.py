"""The corpus format: a folder with ``manifest.jsonl`` and raw 16 kHz mono s16le ``.pcm`` files.

What a line holds is ``harness.corpus.utterance``; how a line is parsed and what can be
wrong with it, ``harness.corpus.lines``. This module reads and writes whole manifests.

Reading is bounded and never crashes on what the file holds: lines are read as bytes at
most ``MAX_LINE_BYTES`` at a time, and a line too long, not UTF-8 or not a valid utterance
is one ``ManifestError`` naming its file and line; the deeper checks (audio present,
lengths agree) are ``harness.corpus.check``'s job.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from harness.corpus.lines import check_lang, parse_line
from harness.corpus.utterance import (
    MANIFEST_NAME,
    OPTIONAL_FIELDS,
    REQUIRED_FIELDS,
    SCHEMA_PATH,
    Corpus,
    ManifestError,
    Segment,
    Utterance,
)
from harness.errors import UsageError
from harness.protocol.audio import bytes_to_ms

#: A longer manifest line is a problem, not something to hold in memory.
MAX_LINE_BYTES = 1 << 20
_SKIP_CHUNK = 1 << 16

__all__ = [
    "MANIFEST_NAME",
    "MAX_LINE_BYTES",
    "OPTIONAL_FIELDS",
    "REQUIRED_FIELDS",
    "SCHEMA_PATH",
    "Corpus",
    "ManifestError",
    "Segment",
    "Utterance",
    "check_lang",
    "iter_manifest",
    "load_corpus",
    "pcm_duration_ms",
    "write_manifest",
]


def pcm_duration_ms(n_bytes: int) -> float:
    return bytes_to_ms(n_bytes)


def _raw_lines(fh: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """``(line number, bytes)`` per line; ``None`` for a line over ``MAX_LINE_BYTES``."""
    lineno = 0
    while chunk := fh.readline(MAX_LINE_BYTES + 1):
        lineno += 1
        if len(chunk) > MAX_LINE_BYTES and not chunk.endswith(b"\n"):
            while (rest := fh.readline(_SKIP_CHUNK)) and not rest.endswith(b"\n"):
                pass
            yield lineno, None
            continue
        yield lineno, chunk


def _decode(raw: bytes, lineno: int, path: Path) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        detail = f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
        raise ManifestError(path, lineno, detail) from None
    return text.removeprefix("\ufeff") if lineno == 1 else text


def iter_manifest(root: str | Path) -> Iterator[tuple[int, Utterance | ManifestError]]:
    """Every non-blank line of the manifest: ``(line number, utterance or its error)``.

    ``UsageError`` only when there is no manifest to read (no folder, no file, unreadable).
    """
    folder = Path(root)
    path = folder / MANIFEST_NAME
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a corpus folder (no such directory)")
    if not path.is_file():
        raise UsageError(f"{folder}: not a corpus folder (no {MANIFEST_NAME})")
    try:
        with path.open("rb") as fh:
            for lineno, raw in _raw_lines(fh):
                if raw is None:
                    yield (
                        lineno,
                        ManifestError(
                            path, lineno, f"line longer than {MAX_LINE_BYTES // 1024} KiB"
                        ),
                    )
                    continue
                if not raw.strip():
                    continue
                try:
                    text = _decode(raw, lineno, path)
                    yield lineno, parse_line(text, root=folder, path=path, line=lineno)
                except ManifestError as exc:
                    yield lineno, exc
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None


def load_corpus(root: str | Path) -> Corpus:
    """Read a corpus folder's manifest; ``UsageError`` naming file and line on a bad line.

    Every caller (``asrx stream --corpus``, the conformance suite, the Locust user) gets
    a one-line error for any manifest, however malformed.
    """
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
