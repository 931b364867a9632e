"""A server that is not ours and differs from a conforming one in one way only: its
confirmation carries no ``state`` (``{"text": "Confirm Close Connection"}``).

It is a WebSocket proxy, written on websockets' own asyncio server and client, in front of
the reference server: it forwards the handshake's headers (a refusal comes back as the same
HTTP status), every message both ways, and the close code (a drop as a drop), and removes
``state`` from the confirmation. Run it with ``with confirmation_without_state(url) as url``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Request, Response

CONFIRMATION = "Confirm Close Connection"
#: Request headers that belong to the WebSocket handshake itself, not to the application.
_OWN_HEADERS = {"host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version"}


def strip_state(message: str | bytes) -> str | bytes:
    if isinstance(message, bytes):
        return message
    try:
        obj = json.loads(message)
    except ValueError:
        return message
    if isinstance(obj, dict) and obj.get("text") == CONFIRMATION and "state" in obj:
        del obj["state"]
        return json.dumps(obj)
    return message


class ConfirmProxy:
    def __init__(self, backend: str) -> None:
        self.backend = backend.rstrip("/").rsplit("/", 1)[0]  # ws://host:port
        self.url = ""
        self._backends: dict[int, ClientConnection] = {}
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="confirm-proxy", daemon=True)

    async def _open(self, conn: ServerConnection, request: Request) -> Response | None:
        headers = [(k, v) for k, v in request.headers.raw_items() if k.lower() not in _OWN_HEADERS]
        try:
            backend = await connect(
                self.backend + request.path, additional_headers=headers, open_timeout=10
            )
        except InvalidStatus as exc:
            return conn.respond(exc.response.status_code, "refused by the backend\n")
        self._backends[id(conn)] = backend
        return None

    async def _handle(self, client: ServerConnection) -> None:
        backend = self._backends.pop(id(client))

        async def upstream() -> None:
            with contextlib.suppress(ConnectionClosed):
                async for message in client:
                    await backend.send(message)
            await backend.close()

        async def downstream() -> None:
            with contextlib.suppress(ConnectionClosed):
                async for message in backend:
                    await client.send(strip_state(message))
            code = backend.close_code
            if code is None or code == 1006:
                client.transport.abort()
            else:
                await client.close(code, backend.close_reason or "")

        up = asyncio.create_task(upstream())
        await downstream()
        up.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
            await up

    def _run(self) -> None:
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with serve(self._handle, "127.0.0.1", 0, process_request=self._open) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            self.url = f"ws://127.0.0.1:{port}/asrx"
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> str:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the proxy did not start")
        return self.url

    def __exit__(self, *exc: Any) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@contextlib.contextmanager
def confirmation_without_state(backend_url: str) -> Iterator[str]:
    with ConfirmProxy(backend_url) as url:
        yield url
