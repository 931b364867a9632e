"""A minimal asrx server for the client's tests until the reference server lands.

Runs in a background thread with its own event loop on 127.0.0.1, port 0. Speaks the
happy path of PROTOCOL.md with the project's VAD and one placeholder word per 320 ms of
speech; ``mode`` selects a misbehaviour for the client's error-path tests.
"""

from __future__ import annotations

import asyncio
import json
import threading
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from harness.audio.vad import SpeechEnd, SpeechSegmenter, SpeechStart

WORD_BYTES = 320 * 32


class MiniServer:
    def __init__(self, apikey: str = "test-key", mode: str = "ok", ssl: object = None) -> None:
        self.apikey = apikey
        self.ssl = ssl
        self.mode = mode
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Future[None] | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MiniServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("mini server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(lambda: self._stop and self._stop.set_result(None))
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    def _auth(self, conn: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("apikey") != self.apikey:
            return Response(HTTPStatus.UNAUTHORIZED, "Unauthorized", Headers(), b"bad key\n")
        return None

    async def _main(self) -> None:
        self._stop = self._loop.create_future()
        async with serve(
            self._handle, "127.0.0.1", 0, process_request=self._auth, ssl=self.ssl
        ) as server:
            port = server.sockets[0].getsockname()[1]
            self.url = f"{'wss' if self.ssl else 'ws'}://localhost:{port}/asrx"
            self._ready.set()
            await self._stop

    async def _handle(self, ws: ServerConnection) -> None:
        vad = SpeechSegmenter()
        words = 0
        speech_bytes = 0
        sentences = 0

        async def say(text: str, new: bool) -> None:
            await ws.send(json.dumps({"text": text, "state": "NewSentence" if new else "Sentence"}))

        async for msg in ws:
            if isinstance(msg, bytes):
                if self.mode == "drop-mid-stream":
                    await ws.close(1011, "boom")
                    return
                for ev in vad.feed(msg):
                    if isinstance(ev, SpeechStart):
                        words, speech_bytes, sentences = 0, 0, sentences + 1
                    elif isinstance(ev, SpeechEnd):
                        await say(" ".join(f"w{i}" for i in range(max(words, 1))) + ".", False)
                if vad.in_speech:
                    speech_bytes += len(msg)
                    if speech_bytes // WORD_BYTES > words:
                        words = speech_bytes // WORD_BYTES
                        await say(
                            " ".join(f"w{i}" for i in range(words)), words == 1 and sentences > 1
                        )
                continue
            if json.loads(msg) != {"data": {"status": "CloseConnection"}}:
                continue
            if vad.flush():
                await say(" ".join(f"w{i}" for i in range(max(words, 1))) + ".", False)
            if self.mode == "never-confirm":
                await asyncio.shield(self._stop)  # type: ignore[arg-type]
            await say("Confirm Close Connection", False)
            if self.mode == "never-close":
                await asyncio.shield(self._stop)  # type: ignore[arg-type]
            await ws.close(1000)
            return
