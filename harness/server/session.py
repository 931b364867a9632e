"""One server session: audio in, VAD sentences, transcripts out (PROTOCOL.md §2-§4).

Three tasks per session, so that reading audio never waits for decoding or sending:

- the **reader** (``run``) receives frames, carries odd bytes, runs the VAD and turns
  speech into commands (``Begin``, ``Audio``, ``End``, ``Finish``) for the decoder;
- the **decoder** task runs those commands in order against the engine's recognizer,
  batching audio to one call per ``partial_every_ms`` of speech (more when behind), and
  queues the resulting messages;
- the **writer** (``Outbox.run``) sends them, each held back by ``--delay-ms``.

Messages. Every message is ``{"text": str, "state": str}``. The first message of *every*
sentence, the very first included, has state ``NewSentence``; later messages of the
sentence (partials, then the final) have state ``Sentence``; the final one also carries
``"final": true``. The confirmation is ``{"text": "Confirm Close Connection", "state": ""}``.
Errors in reply to bad text frames are ``{"text": "", "state": "Error", "error": "..."}``.
Nothing is sent for silence. Memory per session is bounded: a ring of recent audio (one
frame plus pre-roll) and at most ``max_backlog_s`` of audio waiting for the decoder.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from harness.audio.vad import SpeechSegmenter, SpeechStart
from harness.protocol.audio import BYTES_PER_MS, BYTES_PER_SECOND, ms_to_bytes
from harness.server import faults as F
from harness.server.config import ServerConfig
from harness.server.engines import Engine, EngineError, Recognizer
from harness.server.observability import ServerMetrics, log
from harness.server.outbox import Outbox

#: Audio before the VAD's speech start given to the decoder (it likes a little silence).
PREROLL_MS = 200
#: Audio after the start of the sentence-ending pause given to the decoder.
TAIL_MS = 200
#: Largest batch of queued audio handed to the decoder in one call when it is behind.
MAX_BATCH_MS = 5000
STATE_SENTENCE = "Sentence"
STATE_ERROR = "Error"
STATE_CONFIRM = ""


@dataclass
class ServerContext:
    """What all sessions of one server share."""

    config: ServerConfig
    metrics: ServerMetrics
    engine: Engine
    #: Only used by the ``shared-state`` fault: one transcript history for every session.
    shared_history: list[str] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def has(self, fault: str) -> bool:
        return fault in self.config.faults


@dataclass(frozen=True)
class _Begin:
    pass


@dataclass(frozen=True)
class _Audio:
    pcm: bytes
    arrived: float


@dataclass(frozen=True)
class _End:
    arrived: float


@dataclass(frozen=True)
class _Finish:
    pass


@dataclass(frozen=True)
class _Phantom:
    pass


_Command = _Begin | _Audio | _End | _Finish | _Phantom


class ServerSession:
    def __init__(
        self,
        ws: ServerConnection,
        ctx: ServerContext,
        on_disconnect: Callable[[], None] = lambda: None,
    ) -> None:
        self.ws = ws
        #: Called the moment the connection is gone, before the session's cleanup: a
        #: client may reconnect at once and must find its slot free.
        self.on_disconnect = on_disconnect
        self.ctx = ctx
        self.cfg = ctx.config
        self.id = next(ctx.ids)
        self.loop = asyncio.get_running_loop()
        self.started = self.loop.time()
        self.outbox = Outbox(
            ws, self.cfg.delay_ms / 1000.0, lambda kind: ctx.metrics.messages.labels(kind).inc()
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
        # Decoder side.
        self.commands: deque[_Command] = deque()
        self.wake = asyncio.Event()
        self.backlog = 0
        self.sentences = 0
        self.sentence_messages = 0
        self.last_text = ""
        self.held_final: str | bytes | None = None
        self.stalled = False
        self.error: str | None = None
        self.closer: asyncio.Task[None] | None = None
        # Reader side: when the last message arrived and when the session must end.
        self.last_rx = self.started
        self.deadline = self.started + self.cfg.max_session_s

    # -- reader -----------------------------------------------------------------------

    async def run(self, recognizer: Recognizer) -> None:
        writer = asyncio.create_task(self.outbox.run(), name=f"writer-{self.id}")
        decoder = asyncio.create_task(self._decode(recognizer), name=f"decoder-{self.id}")
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
                if self.closer is not None:
                    continue  # closing: drain what the client still sends
                if isinstance(message, bytes):
                    self._on_audio(message)
                else:
                    self._on_text(message)
                if decoder.done() and self.error:
                    self._close_soon(1011, self.error)
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
        self._log_end(sentences=0)

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
        if len(frame) % 2 and self.ctx.has("odd-frame-1011"):
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
        elif self.ctx.has("text-in-silence"):
            self.silence_bytes += len(data)
            while self.silence_bytes >= F.PHANTOM_EVERY_MS * BYTES_PER_MS:
                self.silence_bytes -= F.PHANTOM_EVERY_MS * BYTES_PER_MS
                self._command(_Phantom())
        keep = PREROLL_MS * BYTES_PER_MS + 64 * BYTES_PER_MS
        if len(self.ring) > keep:
            drop = len(self.ring) - keep
            del self.ring[:drop]
            self.ring_start += drop
        if self.backlog > self.cfg.max_backlog_s * BYTES_PER_SECOND:
            self._close_soon(1013, "decoder overloaded")

    def _on_text(self, text: str) -> None:
        if self.eos:
            return  # nothing a client says after end-of-stream changes the closing
        try:
            obj: Any = json.loads(text)
        except (ValueError, RecursionError):
            if self.ctx.has("drop-on-malformed-json"):
                self.outbox.closing = True
                self.ws.transport.abort()
                return
            self._error("malformed JSON text frame")
            return
        if self.cfg.dialect.is_end_of_stream(obj):
            self.eos = True
            for event in self.segmenter.flush():
                if not isinstance(event, SpeechStart):
                    self._end(self.pos, self.loop.time())
            self._command(_Finish())
        else:
            self._error("unknown text message: expected audio or the end-of-stream message")

    def _error(self, why: str) -> None:
        payload = json.dumps({"text": "", "state": STATE_ERROR, "error": why})
        self.outbox.send(payload, "error")

    def _begin(self, start: int) -> None:
        self.in_sentence = True
        self.fed_upto = start
        self.silence_bytes = 0
        self._command(_Begin())

    def _end(self, end: int, now: float) -> None:
        self._feed_to(end, now)
        self._hand_over(now)
        self.in_sentence = False
        self.floor = max(end, self.fed_upto)
        self._command(_End(now))

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
            self.backlog += len(pcm)
            self._command(_Audio(pcm, now))

    def _command(self, command: _Command) -> None:
        self.commands.append(command)
        self.wake.set()

    # -- decoder ----------------------------------------------------------------------

    async def _next(self) -> _Command:
        while not self.commands:
            self.wake.clear()
            await self.wake.wait()
        return self.commands.popleft()

    async def _decode(self, recognizer: Recognizer) -> None:
        cadence = self.cfg.partial_every_ms * BYTES_PER_MS
        pending = bytearray()
        try:
            while True:
                command = await self._next()
                if isinstance(command, _Begin):
                    await recognizer.begin()
                    self._flush_held()
                    self.sentence_messages, self.last_text = 0, ""
                elif isinstance(command, _Audio):
                    pending += command.pcm
                    arrived = command.arrived
                    # Behind? Take what is already queued in one call.
                    while (
                        self.commands
                        and isinstance(self.commands[0], _Audio)
                        and len(pending) < MAX_BATCH_MS * BYTES_PER_MS
                    ):
                        more = self.commands.popleft()
                        assert isinstance(more, _Audio)
                        pending += more.pcm
                        arrived = more.arrived
                    if len(pending) >= cadence:
                        batch = bytes(pending)
                        pending.clear()
                        result = await recognizer.accept(batch, hypothesis=True)
                        self._decoded(batch, result.compute_s, arrived)
                        if result.text and result.text != self.last_text:
                            self._transcript(result.text, final=False)
                elif isinstance(command, _End):
                    batch = bytes(pending)
                    pending.clear()
                    result = await recognizer.end(batch)
                    self._decoded(batch, result.compute_s, command.arrived)
                    if self.sentence_messages or result.text:
                        self._transcript(result.text, final=True)
                elif isinstance(command, _Phantom):
                    self._send_transcript({"text": F.PHANTOM_TEXT, "state": STATE_SENTENCE})
                else:
                    self._finish()
                    return
        except EngineError as exc:
            self.error = str(exc)
            log("engine_error", logging.ERROR, session=self.id, error=str(exc))

    def _decoded(self, batch: bytes, compute_s: float, arrived: float) -> None:
        self.backlog -= len(batch)
        self.ctx.metrics.observe_decode(
            len(batch) / BYTES_PER_SECOND, compute_s, self.loop.time() - arrived
        )

    def _transcript(self, text: str, final: bool) -> None:
        self.last_text = text
        if self.ctx.has("shared-state"):
            history = self.ctx.shared_history
            shown = " ".join([*history, text]).strip()
            if final:
                history.append(text)
                del history[:-50]  # bounded, even when faulty
            text = shown
        first = self.sentence_messages == 0
        self.sentence_messages += 1
        if first:
            self.sentences += 1
        new = first and not self.ctx.has("never-new-sentence")
        message: dict[str, Any] = {
            "text": text,
            "state": self.cfg.dialect.new_sentence_state if new else STATE_SENTENCE,
        }
        if final:
            message["final"] = True
        if final and self.ctx.has("final-after-confirm"):
            self._flush_held()
            self.held_final = self._encode(message)
            return
        self._send_transcript(message)

    def _encode(self, message: dict[str, Any]) -> str | bytes:
        if self.ctx.has("text-not-string"):
            message = {**message, "text": str(message["text"]).split()}
        if self.ctx.has("state-missing"):
            message = {k: v for k, v in message.items() if k != "state"}
        if self.ctx.has("non-json-reply"):
            return f"{message.get('state', '')}: {message['text']}"
        payload = json.dumps(message)
        return payload.encode() if self.ctx.has("binary-reply") else payload

    def _send_transcript(self, message: dict[str, Any]) -> None:
        if self.stalled:
            return
        self.outbox.send(self._encode(message), "transcript")
        if self.ctx.has("stall-mid-stream"):
            self.stalled = True

    def _flush_held(self) -> None:
        if self.held_final is not None:
            if not self.stalled:
                self.outbox.send(self.held_final, "transcript")
            self.held_final = None

    def _finish(self) -> None:
        if self.stalled or self.ctx.has("never-confirm"):
            return  # the reader goes on until the client leaves or the idle timeout
        confirm = {"text": self.cfg.dialect.confirmation_text, "state": STATE_CONFIRM}
        self.outbox.send(json.dumps(confirm), "confirmation")
        self._flush_held()  # final-after-confirm: the last final now comes after it
        if self.ctx.has("transcript-after-confirm"):
            late = {"text": F.LATE_TEXT, "state": STATE_SENTENCE}
            self.outbox.send(json.dumps(late), "transcript")
        if self.ctx.has("confirm-never-close"):
            return
        self.outbox.close(1011 if self.ctx.has("close-1011") else 1000)

    # -- end --------------------------------------------------------------------------

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
        self._log_end(self.sentences)

    def _log_end(self, sentences: int) -> None:
        code = self.ws.close_code
        self.ctx.metrics.sessions.labels(str(code)).inc()
        log(
            "session_end",
            session=self.id,
            duration_s=round(self.loop.time() - self.started, 3),
            audio_s=round(self.audio_bytes / BYTES_PER_SECOND, 3),
            sentences=sentences,
            close_code=code,
            close_reason=self.ws.close_reason,
            peer=str(self.ws.remote_address[0]) if self.ws.remote_address else None,
        )
