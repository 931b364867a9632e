"""How much of a server's output a client keeps, with names and defaults in one place.

Whatever a server sends, a client's memory stays bounded: a message larger than
``max_message_bytes`` is refused at its frame header (a §3 finding, ``3.size``, and a close
with 1009 from our side), and each session keeps at most ``max_messages_kept`` messages
holding at most ``max_history_chars`` of text, and ``max_findings_per_rule`` findings of
each rule; what goes past a bound is counted, not kept.
"""

from __future__ import annotations

from dataclasses import dataclass

#: 1 MiB: some thousand times a long sentence's transcript.
DEFAULT_MAX_MESSAGE_BYTES = 1 << 20


@dataclass(frozen=True)
class Limits:
    #: Largest server message accepted, in bytes (websockets' ``max_size``).
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    #: Transcript messages a session keeps on its timeline (a real session has hundreds).
    max_messages_kept: int = 20_000
    #: Characters of transcript text (and state) a session keeps on its timeline (at most
    #: 4 bytes each in memory).
    max_history_chars: int = 4 << 20
    #: Findings a session keeps per rule id; later ones of the same rule are counted.
    max_findings_per_rule: int = 20

    def __post_init__(self) -> None:
        for name in ("max_message_bytes", "max_messages_kept", "max_history_chars"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if self.max_findings_per_rule < 1:
            raise ValueError("max_findings_per_rule must be >= 1")


DEFAULT_LIMITS = Limits()
