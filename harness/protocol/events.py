"""Typed events parsed from server messages, and findings.

Events are frozen dataclasses (as in h11): a value an I/O adapter can log, compare and
pass around. A ``Finding`` records a PROTOCOL.md rule the server broke: which rule, what
was expected, what was seen.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.protocol.rules import describe

#: How much of an offending message a finding quotes.
SEEN_LIMIT = 200


def quote(value: object) -> str:
    """A short printable rendering of what was seen."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= SEEN_LIMIT else text[:SEEN_LIMIT] + f"... ({len(text)} chars)"


@dataclass(frozen=True)
class Transcript:
    """A transcript message: the current hypothesis of the current sentence."""

    text: str
    state: str
    #: True when ``state`` is the dialect's new-sentence state.
    new_sentence: bool


@dataclass(frozen=True)
class Confirmation:
    """The server's ``Confirm Close Connection`` message."""

    state: str


@dataclass(frozen=True)
class Finding:
    """A PROTOCOL.md rule the server broke."""

    rule: str
    expected: str
    seen: str
    #: True when only ``--asrx-strict`` makes this a failure (Autobahn's NON-STRICT).
    strict_only: bool = False

    def __str__(self) -> str:
        return f"{describe(self.rule)} | expected: {self.expected} | seen: {self.seen}"


Event = Transcript | Confirmation | Finding
