"""``asrx corpus synth``: a corpus spoken by eSpeak NG, with segments known by construction.

Each sentence is synthesized on its own (``harness.audio.espeak``: the samples the
``espeak-ng`` command writes, with the synthesizer's word events), converted to 16 kHz
(``harness.audio.convert``), peak-normalized, and trimmed of eSpeak's own leading and
trailing silence with a 5 ms energy measure. The pieces are then laid out with known
silence: ``LEAD_MS`` before the first, ``PAUSE_MS`` between sentences, ``TRAIL_MS`` after
the last, each sentence starting on the VAD's 30 ms frame grid. A segment is exactly where
its piece was put, and each word exactly where eSpeak put its phonemes, moved with the
piece (the manifest's ``words``).

Because the reference server cuts sentences with ``harness.audio.vad``, every utterance
is checked against ``find_segments`` before it is written: same number of segments, each
edge within ``VAD_TOLERANCE_MS``. A sentence that fails (a long pause inside it, a word
too quiet) stops the synthesis with its text named. Each corpus also gets one utterance
of pure silence and one of low-level noise (below the VAD's energy floor), both with no
text and no segments.

The text list: one utterance a line, its sentences separated by `` | ``, words by single
spaces; blank lines and lines starting with ``#`` are skipped. In a language written without
spaces (Thai) the spaces mark the word boundaries only: eSpeak gets them (it reads Thai
words better with them, and reports each word), the manifest's text and sentences are
written without them, as the language is.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from harness.audio import espeak
from harness.audio.convert import float_to_s16le, read_pcm16k
from harness.audio.vad import FRAME_MS, find_segments
from harness.corpus.check import VAD_TOLERANCE_MS, check_corpus
from harness.corpus.manifest import Corpus, Segment, Utterance, load_corpus, write_manifest
from harness.corpus.staging import staged_folder
from harness.errors import UsageError
from harness.protocol.audio import SAMPLE_RATE, bytes_to_ms
from harness.protocol.text import metric_for
from harness.protocol.words import ReferenceWord

TEXTS_DIR = Path(__file__).with_name("texts")
#: eSpeak NG voice and speaking rate (words per minute) per language.
VOICES: dict[str, tuple[str, int]] = {"en": ("en-us", 150), "th": ("th", 150)}
LEAD_MS = 510
PAUSE_MS = 1500
#: Longer than the VAD's 600 ms end-of-speech silence, so the last sentence ends by the
#: VAD (as the others do) rather than by the end of the stream.
TRAIL_MS = 750
SILENCE_MS = 2000
NOISE_MS = 2000
#: RMS level of the noise-only utterance: audible, but under the VAD's -50 dBFS floor.
NOISE_DBFS = -60.0
#: Peak level every sentence is normalized to.
PEAK = 0.5
#: 5 ms windows quieter than this (RMS) are eSpeak's silence, trimmed off each sentence.
TRIM_DBFS = -45.0
TRIM_WINDOW = SAMPLE_RATE * 5 // 1000
#: Fade applied where a sentence is cut to the VAD's idea of speech (10 ms).
FADE_SAMPLES = SAMPLE_RATE // 100
SEPARATOR = "|"
TEXTS_COPY = "texts.txt"
#: A word's ``(start_ms, end_ms)`` within its sentence piece or utterance.
Span = tuple[float, float]


@dataclass(frozen=True)
class Plan:
    """One utterance to synthesize: its id and its sentences."""

    id: str
    sentences: tuple[str, ...]


def default_texts(lang: str) -> Path:
    return TEXTS_DIR / f"{lang}.txt"


def read_texts(path: Path, lang: str) -> list[Plan]:
    """The text list as utterance plans, numbered ``<lang>-single-NN`` / ``<lang>-multi-NN``."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read text list: {exc}") from None
    plans: list[Plan] = []
    counts = {"single": 0, "multi": 0}
    for lineno, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        sentences = tuple(s.strip() for s in line.split(SEPARATOR))
        if not all(sentences):
            raise UsageError(
                f"{path}:{lineno}: empty sentence (check the '{SEPARATOR}' separators)"
            )
        kind = "single" if len(sentences) == 1 else "multi"
        counts[kind] += 1
        plans.append(Plan(f"{lang}-{kind}-{counts[kind]:02d}", sentences))
    if not plans:
        raise UsageError(f"{path}: no sentences")
    return plans


@dataclass(frozen=True)
class Piece:
    """One synthesized sentence: 16 kHz float samples and each word's span in them (ms)."""

    samples: np.ndarray
    #: None: a word eSpeak's events do not tell apart from its neighbour.
    words: tuple[Span | None, ...]


