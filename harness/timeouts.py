"""Every wait the harness makes, with its name and default, in one place (seconds).

docs/protocol.md §4 sets the defaults for the closing sequence. Callers may scale them all at
once (``Timeouts.scaled``), as the conformance suite's ``--asrx-timeout-scale`` does. The
bounds on what a client keeps of a server's output live beside them, in ``harness.limits``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Timeouts:
    #: TCP + TLS + WebSocket opening handshake.
    open: float = 10.0
    #: From the end-of-stream message to the ``Confirm Close Connection`` message.
    confirm: float = 10.0
    #: From the confirmation to the WebSocket close frame.
    close: float = 5.0
    #: A rejected (unauthenticated) session must be closed by then (docs/protocol.md §1).
    reject_close: float = 2.0
    #: Handing one frame to the socket (a stalled TCP window must not hang the sender).
    send: float = 10.0

    def scaled(self, factor: float) -> Timeouts:
        """All waits multiplied by ``factor`` (> 0)."""
        if factor <= 0:
            raise ValueError("timeout scale must be > 0")
        return replace(self, **{f.name: getattr(self, f.name) * factor for f in fields(self)})


DEFAULT_TIMEOUTS = Timeouts()
