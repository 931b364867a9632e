"""A session's decoder task: runs the reader's commands, in order, against the recognizer.

The reader (``session.py``) turns audio into commands: ``Begin`` a sentence, ``Audio`` of
it, ``End`` it, ``Finish`` the stream (and ``Phantom`` for the ``text-in-silence`` fault).
The decoder batches audio to one engine call per ``partial_every_ms`` of speech (more when
it is behind, up to ``MAX_BATCH_MS``), so reading never waits for decoding, and it hands
each result to ``Replies``. ``backlog`` is the audio queued and not yet decoded; the reader
closes the session 1013 when it passes ``--max-backlog-seconds``.

With a result latency (``--result-latency-ms L``, a calibration mode) each result is held
until ``L`` after the arrival of the last audio it covers (a final: of the frame that ended
its sentence), so the server's processing latency is ``L``, not however long decoding
took. Each batch is then decoded on its own, never joined with audio queued behind it, so
the same audio sent at the same pace gives the same messages. A result decoded after its
release time goes at once and is counted late: a calibration run with late results did
not have the latency it assumed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.protocol.audio import BYTES_PER_MS, BYTES_PER_SECOND
from harness.server.config import ServerConfig
from harness.server.engines import EngineError, Recognizer
from harness.server.observability import ServerMetrics, log
from harness.server.outbox import Outbox
from harness.server.replies import Replies

#: Largest batch of queued audio handed to the decoder in one call when it is behind.
MAX_BATCH_MS = 5000


@dataclass(frozen=True)
class Begin:
    pass


@dataclass(frozen=True)
class Audio:
    pcm: bytes
    #: When the reader handed it over (loop time), for the decoder-lag metric.
    arrived: float


@dataclass(frozen=True)
class End:
    arrived: float


@dataclass(frozen=True)
class Finish:
    pass


@dataclass(frozen=True)
class Phantom:
    pass


Command = Begin | Audio | End | Finish | Phantom


class Decoder:
    def __init__(
        self,
        replies: Replies,
        outbox: Outbox,
        metrics: ServerMetrics,
        config: ServerConfig,
        clock: Callable[[], float],
        session_id: int,
    ) -> None:
        self.replies = replies
        self.outbox = outbox
        self.metrics = metrics
        self.cadence = config.partial_every_ms * BYTES_PER_MS
        self.clock = clock
        self.session_id = session_id
        latency_ms = config.result_latency_ms
        self.result_latency = None if latency_ms is None else latency_ms / 1000.0
        #: Results released later than the result latency, and the latest by how much (s).
        self.late = 0
        self.late_max_s = 0.0
        self.commands: deque[Command] = deque()
        self.wake = asyncio.Event()
        #: Bytes of audio queued and not yet decoded.
        self.backlog = 0
        #: The engine failed: why (the reader closes the session 1011).
        self.error: str | None = None

    def put(self, command: Command) -> None:
        if isinstance(command, Audio):
            self.backlog += len(command.pcm)
        self.commands.append(command)
        self.wake.set()

    async def _next(self) -> Command:
        while not self.commands:
            self.wake.clear()
            await self.wake.wait()
        return self.commands.popleft()

    async def run(self, recognizer: Recognizer) -> None:
        pending = bytearray()
        try:
            while True:
                command = await self._next()
                if isinstance(command, Begin):
                    await recognizer.begin()
                    self.replies.begin_sentence()
                elif isinstance(command, Audio):
                    pending += command.pcm
                    arrived = command.arrived
                    if self.result_latency is None:
                        arrived = self._take_queued_audio(pending, arrived)
                    if len(pending) >= self.cadence:
                        batch = bytes(pending)
                        pending.clear()
                        result = await recognizer.accept(batch, hypothesis=True)
                        self._decoded(batch, result.compute_s, arrived)
                        self.replies.partial(result.text)
                elif isinstance(command, End):
                    batch = bytes(pending)
                    pending.clear()
                    result = await recognizer.end(batch)
                    self._decoded(batch, result.compute_s, command.arrived)
                    self.replies.final(result.text)
                elif isinstance(command, Phantom):
                    self.replies.phantom()
                else:
                    self.replies.finish()
                    return
        except EngineError as exc:
            self.error = str(exc)
            log("engine_error", logging.ERROR, session=self.session_id, error=str(exc))

    def _take_queued_audio(self, pending: bytearray, arrived: float) -> float:
        """Behind? Take the audio already queued into this call; return its arrival."""
        while (
            self.commands
            and isinstance(self.commands[0], Audio)
            and len(pending) < MAX_BATCH_MS * BYTES_PER_MS
        ):
            more = self.commands.popleft()
            assert isinstance(more, Audio)
            pending += more.pcm
            arrived = more.arrived
        return arrived

    def _decoded(self, batch: bytes, compute_s: float, arrived: float) -> None:
        """Bookkeeping for a decoded batch; under a result latency, hold its result."""
        self.backlog -= len(batch)
        now = self.clock()
        self.metrics.observe_decode(len(batch) / BYTES_PER_SECOND, compute_s, now - arrived)
        if self.result_latency is None:
            return
        release = arrived + self.result_latency
        self.outbox.hold_until(release)
        if now > release:
            self.late += 1
            self.late_max_s = max(self.late_max_s, now - release)
            self.metrics.results_late.inc()

    def lateness(self) -> dict[str, Any]:
        """Under a result latency, for the session's log line: did every result go on time?"""
        if self.result_latency is None:
            return {}
        return {"results_late": self.late, "results_late_max_ms": round(self.late_max_s * 1e3, 1)}