def synthesize_sentence(text: str, voice: str, wpm: int, workdir: Path) -> Piece:
    """One sentence as 16 kHz float samples, peak-normalized and trimmed of silence."""
    speech = espeak.speak(text, voice, wpm)
    # Through a WAV file and the importer's converter, as `espeak-ng -w` output always was.
    wav = workdir / "sentence.wav"
    sf.write(str(wav), speech.samples, speech.rate, subtype="PCM_16")
    samples = np.frombuffer(read_pcm16k(wav), dtype="<i2").astype(np.float64) / 32768.0
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak == 0.0:
        raise UsageError(f"espeak-ng produced silence for {text!r} (voice {voice})")
    first, last = trim_bounds(samples * (PEAK / peak), text)
    trimmed = samples[first:last] * (PEAK / peak)
    cut, start = fit_to_vad(trimmed, text)
    offset_ms = (first + start) * 1000.0 / SAMPLE_RATE
    length_ms = len(cut) * 1000.0 / SAMPLE_RATE
    spans: list[Span | None] = []
    for word in speech.words:
        if word is None:
            spans.append(None)
            continue
        on = min(max(word[0] * 1000.0 / speech.rate - offset_ms, 0.0), length_ms)
        off = min(max(word[1] * 1000.0 / speech.rate - offset_ms, 0.0), length_ms)
        # A word all inside a trimmed edge has no sound left to time.
        spans.append((on, off) if off > on else None)
    return Piece(cut, tuple(spans))


def trim_bounds(samples: np.ndarray, text: str = "") -> tuple[int, int]:
    """From the first to past the last 5 ms window louder than ``TRIM_DBFS``."""
    n = len(samples) // TRIM_WINDOW
    windows = samples[: n * TRIM_WINDOW].reshape(n, TRIM_WINDOW)
    rms = np.sqrt(np.mean(windows * windows, axis=1))
    loud = np.flatnonzero(rms >= 10 ** (TRIM_DBFS / 20))
    if loud.size == 0:
        raise UsageError(f"synthesized audio for {text!r} is below {TRIM_DBFS:g} dBFS")
    return int(loud[0]) * TRIM_WINDOW, (int(loud[-1]) + 1) * TRIM_WINDOW


