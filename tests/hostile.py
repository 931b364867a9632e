"""Small hostile asrx servers, each breaking the protocol in one way, for any test to use.

::

    with hostile_server("invalid-utf8") as url:
        ...  # ws://127.0.0.1:PORT/asrx; any key is accepted

Each server runs its own asyncio loop in a daemon thread, so the same context manager
serves an asyncio test, a gevent greenlet, a Locust run or an ``asrx`` subprocess. It is
written on websockets' Sans-I/O ``ServerProtocol`` (which, unlike a WebSocket server
library's high-level API, sends whatever bytes it is given: invalid UTF-8, 5 MiB messages)
and shares no code with the harness.

The shape of every session: a transcript every ``EVERY`` audio frames (the first opens a
sentence), then on the end-of-stream a final transcript, the confirmation and a close with
1000. ``KINDS`` names the one way each server departs from that; ``EXPECTED`` says how a
client built on the harness core must see it (end kind and rule ids, in order).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

from harness.protocol.ending import SessionEnd

#: A transcript goes out after every this many audio frames (and on the trigger frame).
EVERY = 5
#: The audio frame (1-based) at which a mid-stream defect happens.
TRIGGER = 3
#: The "oversize" message: announced in one frame header, then poured in chunks, so the
#: server never holds it and a client that buffers it shows in its RSS.
OVERSIZE_BYTES = 64 << 20
#: Terminal and HTML injection: OSC retitle, clear screen, colour, NUL, C1 CSI, bidi
#: override, a script tag.
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x00nul\x9b31m\u202eevil<script>alert(1)</script>"

KINDS: dict[str, str] = {
    "well-behaved": "follows the protocol",
    "invalid-utf8": "a text frame that is not UTF-8, mid-stream",
    "oversize": f"one {OVERSIZE_BYTES >> 20} MiB text message, mid-stream",
    "oversize-fragments": "a message in 1 KiB fragments that never ends, mid-stream",
    "fragmented": "every transcript split over three frames (legal)",
    "binary": "transcripts in binary frames",
    "confirm-no-state": "a confirmation without 'state'",
    "close-1013": "closes with 1013 (try again later) mid-stream",
    "close-1001": "closes with 1001 (going away) mid-stream",
    "close-4000": "closes with 4000 mid-stream (not a lawful error close)",
    "never-confirm": "answers the end-of-stream with a final transcript, never a confirmation",
    "drop-tcp": "drops the TCP connection mid-stream, no close frame",
    "escapes": "transcripts full of terminal escapes, NUL, bidi and HTML, and one "
    "such message that is not JSON",
}

EXPECTED: dict[str, tuple[SessionEnd, tuple[str, ...]]] = {
    "well-behaved": (SessionEnd.COMPLETED, ()),
    "invalid-utf8": (SessionEnd.INVALID_UTF8, ("3.utf8",)),
    "oversize": (SessionEnd.MESSAGE_TOO_BIG, ("3.size",)),
    "oversize-fragments": (SessionEnd.MESSAGE_TOO_BIG, ("3.size",)),
    "fragmented": (SessionEnd.COMPLETED, ()),
    "binary": (SessionEnd.COMPLETED, ("3.text-frame",)),
    "confirm-no-state": (SessionEnd.COMPLETED, ("3.state",)),
    "close-1013": (SessionEnd.CLOSED, ("4.confirm",)),
    "close-1001": (SessionEnd.CLOSED, ("4.confirm",)),
    "close-4000": (SessionEnd.CLOSED, ("3.error-reply", "4.confirm")),
    "never-confirm": (SessionEnd.CONFIRM_TIMEOUT, ("4.confirm", "4.close-in-time")),
    "drop-tcp": (SessionEnd.DROPPED, ("3.error-reply", "4.confirm")),
    "escapes": (SessionEnd.COMPLETED, ("3.json",)),
}


def _message(text: str, state: str | None) -> bytes:
    obj: dict[str, str] = {"text": text}
    if state is not None:
        obj["state"] = state
    return json.dumps(obj, ensure_ascii=False).encode()


@dataclass
class _Session:
    kind: str
    proto: ServerProtocol
    writer: asyncio.StreamWriter
    frames: int = 0
    said: int = 0
    #: Bytes of an oversize message to pour before anything else is sent.
    pour: int = 0

    def flush(self) -> None:
        for data in self.proto.data_to_send():
            if data:
                self.writer.write(data)
            else:
                self.writer.close()

    def transcript(self, text: str) -> None:
        state = "NewSentence" if self.said == 0 else "Sentence"
        if self.kind == "escapes":
            text = f"{text} {ESCAPES}"
        self.said += 1
        data = _message(text, state)
        if self.kind == "binary":
            self.proto.send_binary(data)
        elif self.kind == "fragmented":
            third = max(1, len(data) // 3)
            self.proto.send_text(data[:third], fin=False)
            self.proto.send_continuation(data[third : 2 * third], fin=False)
            self.proto.send_continuation(data[2 * third :], fin=True)
        else:
            self.proto.send_text(data)

    def on_audio(self) -> None:
        self.frames += 1
        if self.frames == TRIGGER and self._defect():
            return
        if self.kind == "oversize-fragments" and self.frames > TRIGGER:
            # The unfinished message stays open: another message now would make websockets
            # raise, and the abort that follows would drop the fragments not yet read.
            return
        if self.frames % EVERY == 1:
            self.transcript(f"word{self.said + 1}")

    def _defect(self) -> bool:
        """The mid-stream defect of this kind, if it has one; True when it happened."""
        k = self.kind
        if k == "invalid-utf8":
            self.proto.send_text(b'{"text": "caf\xc3\x28 \xff", "state": "NewSentence"}')
        elif k == "oversize":
            self.pour = OVERSIZE_BYTES
        elif k == "oversize-fragments":
            self.proto.send_text(b'{"text": "', fin=False)
            for _ in range(2048):  # 2 MiB in all, never finished
                self.proto.send_continuation(b"b" * 1024, fin=False)
        elif k.startswith("close-"):
            self.proto.send_close(int(k.removeprefix("close-")), "hostile close")
        elif k == "drop-tcp":
            self.writer.transport.abort()
        elif k == "escapes":  # raw control characters are not JSON: a 3.json finding quotes it
            self.proto.send_text(f"not json {ESCAPES}".encode())
        else:
            return False
        return True

    def on_end_of_stream(self) -> None:
        self.transcript(f"word{self.said + 1} final")
        if self.kind == "never-confirm":
            return
        state = None if self.kind == "confirm-no-state" else ""
        self.proto.send_text(_message("Confirm Close Connection", state))
        self.proto.send_close(1000)


async def _pour(writer: asyncio.StreamWriter, size: int) -> None:
    """One text frame of ``size`` bytes (a valid transcript), written 64 KiB at a time."""
    head, tail = b'{"text": "', b'", "state": "NewSentence"}'
    writer.write(bytes([0x81, 127]) + size.to_bytes(8, "big") + head)
    left = size - len(head) - len(tail)
    chunk = b"a" * 65536
    while left > 0:
        writer.write(chunk[:left])
        left -= len(chunk)
        await writer.drain()
    writer.write(tail)


async def _serve(kind: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    proto = ServerProtocol()
    session = _Session(kind, proto, writer)
    try:
        while not writer.is_closing():
            data = await reader.read(65536)
            if data:
                proto.receive_data(data)
            else:
                proto.receive_eof()
            for ev in proto.events_received():
                if isinstance(ev, Request):
                    proto.send_response(proto.accept(ev))
                elif isinstance(ev, Frame) and proto.close_sent is None:
                    if ev.opcode is Opcode.BINARY:
                        session.on_audio()
                    elif ev.opcode is Opcode.TEXT:
                        session.on_end_of_stream()
            if session.pour and not writer.is_closing():
                await _pour(writer, session.pour)
                session.pour = 0
            if not writer.is_closing():
                session.flush()
                await writer.drain()
            if not data:
                break
    except (OSError, AssertionError):
        pass  # the client went away, or websockets refused to send on a closed connection
    finally:
        writer.transport.abort()


class HostileServer:
    """One hostile server on 127.0.0.1 (port 0), in a thread with its own event loop."""

    def __init__(self, kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown hostile server {kind!r}: {', '.join(KINDS)}")
        self.kind = kind
        self.url = ""
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name=f"hostile-{kind}", daemon=True)

    def _run(self) -> None:
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await _serve(self.kind, reader, writer)

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/asrx"
        self._ready.set()
        async with server:
            await self._stop.wait()

    def __enter__(self) -> str:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"hostile server {self.kind} did not start")
        return self.url

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@contextlib.contextmanager
def hostile_server(kind: str) -> Iterator[str]:
    """The URL of a running ``kind`` server (see ``KINDS``), for the ``with`` block."""
    with HostileServer(kind) as url:
        yield url
