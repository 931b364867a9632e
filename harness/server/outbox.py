"""A session's send queue: messages, then possibly a close or a TCP abort, in order.

Every item is due ``delay`` seconds after it was queued (``--delay-ms``). All items share
one delay, so due times never decrease and a FIFO is a correct delay queue: the writer
task waits for the head's due time while the reader keeps reading audio.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed


@dataclass(frozen=True)
class _Item:
    due: float
    action: str  # "send" | "close" | "abort"
    payload: str | bytes = ""
    code: int = 1000
    kind: str = ""


class Outbox:
    def __init__(
        self,
        ws: ServerConnection,
        delay_s: float,
        on_sent: Callable[[str], None] = lambda kind: None,
    ) -> None:
        self._ws = ws
        self._delay = delay_s
        self._on_sent = on_sent
        self._items: deque[_Item] = deque()
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        #: A close or abort has been queued: nothing after it will be sent.
        self.closing = False

    def _put(self, item: _Item) -> None:
        if self.closing:
            return
        self._items.append(item)
        self._wake.set()

    def send(self, payload: str | bytes, kind: str) -> None:
        self._put(_Item(self._loop.time() + self._delay, "send", payload, kind=kind))

    def close(self, code: int, reason: str = "") -> None:
        self._put(_Item(self._loop.time() + self._delay, "close", reason, code=code))
        self.closing = True

    def abort(self) -> None:
        self._put(_Item(self._loop.time() + self._delay, "abort"))
        self.closing = True

    async def run(self) -> None:
        """The writer task: until a close/abort is done or the connection goes."""
        try:
            while True:
                while not self._items:
                    self._wake.clear()
                    await self._wake.wait()
                item = self._items.popleft()
                wait = item.due - self._loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if item.action == "send":
                    await self._ws.send(item.payload)
                    self._on_sent(item.kind)
                elif item.action == "close":
                    await self._ws.close(item.code, str(item.payload))
                    return
                else:
                    self._ws.transport.abort()
                    return
        except ConnectionClosed:
            return
