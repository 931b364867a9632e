"""What a session needs from a recognition engine.

A session holds one ``Recognizer`` and drives it one sentence at a time:
``begin()``, then ``accept(pcm, hypothesis=...)`` as speech arrives (the current hypothesis
of the sentence when asked), then ``end(pcm)`` for the final text. Calls on one recognizer
are never concurrent; they may take as long as decoding takes, so engines that compute do
it off the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class EngineError(Exception):
    """The engine could not decode (e.g. a worker process died)."""


@dataclass(frozen=True)
class Decoded:
    #: The sentence's current (or final) text; "" when nothing was recognized yet.
    text: str
    #: Compute time the engine spent on this call (seconds), for the real-time factor.
    compute_s: float = 0.0


class Recognizer(Protocol):
    async def begin(self) -> None: ...

    async def accept(self, pcm: bytes, hypothesis: bool) -> Decoded: ...

    async def end(self, pcm: bytes) -> Decoded: ...

    async def close(self) -> None: ...


class Engine(Protocol):
    name: str

    async def start(self) -> None: ...

    def recognizer(self) -> Recognizer: ...

    async def stop(self) -> None: ...
