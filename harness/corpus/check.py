"""``asrx corpus check``: is a corpus folder fit to replay?

Every manifest line must parse (``harness.corpus.manifest``); then for each utterance the
audio file must exist with an even byte length, its length must match ``duration_ms``,
the segments must lie inside the audio, and the text must be present where there is
speech (and absent where there is none). With ``vad=True`` the segments are also compared
with what ``harness.audio.vad.find_segments`` finds in the audio, the segmenter the
reference server cuts sentences with: the latency metrics need the two to agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.audio.vad import find_segments
from harness.corpus.manifest import MANIFEST_NAME, ManifestError, Utterance, iter_manifest
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


def check_corpus(root: str | Path, *, vad: bool = False) -> list[Problem]:
    """Every problem found, in manifest order; an empty list means the corpus is fine."""
    folder = Path(root)
    manifest = folder / MANIFEST_NAME
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    count = 0
    for lineno, item in iter_manifest(folder):
        count += 1
        if isinstance(item, ManifestError):
            problems.append(Problem(manifest, lineno, item.detail))
            continue
        if item.id in seen:
            msg = f"duplicate id {item.id!r} (first on line {seen[item.id]})"
            problems.append(Problem(manifest, lineno, msg))
        seen.setdefault(item.id, lineno)
        problems += [
            Problem(manifest, lineno, f"{item.id}: {msg}") for msg in check_utterance(item, vad=vad)
        ]
    if count == 0:
        problems.append(Problem(manifest, 1, "no utterances"))
    return problems


def check_utterance(utt: Utterance, *, vad: bool = False) -> list[str]:
    out: list[str] = []
    if not utt.audio.is_file():
        return [f"audio file {utt.audio.name} is missing"]
    size = utt.audio.stat().st_size
    if size % SAMPLE_WIDTH:
        out.append(f"audio file {utt.audio.name} has an odd length ({size} bytes): not s16le")
    actual = bytes_to_ms(size)
    if abs(actual - utt.duration_ms) > DURATION_TOLERANCE_MS:
        out.append(f"duration_ms is {utt.duration_ms:g} but the audio lasts {actual:g} ms")
    for i, (on, off) in enumerate(utt.segments):
        if off > actual + DURATION_TOLERANCE_MS:
            out.append(f"segment {i} [{on:g}, {off:g}] ends after the audio ({actual:g} ms)")
    if utt.segments and not utt.text.strip():
        out.append(f"has {len(utt.segments)} speech segment(s) but no reference text")
    if utt.text.strip() and not utt.segments:
        out.append("has reference text but no speech segments")
    if vad and not out:
        out += _compare_with_vad(utt)
    return out


def _compare_with_vad(utt: Utterance) -> list[str]:
    found = find_segments(utt.pcm())
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
