"""``asrx corpus import``: audio files of any format, rate and channel count to a corpus.

Each source is decoded block by block (``harness.audio.convert.iter_pcm16k``: downmix,
soxr resampling, clipped s16le), written straight to its ``.pcm`` file and fed to the
streaming VAD (``harness.audio.vad.SpeechSegmenter``) on the way, so memory stays bounded
whatever the file's length. The segments are the VAD's: the same segmenter the reference
server cuts sentences with. Reference text comes from a ``file,text`` CSV/TSV table or a
sidecar ``.txt`` (or MFA's ``.lab``) next to the audio; without one the utterance is
latency-only (text ``null``). Word timings come from a TextGrid or CTM file of the same
stem (beside the audio or in ``timings_dir``, ``harness.corpus.timings``), else, with
``align``, from pocketsphinx (``harness.corpus.align``); words neither places are kept
without times and reported.

Everything is written into a staging folder that replaces the target only when every file
succeeded and the new corpus passes ``asrx corpus check``: import never writes a corpus
its own check rejects.
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
from harness.corpus.align import Aligner, can_align
from harness.corpus.check import check_corpus
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
from harness.corpus.timings import Placement, find_timings, place_words, read_timings
from harness.errors import UsageError
from harness.protocol.words import ReferenceWord

#: Suffixes picked up when a source is a folder.
AUDIO_SUFFIXES = frozenset(
    {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au", ".w64", ".caf"}
    | {".pcm", ".raw", ".s16le"}
)
_HEADER_FILE = {"file", "path", "filename", "audio", "wav"}
_HEADER_TEXT = {"text", "transcript", "transcription", "sentence", "reference"}
#: ``--align`` holds the whole file and its alignment in memory: longer files are skipped.
MAX_ALIGN_MS = 10 * 60 * 1000.0
#: Sidecar transcripts, in the order they are looked for (``.lab``: MFA's corpus format).
TEXT_SUFFIXES = (".txt", ".lab")

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
    #: Align the reference text with pocketsphinx where no TextGrid/CTM gives timings.
    align: bool = False
    #: Where TextGrid/CTM files are looked for (default: beside each audio file).
    timings_dir: Path | None = None


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
    for suffix in TEXT_SUFFIXES:
        sidecar = src.with_suffix(suffix)
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
    if opts.align and not can_align(opts.lang):
        raise UsageError(
            f"--align aligns English only (pocketsphinx's shipped model), not {opts.lang!r}: "
            "give TextGrid or CTM files of another aligner instead"
        )
    if opts.timings_dir is not None and not opts.timings_dir.is_dir():
        raise UsageError(f"{opts.timings_dir}: no such folder (--timings)")
    files = expand_sources(sources)
    table = read_text_table(opts.text_table) if opts.text_table is not None else None
    aligner = Aligner() if opts.align else None
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
                    else f"no {' or '.join(src.with_suffix(s).name for s in TEXT_SUFFIXES)}"
                )
                warn(f"{src}: no reference text ({where}): latency only, accuracy not scored")
            if not segments:
                if text:
                    raise UsageError(
                        f"{src}: has reference text but the VAD finds no speech in it "
                        "(too quiet, or not the right file?)"
                    )
                warn(f"{src}: no speech found (all silence or too quiet); it has no segments")
            words = _words_for(src, dest, text, duration, opts, aligner, warn)
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
                    words=words,
                )
            )
        bar.close()
        write_manifest(staging, utterances)
        problems = check_corpus(staging)
        if problems:  # a bug of ours, or an input we failed to refuse earlier
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise UsageError(f"the imported corpus would not pass its check: {problems[0]}{more}")
    return load_corpus(out)


def _words_for(
    src: Path,
    pcm_file: Path,
    text: str | None,
    duration: float,
    opts: ImportOptions,
    aligner: Aligner | None,
    warn: Warn,
) -> tuple[ReferenceWord, ...]:
    """The words of ``text`` with times from a timings file or the aligner, else none."""
    timings = find_timings(src, opts.timings_dir)
    if not text or not text.strip():
        if timings is not None:
            warn(f"{timings}: ignored, {src.name} has no reference text to place its words on")
        return ()
    placement: Placement | None = None
    if timings is not None:
        tokens = read_timings(timings, src.stem)
        placement = place_words(text, opts.lang, tokens, duration)
        origin = timings.name
    elif aligner is not None and duration > MAX_ALIGN_MS:
        warn(
            f"{src}: not aligned, longer than {MAX_ALIGN_MS / 60000:g} minutes "
            "(cut it, or give a TextGrid or CTM)"
        )
    elif aligner is not None:
        placement = aligner.align(pcm_file.read_bytes(), text)
        origin = "pocketsphinx alignment"
    if placement is None:
        return ()
    if placement.unplaced:
        shown = " ".join(placement.unplaced[:8]) + (" ..." if len(placement.unplaced) > 8 else "")
        warn(
            f"{src}: {len(placement.unplaced)} of {len(placement.words)} words could not be "
            f"aligned ({origin}), kept without times: {shown}"
        )
    return placement.words
