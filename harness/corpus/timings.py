"""Word timings from an aligner's output, placed on the reference text's words.

Aligners write their words in their own spelling (lower case, no punctuation, numbers
spelled out, their own word boundaries in Thai or Chinese), so their tokens are not taken
as the reference words: both are cut into the scoring's units (``harness.protocol.text``)
and paired by edit distance (``rapidfuzz``'s Levenshtein opcodes). A reference word gets
the times of the tokens it covers only when every unit of it is paired with an equal unit
and it starts and ends on token boundaries; otherwise it is *unplaced*: kept, without
times, and reported, never given times the aligner did not give.

Readers: Praat TextGrid (Montreal Forced Aligner's output) with ``praatio``, the library
MFA itself writes them with; NIST CTM (``file channel start duration word [confidence]``)
with a small strict reader, the format being one whitespace-separated line per word.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz.distance import Levenshtein

from harness.errors import UsageError
from harness.protocol.text import units
from harness.protocol.words import ReferenceWord

#: Sidecar suffixes read beside the audio (or in ``--timings DIR``), in this order.
TIMING_SUFFIXES = (".TextGrid", ".textgrid", ".ctm")
#: Tokens aligners write for silence, noise or unknown words: never reference words.
NON_WORDS = frozenset({"", "sil", "sp", "spn", "<eps>", "<sil>", "<unk>", "[noise]", "[speech]"})
#: A timings file larger than this is not a word list of one utterance.
MAX_TIMINGS_BYTES = 20 << 20


@dataclass(frozen=True)
class TimedToken:
    """One word as an aligner wrote it, with its span in ms."""

    text: str
    start_ms: float
    end_ms: float


@dataclass
class Placement:
    """The reference words with the times placed on them; ``unplaced`` lists the rest."""

    words: tuple[ReferenceWord, ...]
    unplaced: list[str] = field(default_factory=list)

    @property
    def placed(self) -> int:
        return sum(1 for w in self.words if w.end_ms is not None)


def place_words(
    text: str, lang: str, tokens: list[TimedToken], duration_ms: float | None = None
) -> Placement:
    """The words of ``text`` with the times of the ``tokens`` that spell them.

    Times that would break the manifest's rules (a word of no length, overlapping the word
    before, past ``duration_ms``) are not placed either.
    """
    ref_units: list[str] = []
    ref_owner: list[int] = []
    written = [w for w in text.split() if units(w, lang)]
    for k, word in enumerate(written):
        for unit in units(word, lang):
            ref_units.append(unit)
            ref_owner.append(k)
    tok_units: list[str] = []
    tok_owner: list[int] = []
    spoken = [t for t in tokens if t.text.casefold() not in NON_WORDS]
    for k, token in enumerate(spoken):
        for unit in units(token.text, lang):
            tok_units.append(unit)
            tok_owner.append(k)
    pair: list[int | None] = [None] * len(ref_units)  # ref unit -> token unit
    for op in Levenshtein.opcodes(ref_units, tok_units):
        if op.tag == "equal":
            for i in range(op.src_end - op.src_start):
                pair[op.src_start + i] = op.dest_start + i
    first_unit: dict[int, int] = {}  # token -> its first and last unit index
    last_unit: dict[int, int] = {}
    for u, k in enumerate(tok_owner):
        first_unit.setdefault(k, u)
        last_unit[k] = u
    out: list[ReferenceWord] = []
    unplaced: list[str] = []
    last_end = 0.0
    limit = math.inf if duration_ms is None else duration_ms
    for k, word in enumerate(written):
        mine = [pair[u] for u, owner in enumerate(ref_owner) if owner == k]
        ok = all(p is not None for p in mine)
        if ok:
            head, tail = mine[0], mine[-1]
            assert head is not None and tail is not None
            first_tok, last_tok = tok_owner[head], tok_owner[tail]
            ok = first_unit[first_tok] == head and last_unit[last_tok] == tail
        if ok:
            start, end = spoken[first_tok].start_ms, spoken[last_tok].end_ms
            ok = last_end <= start < end <= limit
        if ok:
            out.append(ReferenceWord(word, start, end))
            last_end = end
        else:
            out.append(ReferenceWord(word))
            unplaced.append(word)
    return Placement(tuple(out), unplaced)


def find_timings(audio: Path, folder: Path | None = None) -> Path | None:
    """The TextGrid or CTM file of ``audio``: same stem, beside it or in ``folder``."""
    where = folder if folder is not None else audio.parent
    for suffix in TIMING_SUFFIXES:
        candidate = where / (audio.stem + suffix)
        if candidate.is_file():
            return candidate
    return None


def read_timings(path: Path, utterance: str) -> list[TimedToken]:
    """The word tokens of a TextGrid or CTM file (CTM lines of ``utterance`` only)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if size > MAX_TIMINGS_BYTES:
        raise UsageError(f"{path}: {size} bytes is too large for one utterance's word timings")
    if path.suffix.lower() == ".ctm":
        return read_ctm(path, utterance)
    return read_textgrid(path)


def read_textgrid(path: Path) -> list[TimedToken]:
    """The intervals of the words tier: the tier named ``words`` (MFA also writes
    ``<speaker> - words``), or the only interval tier."""
    from praatio import textgrid  # only imports when a TextGrid is read

    try:
        grid = textgrid.openTextgrid(str(path), includeEmptyIntervals=False)
    except Exception as exc:  # praatio raises whatever its parser hits on a broken file
        raise UsageError(f"{path}: not a TextGrid praatio can read ({exc})") from None
    names = list(grid.tierNames)
    interval_tiers = [n for n in names if isinstance(grid.getTier(n), textgrid.IntervalTier)]
    chosen = [n for n in interval_tiers if n.strip().lower().split(" - ")[-1] == "words"]
    if not chosen and len(interval_tiers) == 1:
        chosen = interval_tiers
    if len(chosen) != 1:
        raise UsageError(
            f"{path}: cannot tell which tier holds the words (interval tiers: "
            f"{', '.join(interval_tiers) or 'none'}); name it 'words'"
        )
    tier = grid.getTier(chosen[0])
    return [
        TimedToken(entry.label.strip(), entry.start * 1000.0, entry.end * 1000.0)
        for entry in tier.entries
        if entry.label.strip()
    ]


def read_ctm(path: Path, utterance: str) -> list[TimedToken]:
    """NIST CTM lines ``file channel start duration word [confidence]`` (seconds);
    ``;;`` starts a comment. Lines of other files are skipped when the file holds several."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read CTM: {exc}") from None
    rows: list[tuple[str, TimedToken]] = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith(";;"):
            continue
        parts = line.split()
        try:
            if len(parts) not in (5, 6):
                raise ValueError
            start, duration = float(parts[2]), float(parts[3])
            if not (0 <= start < 1e7 and 0 <= duration < 1e7):
                raise ValueError
        except ValueError:
            raise UsageError(
                f"{path}:{lineno}: expected 'file channel start duration word [confidence]'"
            ) from None
        token = TimedToken(parts[4], start * 1000.0, (start + duration) * 1000.0)
        rows.append((parts[0], token))
    files = {name for name, _ in rows}
    if len(files) > 1:
        rows = [(name, t) for name, t in rows if name == utterance]
        if not rows:
            raise UsageError(
                f"{path}: no lines for {utterance!r} (files: {', '.join(sorted(files))})"
            )
    return sorted((t for _, t in rows), key=lambda t: t.start_ms)