def fit_to_vad(piece: np.ndarray, text: str = "") -> tuple[np.ndarray, int]:
    """Cut off a quiet onset or breathy tail that the VAD does not count as speech.

    eSpeak ends some syllables (Thai falling tones, final aspirates) with a few hundred ms
    of faint unvoiced sound above the trim level; the VAD, and so the reference server,
    ends the sentence before it. The piece is analysed as it will be laid out (starting on
    the VAD's frame grid) and cut where the VAD says speech is, with a short fade, so that
    the segment is still exactly where the audio is. Returns the cut piece and where it
    starts in ``piece``.
    """
    lead = np.zeros(_grid(LEAD_MS))
    trail = np.zeros(TRAIL_MS * SAMPLE_RATE // 1000)
    found = find_segments(float_to_s16le(np.concatenate([lead, piece, trail])))
    if len(found) != 1:
        raise UsageError(
            f"the VAD finds {len(found)} segments in the sentence {text!r} "
            "(a long pause inside it?): write it as separate sentences"
        )
    on_ms, off_ms = (
        found[0][0] - bytes_to_ms(2 * len(lead)),
        found[0][1] - bytes_to_ms(2 * len(lead)),
    )
    start = max(0, int(on_ms * SAMPLE_RATE / 1000)) if on_ms > FRAME_MS else 0
    end = min(len(piece), int(off_ms * SAMPLE_RATE / 1000))
    if len(piece) - end <= FRAME_MS * SAMPLE_RATE // 1000:
        end = len(piece)
    cut = piece[start:end].copy()
    fade = min(len(cut), FADE_SAMPLES)
    if start:
        cut[:fade] *= np.linspace(0.0, 1.0, fade)
    if end < len(piece):
        cut[len(cut) - fade :] *= np.linspace(1.0, 0.0, fade)
    return cut, start


def _grid(ms: float) -> int:
    """``ms`` rounded up to the VAD's frame grid, in samples."""
    frames = -(-int(np.ceil(ms)) // FRAME_MS)
    return frames * FRAME_MS * SAMPLE_RATE // 1000


def lay_out(pieces: list[np.ndarray]) -> tuple[np.ndarray, tuple[Segment, ...]]:
    """Place sentence pieces with known silence; return the audio and their segments."""
    parts: list[np.ndarray] = []
    segments: list[Segment] = []
    pos = 0
    for i, piece in enumerate(pieces):
        gap_ms = LEAD_MS if i == 0 else PAUSE_MS
        start = _grid(bytes_to_ms(2 * pos) + gap_ms)
        parts += [np.zeros(start - pos), piece]
        segments.append((start * 1000 / SAMPLE_RATE, (start + len(piece)) * 1000 / SAMPLE_RATE))
        pos = start + len(piece)
    parts.append(np.zeros(TRAIL_MS * SAMPLE_RATE // 1000))
    return np.concatenate(parts), tuple(segments)


def noise(ms: int, dbfs: float = NOISE_DBFS, seed: int = 0) -> np.ndarray:
    """White noise at an RMS of ``dbfs``, reproducible."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(ms * SAMPLE_RATE // 1000) * 10 ** (dbfs / 20)


def vad_disagreement(pcm: bytes, segments: tuple[Segment, ...]) -> str | None:
    """Why ``find_segments`` disagrees with ``segments`` on ``pcm``, or None."""
    found = find_segments(pcm)
    if len(found) != len(segments):
        return f"the VAD finds {len(found)} segment(s) {found}, not {len(segments)}"
    for (on, off), (von, voff) in zip(segments, found, strict=True):
        if max(abs(on - von), abs(off - voff)) > VAD_TOLERANCE_MS:
            return (
                f"segment [{on:g}, {off:g}] is more than {VAD_TOLERANCE_MS:g} ms from "
                f"the VAD's [{von:g}, {voff:g}]"
            )
    return None


def written_form(sentence: str, lang: str) -> str:
    """A sentence as the manifest writes it: without the word-boundary spaces of a language
    written without spaces (Thai), as given otherwise."""
    return "".join(sentence.split()) if metric_for(lang) == "cer" else sentence


def synth_corpus(lang: str, out: Path, *, texts: Path | None = None, force: bool = False) -> Corpus:
    """Synthesize the text list into a new corpus folder ``out``."""
    if lang not in VOICES:
        raise UsageError(f"no synthesis voice for {lang!r} (have: {', '.join(sorted(VOICES))})")
    texts = texts or default_texts(lang)
    plans = read_texts(texts, lang)
    voice, wpm = VOICES[lang]
    source = (
        f"synthesized with eSpeak NG {espeak.version()} (voice {voice}, {wpm} wpm) by "
        "`asrx corpus synth`; text written for asrx-harness, CC0"
    )
    utterances: list[Utterance] = []
    with staged_folder(out, force=force) as staging, tempfile.TemporaryDirectory() as tmp:
        for plan in plans:
            pieces = [synthesize_sentence(s, voice, wpm, Path(tmp)) for s in plan.sentences]
            audio, segments = lay_out([p.samples for p in pieces])
            pcm = float_to_s16le(audio)
            why = vad_disagreement(pcm, segments)
            if why is not None:
                raise UsageError(f"{plan.id} ({' | '.join(plan.sentences)}): {why}")
            words = [
                ReferenceWord(word)
                if span is None
                else ReferenceWord(word, on + span[0], on + span[1])
                for sentence, piece, (on, _) in zip(plan.sentences, pieces, segments, strict=True)
                for word, span in zip(sentence.split(), piece.words, strict=True)
            ]
            sentences = tuple(written_form(s, lang) for s in plan.sentences)
            utterances.append(
                _write(staging, plan.id, lang, pcm, segments, sentences, source, tuple(words))
            )
        for uid, samples, what in (
            (f"{lang}-silence", np.zeros(SILENCE_MS * SAMPLE_RATE // 1000), "digital silence"),
            (f"{lang}-noise", noise(NOISE_MS), f"white noise at {NOISE_DBFS:g} dBFS RMS"),
        ):
            pcm = float_to_s16le(samples)
            if find_segments(pcm):
                raise UsageError(f"{uid}: the VAD finds speech in {what}")
            src = f"generated {what} by `asrx corpus synth`, CC0"
            utterances.append(_write(staging, uid, lang, pcm, (), (), src, ()))
        write_manifest(staging, utterances)
        shutil.copyfile(texts, staging / TEXTS_COPY)
        problems = check_corpus(staging)
        if problems:  # never write a corpus its own check rejects
            raise UsageError(f"the synthesized corpus would not pass its check: {problems[0]}")
    return load_corpus(out)


def _write(
    folder: Path,
    uid: str,
    lang: str,
    pcm: bytes,
    segments: tuple[Segment, ...],
    sentences: tuple[str, ...],
    source: str,
    words: tuple[ReferenceWord, ...],
) -> Utterance:
    path = folder / f"{uid}.pcm"
    path.write_bytes(pcm)
    return Utterance(
        id=uid,
        audio=path.resolve(),
        lang=lang,
        text=" ".join(sentences),
        duration_ms=bytes_to_ms(len(pcm)),
        segments=segments,
        source=source,
        sentences=sentences,
        words=words,
    )
