"""A session's send queue: messages, then possibly a close, in order, and bounded.

Every item is due ``delay`` seconds after it was queued (``--delay-ms``), or after the
outbox's hold (``hold_until``, set by the decoder under ``--result-latency-ms``) when that
is later. All items share one delay and the hold only moves forward, so due times never
decrease and a FIFO is a correct delay queue: the writer task waits for the head's due
time while the reader keeps reading audio.

The writer hands a message to websockets only when the socket can take it, so what a
client does not read waits here. The queue is bounded in messages and in bytes
(``SendLimits``); past either bound ``on_overflow`` is called once, the queue is dropped and
nothing more is accepted: a client that does not read cannot make the server hold its
output without limit.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed


@dataclass(frozen=True)
class SendLimits:
    #: Messages queued for one session and not yet handed to the socket.
    max_messages: int
    #: Their total size in bytes.
    max_bytes: int


@dataclass(frozen=True)
class _Item:
    due: float
    payload: str | bytes
    kind: str
    #: A close frame (``payload`` is its reason), not a message.
    close_code: int | None = None


class Outbox:
    def __init__(
        self,
        ws: ServerConnection,
        delay_s: float,
        limits: SendLimits,
        on_sent: Callable[[str], None] = lambda kind: None,
        on_overflow: Callable[[], None] = lambda: None,
    ) -> None:
        self._ws = ws
        self._delay = delay_s
        self._limits = limits
        self._on_sent = on_sent
        self._on_overflow = on_overflow
        self._items: deque[_Item] = deque()
        self._bytes = 0
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        #: Nothing queued leaves before this loop time (plus the delay).
        self._hold = 0.0
        #: A close has been queued (or the session is closing): nothing more is sent.
        self.closing = False

    @property
    def queued_bytes(self) -> int:
        return self._bytes

    def _put(self, item: _Item) -> None:
        if self.closing:
            return
        self._items.append(item)
        self._bytes += len(item.payload)
        self._wake.set()
        if len(self._items) > self._limits.max_messages or self._bytes > self._limits.max_bytes:
            self.closing = True
            self._items.clear()
            self._bytes = 0
            self._on_overflow()

    def hold_until(self, at: float) -> None:
        """Nothing queued from now on leaves before loop time ``at`` (plus the delay)."""
        self._hold = max(self._hold, at)

    def _due(self) -> float:
        return max(self._loop.time(), self._hold) + self._delay

    def send(self, payload: str | bytes, kind: str) -> None:
        self._put(_Item(self._due(), payload, kind))

    def close(self, code: int, reason: str = "") -> None:
        self._put(_Item(self._due(), reason, "close", close_code=code))
        self.closing = True

    async def run(self) -> None:
        """The writer task: until the queued close is done or the connection goes."""
        try:
            while True:
                while not self._items:
                    if self.closing:
                        return  # nothing queued will ever follow
                    self._wake.clear()
                    await self._wake.wait()
                item = self._items[0]
                wait = item.due - self._loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue  # the queue may have been dropped meanwhile
                self._items.popleft()
                self._bytes -= len(item.payload)
                if item.close_code is not None:
                    await self._ws.close(item.close_code, str(item.payload))
                    return
                await self._ws.send(item.payload)
                self._on_sent(item.kind)
        except ConnectionClosed:
            return
