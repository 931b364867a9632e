"""The synthetic engine: placeholder words, NOT speech recognition.

It emits ``word1 word2 ...``, one word per ``MS_PER_WORD`` of speech audio in the sentence,
so its output depends only on how much speech the VAD found. Cheap enough for a thousand
concurrent streams; for fast tests and for measuring the harness itself.
"""

from __future__ import annotations

from harness.protocol.audio import bytes_to_ms
from harness.server.engines.base import Decoded

MS_PER_WORD = 300.0


def placeholder_text(speech_ms: float) -> str:
    n = int(speech_ms // MS_PER_WORD)
    return " ".join(f"word{i}" for i in range(1, n + 1))


class SyntheticRecognizer:
    def __init__(self) -> None:
        self._speech_ms = 0.0

    async def begin(self) -> None:
        self._speech_ms = 0.0

    async def accept(self, pcm: bytes, hypothesis: bool) -> Decoded:
        self._speech_ms += bytes_to_ms(len(pcm))
        return Decoded(placeholder_text(self._speech_ms) if hypothesis else "")

    async def end(self, pcm: bytes) -> Decoded:
        self._speech_ms += bytes_to_ms(len(pcm))
        # A sentence always has at least one word: the VAD found speech in it.
        return Decoded(placeholder_text(max(self._speech_ms, MS_PER_WORD)))

    async def close(self) -> None:
        return None


class SyntheticEngine:
    name = "synthetic"

    async def start(self) -> None:
        return None

    def recognizer(self) -> SyntheticRecognizer:
        return SyntheticRecognizer()

    async def stop(self) -> None:
        return None
