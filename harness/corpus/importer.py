"""``asrx corpus import``: audio files of any format, rate and channel count to a corpus.

Each source is decoded block by block (``harness.audio.convert.iter_pcm16k``: downmix,
soxr resampling, clipped s16le), written straight to its ``.pcm`` file and fed to the
streaming VAD (``harness.audio.vad.SpeechSegmenter``) on the way, so memory stays bounded
whatever the file's length. The segments are the VAD's: the same segmenter the reference
server cuts sentences with. Reference text comes from a ``file,text`` CSV/TSV table or a
sidecar ``.txt`` next to the audio. Everything is written into a staging folder that
replaces the target only when all files succeeded.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from harness.audio.convert import iter_pcm16k
from harness.audio.vad import SpeechEnd, SpeechSegmenter, SpeechStart
from harness.corpus.manifest import (
    Corpus,
    Segment,
    Utterance,
    check_lang,
    load_corpus,
    pcm_duration_ms,
    write_manifest,
)
from harness.corpus.staging import staged_folder
from harness.errors import UsageError

#: Suffixes picked up when a source is a folder.
AUDIO_SUFFIXES = frozenset(
    {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au", ".w64", ".caf"}
    | {".pcm", ".raw", ".s16le"}
)
_HEADER_FILE = {"file", "path", "filename", "audio", "wav"}
_HEADER_TEXT = {"text", "transcript", "transcription", "sentence", "reference"}

Warn = Callable[[str], None]


@dataclass(frozen=True)
class ImportOptions:
    lang: str
    raw_rate: int | None = None
    raw_channels: int = 1
    text_table: Path | None = None
    #: Provenance and licence recorded in every utterance's ``source``.
    source: str | None = None
    force: bool = False
    #: None: a progress bar when stderr is a terminal; False: never.
    progress: bool | None = None


def expand_sources(sources: Sequence[str | Path]) -> list[Path]:
    """The files to import: files as given, folders searched for audio files (sorted)."""
    out: list[Path] = []
    for src in sources:
        p = Path(src)
        if p.is_dir():
            found = sorted(
                f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES
            )
            if not found:
                raise UsageError(f"{p}: folder holds no audio files")
            out.extend(found)
        else:
            out.append(p)
    if not out:
        raise UsageError("no source files given")
    return out


def read_text_table(path: Path) -> dict[str, str]:
    """``file,text`` rows (CSV, or TSV when the file ends in .tsv or has tabs) to a dict."""
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read text table: {exc}") from None
    first = raw.split("\n", 1)[0]
    delimiter = "\t" if path.suffix.lower() == ".tsv" or "\t" in first else ","
    table: dict[str, str] = {}
    for lineno, row in enumerate(csv.reader(raw.splitlines(), delimiter=delimiter), start=1):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) < 2:
            raise UsageError(f"{path}:{lineno}: expected file{delimiter!r}text, got {row[0]!r}")
        key, text = row[0].strip(), delimiter.join(row[1:]).strip()
        if lineno == 1 and key.lower() in _HEADER_FILE and text.lower() in _HEADER_TEXT:
            continue
        table[key] = text
    return table


def _text_for(src: Path, table: dict[str, str] | None) -> str | None:
    if table is not None:
        for key in (str(src), src.as_posix(), src.name, src.stem, str(src.resolve())):
            if key in table:
                return table[key]
        return None
    sidecar = src.with_suffix(".txt")
    if sidecar.is_file():
        try:
            return " ".join(sidecar.read_text(encoding="utf-8-sig").split())
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{sidecar}: cannot read reference text: {exc}") from None
    return None


def _unique_id(src: Path, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", src.stem).strip("-._") or "utt"
    uid, n = base, 2
    while uid in taken:
        uid, n = f"{base}-{n}", n + 1
    taken.add(uid)
    return uid


def convert_one(src: Path, dest: Path, opts: ImportOptions) -> tuple[float, tuple[Segment, ...]]:
    """Decode ``src`` into ``dest`` (.pcm) in blocks; return its duration and VAD segments."""
    blocks = iter_pcm16k(src, raw_rate=opts.raw_rate, raw_channels=opts.raw_channels)
    segmenter = SpeechSegmenter()
    events = []
    n_bytes = 0
    with dest.open("wb") as fh:
        for block in blocks:
            fh.write(block)
            n_bytes += len(block)
            events += segmenter.feed(block)
    events += segmenter.flush()
    if n_bytes == 0:
        raise UsageError(f"{src}: no audio after conversion")
    duration = pcm_duration_ms(n_bytes)
    segments: list[Segment] = []
    start: float | None = None
    for ev in events:
        if isinstance(ev, SpeechStart):
            start = ev.at_ms
        elif isinstance(ev, SpeechEnd) and start is not None:
            segments.append((start, min(ev.at_ms, duration)))
            start = None
    return duration, tuple(segments)


def import_corpus(
    sources: Sequence[str | Path], out: Path, opts: ImportOptions, warn: Warn
) -> Corpus:
    """Convert ``sources`` into a new corpus folder ``out``; ``warn`` gets one-line warnings."""
    check_lang(opts.lang)
    files = expand_sources(sources)
    table = read_text_table(opts.text_table) if opts.text_table is not None else None
    taken: set[str] = set()
    utterances: list[Utterance] = []
    with staged_folder(out, force=opts.force) as staging:
        # disable=None: tqdm shows the bar only when stderr is a terminal.
        hide = True if opts.progress is False else None
        bar = tqdm(files, unit="file", desc="import", disable=hide)
        for src in bar:
            uid = _unique_id(src, taken)
            dest = staging / f"{uid}.pcm"
            duration, segments = convert_one(src, dest, opts)
            text = _text_for(src, table)
            if text is None:
                where = (
                    f"no row in {opts.text_table}"
                    if table is not None
                    else f"no {src.with_suffix('.txt').name}"
                )
                warn(f"{src}: no reference text ({where}); accuracy cannot be scored for it")
                text = ""
            if not segments:
                warn(f"{src}: no speech found (all silence or too quiet); it has no segments")
            provenance = (
                f"{src.name}: {opts.source}"
                if opts.source
                else f"imported from {src.name}; licence unknown"
            )
            utterances.append(
                Utterance(
                    id=uid,
                    audio=dest.resolve(),
                    lang=opts.lang,
                    text=text,
                    duration_ms=duration,
                    segments=segments,
                    source=provenance,
                )
            )
        bar.close()
        write_manifest(staging, utterances)
    return load_corpus(out)
