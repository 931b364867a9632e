"""The audio a graded client streams: one corpus utterance, written where the client can
read it, as raw PCM (``{audio}``) and as WAV (``{audio_wav}``)."""

from __future__ import annotations

import hashlib
import wave
from dataclasses import dataclass
from pathlib import Path

from harness.corpus import Utterance, default_corpus_dir, load_corpus
from harness.errors import UsageError
from harness.protocol.audio import BYTES_PER_SECOND, CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH


@dataclass(frozen=True)
class GradeAudio:
    utterance: str
    pcm_path: Path
    wav_path: Path
    #: Length and SHA-256 of the PCM: what the server must receive, byte for byte.
    pcm_bytes: int
    sha256: str
    #: The first bytes of the WAV file (its header), to recognize it sent as audio.
    wav_head: str

    @property
    def duration_s(self) -> float:
        return self.pcm_bytes / BYTES_PER_SECOND


def pick_utterance(corpus_dir: Path | None, utterance: str | None) -> Utterance:
    """``utterance`` of the corpus, or by default its shortest one with two or more speech
    segments (a client must show two sentences, not one)."""
    corpus = load_corpus(corpus_dir or default_corpus_dir("en"))
    if utterance is not None:
        for utt in corpus.utterances:
            if utt.id == utterance:
                if not utt.segments:
                    raise UsageError(f"utterance {utterance} has no speech: nothing to show")
                return utt
        raise UsageError(f"no utterance {utterance!r} in {corpus.root}")
    multi = sorted(
        (u for u in corpus.utterances if len(u.segments) >= 2), key=lambda u: u.duration_ms
    )
    if not multi:
        raise UsageError(f"{corpus.root}: no utterance with two or more speech segments")
    return multi[0]


def write_audio(utt: Utterance, folder: Path) -> GradeAudio:
    pcm = utt.pcm()
    pcm_path, wav_path = folder / "audio.pcm", folder / "audio.wav"
    pcm_path.write_bytes(pcm)
    with wave.open(str(wav_path), "wb") as wav:
        wav.setnchannels(CHANNELS)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm)
    head = wav_path.read_bytes()[:12].hex()
    return GradeAudio(utt.id, pcm_path, wav_path, len(pcm), hashlib.sha256(pcm).hexdigest(), head)
