"""The server's WebSocket connection: websockets' ``ServerConnection`` plus the bounds and
the bookkeeping a public server needs.

**Send backlog.** websockets answers every ping with a pong on its own, written straight
to the transport, whose buffer asyncio never bounds: a client that floods pings and never
reads makes the server hold every pong. After each read from the socket the connection
checks the transport's write buffer (``get_write_buffer_size``, the asyncio API); past
``max_send_backlog_bytes`` it *sheds* the client. The session's own queue (``Outbox``)
sheds the same way past its bounds.

**Shedding** fails the connection the way RFC 6455 §7.1.7 says and websockets does on a
protocol error: a close frame 1008 goes after what is already buffered, nothing more the
client sends is processed (so no more pongs), and a client that still has not read it after
``SHED_GRACE_S`` loses its TCP connection.

**Observation.** With ``--record-clients`` the connection carries a ``SessionRecorder``
(``seen``, set at the handshake) and tells it every message the session's reader got
(``received``) and every message sent, the client's close frame as it arrives and the end of
the connection (``clientlog.py``).

**Slot.** A connection that was given a session slot at the handshake gives it back exactly
once, at the first of: the handshake not ending in 101, the session's end, or the TCP
connection going (a client that resets before the 101 never reaches a session).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable
from typing import Any, cast

from websockets.asyncio.server import ServerConnection
from websockets.typing import Data, DataLike

from harness.server.clientlog import SessionRecorder

#: Close code for a client that does not read what it is sent ("policy violation": the
#: server is not overloaded, the client broke the contract of reading its replies).
SHED_CLOSE_CODE = 1008
SHED_REASON = "send backlog limit: client not reading"
#: Time a shed client has to read the close frame before its TCP connection is reset.
SHED_GRACE_S = 2.0
DEFAULT_MAX_SEND_BACKLOG_BYTES = 1 << 20


class AsrxConnection(ServerConnection):
    #: Bytes the transport may hold for a client before the client is shed.
    max_send_backlog_bytes: int = DEFAULT_MAX_SEND_BACKLOG_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: The key was refused but the ``bad-key-close-late`` fault serves the session.
        self.rejected = False
        #: Why the connection was shed ("" when it was not).
        self.shed_reason = ""
        self._give_back: Callable[[], None] | None = None
        #: What the client does, when the server records clients (``--record-clients``).
        self.seen: SessionRecorder | None = None

    @classmethod
    def bounded(cls, max_send_backlog_bytes: int) -> type[AsrxConnection]:
        """The class to give ``serve(create_connection=...)`` for these bounds."""
        attrs = {"max_send_backlog_bytes": max_send_backlog_bytes}
        return cast(type[AsrxConnection], type(cls.__name__, (cls,), attrs))

    # -- the session slot -----------------------------------------------------------------

    def hold_slot(self, give_back: Callable[[], None]) -> None:
        self._give_back = give_back

    def release_slot(self) -> None:
        """Give the slot back (once; later calls do nothing)."""
        give_back, self._give_back = self._give_back, None
        if give_back is not None:
            give_back()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.release_slot()
        if self.seen is not None:
            self.seen.ended(self.protocol, self.loop.time())

    # -- observation ----------------------------------------------------------------------

    def received(self, message: Data, at: float) -> None:
        """The session's reader got ``message`` at ``at``."""
        if self.seen is not None:
            self.seen.received(message, at)

    async def send(
        self,
        message: DataLike | Iterable[DataLike] | AsyncIterable[DataLike],
        *,
        text: bool | None = None,
    ) -> None:
        if self.seen is not None:
            self.seen.sent(message, self.loop.time())
        await super().send(message, text=text)

    # -- the send backlog ---------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.seen is not None:
            self.seen.data_received(self.protocol, self.loop.time())
        if not self.shed_reason and (
            self.transport.get_write_buffer_size() > self.max_send_backlog_bytes
        ):
            self.shed(SHED_REASON)

    def shed(self, reason: str) -> None:
        """Fail the connection with 1008: the client does not read what it is sent."""
        if self.shed_reason:
            return
        self.shed_reason = reason
        # As websockets fails a connection on a protocol error: close frame, end of
        # stream, and everything the client sends from now on is discarded unread.
        self.protocol.fail(SHED_CLOSE_CODE, reason)
        self.send_data()
        self.loop.call_later(SHED_GRACE_S, self.transport.abort)
