"""One server session: audio in, VAD sentences, transcripts out (docs/protocol.md §2-§4).

Three tasks per session, so that reading audio never waits for decoding or sending:

- the **reader** (``ServerSession.run``, this module) receives frames, carries odd bytes,
  runs the VAD and turns speech into commands for the decoder; it answers bad text frames,
  and watches the idle timeout and the session-length cap;
- the **decoder** (``decoder.py``) runs those commands against the engine's recognizer and
  hands each result to ``Replies`` (``replies.py``), which builds the messages;
- the **writer** (``Outbox.run``, ``outbox.py``) sends them, each held back by ``--delay-ms``
  (and under ``--result-latency-ms`` until its release time).

Nothing is sent for silence. Memory per session is bounded: a ring of recent audio (one
frame plus pre-roll), at most ``max_backlog_s`` of audio waiting for the decoder, and the
send bounds of ``Outbox`` and ``AsrxConnection``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed

from harness.audio.vad import SpeechSegmenter, SpeechStart
from harness.protocol.audio import BYTES_PER_MS, BYTES_PER_SECOND, ms_to_bytes
from harness.server import faults as F
from harness.server.config import ServerConfig
from harness.server.connection import AsrxConnection
from harness.server.decoder import Audio, Begin, Decoder, End, Finish, Phantom
from harness.server.engines import Engine, Recognizer
from harness.server.faults import FaultPolicy
from harness.server.observability import ServerMetrics, log
from harness.server.outbox import Outbox, SendLimits
from harness.server.replies import Replies

#: Audio before the VAD's speech start given to the decoder (it likes a little silence).
PREROLL_MS = 200
#: Audio after the start of the sentence-ending pause given to the decoder.
TAIL_MS = 200


@dataclass
class ServerContext:
    """What all sessions of one server share."""

    config: ServerConfig
    metrics: ServerMetrics
    engine: Engine
    faults: FaultPolicy
    #: Only used by the ``shared-state`` fault: one transcript history for every session.
    shared_history: list[str] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


class ServerSession:
    def __init__(
        self,
        ws: AsrxConnection,
        ctx: ServerContext,
        on_disconnect: Callable[[], None] = lambda: None,
    ) -> None:
        self.ws = ws
        #: Called the moment the connection is gone, before the session's cleanup: a
        #: client may reconnect at once and must find its slot free.
        self.on_disconnect = on_disconnect
        self.ctx = ctx
        self.cfg = ctx.config
        self.faults = ctx.faults
        self.id = next(ctx.ids)
        self.loop = asyncio.get_running_loop()
        self.started = self.loop.time()
        limits = SendLimits(self.cfg.max_send_backlog_messages, self.cfg.max_send_backlog_bytes)
        self.outbox = Outbox(
            ws,
            self.cfg.delay_ms / 1000.0,
            limits,
            on_sent=lambda kind: ctx.metrics.messages.labels(kind).inc(),
            on_overflow=lambda: ws.shed("send backlog limit: too many unsent messages"),
        )
        self.replies = Replies(
            self.outbox, self.cfg.dialect, self.faults, ctx.shared_history, self.started
        )
        self.decoder = Decoder(
            self.replies, self.outbox, ctx.metrics, self.cfg, self.loop.time, self.id
        )
        self.segmenter = SpeechSegmenter(end_silence_ms=self.cfg.end_silence_ms)
        # Audio bookkeeping, in bytes from the start of the stream.
        self.pos = 0
        self.ring = bytearray()
        self.ring_start = 0
        self.carry = b""
        self.in_sentence = False
        self.fed_upto = 0
        self.unsent = bytearray()  # speech fed but not yet handed to the decoder
        self.floor = 0  # a new sentence's pre-roll never reaches back into the last one
        self.audio_bytes = 0
        self.silence_bytes = 0
        self.eos = False
        self.closer: asyncio.Task[None] | None = None
        # When the last message arrived and when the session must end.
        self.last_rx = self.started
        self.deadline = self.started + self.cfg.max_session_s

    # -- the reader ---------------------------------------------------------------------

    async def run(self, recognizer: Recognizer) -> None:
        writer = asyncio.create_task(self.outbox.run(), name=f"writer-{self.id}")
        decoder = asyncio.create_task(self.decoder.run(recognizer), name=f"decoder-{self.id}")
        # One timer per session, re-armed lazily, bounds the wait for the next message:
        # cheaper than a wait_for (a task and a timer) around every frame.
        self.watchdog = self.loop.call_at(self._watch_at(), self._watch)
        try:
            while True:
                try:
                    message = await self.ws.recv()
                except ConnectionClosed:
                    break
                self.last_rx = self.loop.time()
                self.ws.received(message, self.last_rx)
                if self.closer is not None:
                    continue  # closing: drain what the client still sends
                if isinstance(message, bytes):
                    self._on_audio(message)
                else:
                    self._on_text(message)
                if decoder.done() and self.decoder.error:
                    self._close_soon(1011, self.decoder.error)
        finally:
            self.watchdog.cancel()
            self.on_disconnect()
            await self._cleanup(recognizer, writer, decoder)

    def _watch_at(self) -> float:
        return min(self.last_rx + self.cfg.idle_timeout_s, self.deadline)

    def _watch(self) -> None:
        """Idle timeout and session-length cap; a client that ignores the close is cut."""
        now = self.loop.time()
        idle = self.cfg.idle_timeout_s
        if self.closer is None:
            if now >= self.deadline:
                self._close_soon(1008, "session length limit")
            elif now >= self.last_rx + idle:
                self._close_soon(1000, "idle timeout")
            if self.closer is not None:
                self.deadline = now + idle  # the closing handshake gets one idle period
        elif now >= self.deadline:
            self.ws.transport.abort()
            return
        else:
            self.deadline = min(self.deadline, now + idle)
        self.watchdog = self.loop.call_at(self._watch_at(), self._watch)

    async def run_rejected(self) -> None:
        """``bad-key-close-late``: a session with a bad key, closed 1008 only late."""
        timer = self.loop.call_later(F.LATE_CLOSE_S, self._close_soon, 1008, "invalid apikey")
        try:
            async for _ in self.ws:
                pass  # nothing a rejected client sends is used
        except ConnectionClosed:
            pass
        finally:
            timer.cancel()
            if self.closer is not None:
                await asyncio.gather(self.closer, return_exceptions=True)
        self._log_end()

    def _close_soon(self, code: int, reason: str) -> None:
        """Start closing; the reader keeps reading meanwhile. (Awaiting the close in the
        reader would deadlock: the client's close frame sits behind unread frames.)"""
        if self.closer is None:
            self.outbox.closing = True
            self.closer = asyncio.create_task(self.ws.close(code, reason))

    def _on_audio(self, frame: bytes) -> None:
        if self.eos:
            return
        self.audio_bytes += len(frame)
        self.ctx.metrics.audio_seconds.inc(len(frame) / BYTES_PER_SECOND)
        if len(frame) % 2 and self.faults.close_on_odd_frame:
            self._close_soon(1011, "odd-length audio frame")
            return
        data = self.carry + frame
        cut = len(data) - len(data) % 2  # carry the half sample into the next frame
        data, self.carry = data[:cut], data[cut:]
        if not data:
            return
        now = self.loop.time()
        self.ring += data
        self.pos += len(data)
        for event in self.segmenter.feed(data):
            at = ms_to_bytes(event.at_ms)
            if isinstance(event, SpeechStart):
                self._begin(max(at - PREROLL_MS * BYTES_PER_MS, self.ring_start, self.floor))
            else:
                self._end(min(at + TAIL_MS * BYTES_PER_MS, self.pos), now)
        if self.in_sentence:
            self._feed_to(self.pos, now)
        elif self.faults.text_in_silence:
            self.silence_bytes += len(data)
            while self.silence_bytes >= F.PHANTOM_EVERY_MS * BYTES_PER_MS:
                self.silence_bytes -= F.PHANTOM_EVERY_MS * BYTES_PER_MS
                self.decoder.put(Phantom())
        keep = PREROLL_MS * BYTES_PER_MS + 64 * BYTES_PER_MS
        if len(self.ring) > keep:
            drop = len(self.ring) - keep
            del self.ring[:drop]
            self.ring_start += drop
        if self.decoder.backlog > self.cfg.max_backlog_s * BYTES_PER_SECOND:
            self._close_soon(1013, "decoder overloaded")

    def _on_text(self, text: str) -> None:
        if self.eos:
            return  # nothing a client says after end-of-stream changes the closing
        try:
            obj: Any = json.loads(text)
        except (ValueError, RecursionError):
            if self.faults.drop_on_malformed_text:
                self.outbox.closing = True
                self.ws.transport.abort()
                return
            self.replies.error("malformed JSON text frame", self.loop.time())
            return
        if self.cfg.dialect.is_end_of_stream(obj):
            self.eos = True
            for event in self.segmenter.flush():
                if not isinstance(event, SpeechStart):
                    self._end(self.pos, self.loop.time())
            self.decoder.put(Finish())
        else:
            self.replies.error(
                "unknown text message: expected audio or the end-of-stream message",
                self.loop.time(),
            )

    def _begin(self, start: int) -> None:
        self.in_sentence = True
        self.fed_upto = start
        self.silence_bytes = 0
        self.decoder.put(Begin())

    def _end(self, end: int, now: float) -> None:
        self._feed_to(end, now)
        self._hand_over(now)
        self.in_sentence = False
        self.floor = max(end, self.fed_upto)
        self.decoder.put(End(now))

    def _feed_to(self, end: int, now: float) -> None:
        if end <= self.fed_upto:
            return
        self.unsent += self.ring[self.fed_upto - self.ring_start : end - self.ring_start]
        self.fed_upto = end
        # The decoder decodes once per partial_every_ms of speech: waking it for every
        # frame only to wait for more would cost a task switch per frame.
        if len(self.unsent) >= self.cfg.partial_every_ms * BYTES_PER_MS:
            self._hand_over(now)

    def _hand_over(self, now: float) -> None:
        if self.unsent:
            pcm = bytes(self.unsent)
            self.unsent.clear()
            self.decoder.put(Audio(pcm, now))

    # -- the end ------------------------------------------------------------------------

    async def _cleanup(
        self, recognizer: Recognizer, writer: asyncio.Task[None], decoder: asyncio.Task[None]
    ) -> None:
        decoder.cancel()
        if not writer.done():
            # The writer may be completing the closing handshake it started.
            await asyncio.wait({writer}, timeout=1.0)
            writer.cancel()
        await asyncio.gather(writer, decoder, return_exceptions=True)
        if self.closer is not None:
            await asyncio.gather(self.closer, return_exceptions=True)
        await recognizer.close()
        self._log_end()

    def _log_end(self) -> None:
        code = self.ws.close_code
        self.ctx.metrics.sessions.labels(str(code)).inc()
        if self.ws.shed_reason:
            self.ctx.metrics.send_backlog_exceeded.inc()
        log(
            "session_end",
            session=self.id,
            duration_s=round(self.loop.time() - self.started, 3),
            audio_s=round(self.audio_bytes / BYTES_PER_SECOND, 3),
            sentences=self.replies.sentences,
            close_code=code,
            close_reason=self.ws.shed_reason or self.ws.close_reason,
            peer=str(self.ws.remote_address[0]) if self.ws.remote_address else None,
            **self.decoder.lateness(),
        )
