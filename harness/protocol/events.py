"""Typed events parsed from server messages, and findings.

Events are frozen dataclasses (as in h11): a value an I/O adapter can log, compare and
pass around. A ``Finding`` records a docs/protocol.md rule the server broke: which rule, what
was expected, what was seen.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.protocol.escape import printable
from harness.protocol.rules import describe

#: How much of an offending message a finding quotes.
SEEN_LIMIT = 200


def quote(value: object) -> str:
    """A short printable rendering of what was seen: cut to ``SEEN_LIMIT`` characters, then
    its control characters escaped (``harness.protocol.escape``)."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > SEEN_LIMIT:
        text = text[:SEEN_LIMIT] + f"... ({len(text)} chars)"
    return printable(text)


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
    """A docs/protocol.md rule the server broke.

    ``expected`` and ``seen`` are stored escaped (``printable``), whoever built them: every
    output a finding reaches (terminal, pytest, HTML, JUnit, JSON) gets safe text.
    """

    rule: str
    expected: str
    seen: str
    #: True when only ``--asrx-strict`` makes this a failure (Autobahn's NON-STRICT).
    strict_only: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "expected", printable(self.expected))
        object.__setattr__(self, "seen", printable(self.seen))

    def __str__(self) -> str:
        return f"{describe(self.rule)} | expected: {self.expected} | seen: {self.seen}"


Event = Transcript | Confirmation | Finding
