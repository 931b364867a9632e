"""``asrx corpus check``: is a corpus folder fit to replay?

Every manifest line must parse (``harness.corpus.lines``); then for each utterance the
audio file must exist with an even byte length, its length must match ``duration_ms``,
the segments and words must lie inside the audio, and the text must be present where
there is speech (and empty where there is none). An utterance whose text is unknown
(``null``) is latency-only: valid, with a note that its accuracy cannot be scored. With
``vad=True`` the segments are also compared with what ``harness.audio.vad.find_segments``
finds in the audio, the segmenter the reference server cuts sentences with: the sentence
latencies need the two to agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.audio.vad import find_segments
from harness.corpus.lines import WORD_TOLERANCE_MS
from harness.corpus.manifest import MANIFEST_NAME, ManifestError, Utterance, iter_manifest
from harness.errors import UsageError
from harness.protocol.audio import SAMPLE_WIDTH, bytes_to_ms

#: ``duration_ms`` may differ from the file's length by this much (rounding).
DURATION_TOLERANCE_MS = 1.0
#: With ``vad=True``, a segment edge may differ from the VAD's by this much.
VAD_TOLERANCE_MS = 100.0


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class CheckReport:
    """What ``inspect_corpus`` found: problems make the corpus unfit; notes do not."""

    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    utterances: int = 0
    latency_only: int = 0
    with_words: int = 0


def check_corpus(root: str | Path, *, vad: bool = False) -> list[Problem]:
    """Every problem found, in manifest order; an empty list means the corpus is fine."""
    return inspect_corpus(root, vad=vad).problems


def inspect_corpus(root: str | Path, *, vad: bool = False) -> CheckReport:
    """Every problem and note, in manifest order; ``UsageError`` only when there is no
    manifest to read at all."""
    folder = Path(root)
    manifest = folder / MANIFEST_NAME
    report = CheckReport()
    seen: dict[str, int] = {}
    count = 0
    for lineno, item in iter_manifest(folder):
        count += 1
        if isinstance(item, ManifestError):
            report.problems.append(Problem(manifest, lineno, item.detail))
            continue
        report.utterances += 1
        if item.id in seen:
            msg = f"duplicate id {item.id!r} (first on line {seen[item.id]})"
            report.problems.append(Problem(manifest, lineno, msg))
        seen.setdefault(item.id, lineno)
        report.problems += [
            Problem(manifest, lineno, f"{item.id}: {msg}") for msg in check_utterance(item, vad=vad)
        ]
        report.notes += [Problem(manifest, lineno, f"{item.id}: {msg}") for msg in notes_on(item)]
        report.latency_only += item.text is None
        report.with_words += any(w.end_ms is not None for w in item.words)
    if count == 0:
        report.problems.append(Problem(manifest, 1, "no utterances"))
    return report


def notes_on(utt: Utterance) -> list[str]:
    """What is worth knowing about a valid utterance but does not make it unfit."""
    out = []
    if utt.text is None:
        out.append("no reference text: latency only, accuracy cannot be scored")
    untimed = [w.text for w in utt.words if w.end_ms is None]
    if untimed:
        shown = " ".join(untimed[:8]) + (" ..." if len(untimed) > 8 else "")
        out.append(
            f"{len(untimed)} of {len(utt.words)} words have no timing (not aligned): {shown}"
        )
    return out


def check_utterance(utt: Utterance, *, vad: bool = False) -> list[str]:
    out: list[str] = []
    try:
        if not utt.audio.is_file():
            return [f"audio file {utt.audio.name} is missing"]
        size = utt.audio.stat().st_size
    except OSError as exc:
        return [f"audio file {utt.audio.name} cannot be read: {exc.strerror or exc}"]
    if size % SAMPLE_WIDTH:
        out.append(f"audio file {utt.audio.name} has an odd length ({size} bytes): not s16le")
    actual = bytes_to_ms(size)
    if abs(actual - utt.duration_ms) > DURATION_TOLERANCE_MS:
        out.append(f"duration_ms is {utt.duration_ms:g} but the audio lasts {actual:g} ms")
    for i, (on, off) in enumerate(utt.segments):
        if off > actual + DURATION_TOLERANCE_MS:
            out.append(f"segment {i} [{on:g}, {off:g}] ends after the audio ({actual:g} ms)")
    late = [w for w in utt.words if w.end_ms is not None and w.end_ms > actual + WORD_TOLERANCE_MS]
    if late:
        out.append(f"word {late[0].text!r} ends at {late[0].end_ms:g} ms, after the audio")
    said = utt.text is not None and bool(utt.text.strip())
    if utt.segments and utt.text is not None and not said:
        out.append(
            f"has {len(utt.segments)} speech segment(s) but its text is empty (nothing said); "
            "use null for a text that is not known"
        )
    if said and not utt.segments:
        out.append("has reference text but no speech segments")
    if vad and not out:
        out += _compare_with_vad(utt)
    return out


def _compare_with_vad(utt: Utterance) -> list[str]:
    try:
        found = find_segments(utt.pcm())
    except UsageError as exc:
        return [str(exc)]
    if len(found) != len(utt.segments):
        return [f"{len(utt.segments)} segment(s) in the manifest, the VAD finds {len(found)}"]
    out = []
    for i, (mine, theirs) in enumerate(zip(utt.segments, found, strict=True)):
        worst = max(abs(mine[0] - theirs[0]), abs(mine[1] - theirs[1]))
        if worst > VAD_TOLERANCE_MS:
            out.append(
                f"segment {i} [{mine[0]:g}, {mine[1]:g}] is {worst:g} ms from the VAD's "
                f"[{theirs[0]:g}, {theirs[1]:g}]"
            )
    return out
