"""The scenarios a client is run in, each with the server behaviour it meets and the client
rules it exists to check (docs/grade-client.md).

A rule is checked where a scenario shows it first: the normal session checks what every
session must do, the others what a hard server adds (a slow confirmation, unexpected fields,
a stall, an error close, a refused key). When a client breaks a rule in an earlier scenario,
a later one that breaks it the same way does not count it again (``grading.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import UsageError

#: Every rule a normal session checks, in the order a session meets them.
NORMAL_RULES = (
    "C.apikey",
    "C.audio-format",
    "C.frame-size",
    "C.pacing",
    "C.pacing-gaps",
    "C.end-of-stream",
    "C.waits-for-confirm",
    "C.close-1000",
    "C.shows-text",
    "C.exit-0",
    "C.ends-in-time",
)
#: The rules of a session the server fails: the client must notice, and end.
FAILED_SESSION_RULES = ("C.ends-in-time", "C.exit-nonzero")


@dataclass(frozen=True)
class Scenario:
    name: str
    #: One line: what the server does.
    summary: str
    rules: tuple[str, ...]
    faults: tuple[str, ...] = ()
    hazards: tuple[str, ...] = ()
    #: ``--delay-ms``: every server message held back this long.
    delay_ms: int = 0
    #: The client is given a key the server refuses (HTTP 401).
    wrong_key: bool = False

    def server_args(self) -> list[str]:
        """The server options beyond faults and delay (``EmbeddedServer`` takes those)."""
        return [arg for name in self.hazards for arg in ("--hazard", name)]


#: Every scenario, in the order they run and are reported.
SCENARIOS: tuple[Scenario, ...] = (
    # Every message 250 ms late, as from a recognizer with work to do: the instant reference
    # server would confirm before a client that does not wait had even closed.
    Scenario(
        "normal",
        "the reference server, every message 250 ms late as from a busy recognizer",
        NORMAL_RULES,
        delay_ms=250,
    ),
    Scenario(
        "slow-final",
        "every server message 2 s late: the finals and the confirmation come slowly",
        ("C.waits-for-confirm", "C.shows-text", "C.exit-0", "C.ends-in-time"),
        delay_ms=2000,
    ),
    Scenario(
        "unexpected-fields",
        "transcripts with extra fields and the undocumented states 'Partial' and 'Final'",
        ("C.tolerant", "C.ends-in-time"),
        hazards=("unexpected-fields",),
    ),
    Scenario(
        "stall-mid-stream",
        "after the first transcript the server says nothing more, and never confirms",
        FAILED_SESSION_RULES,
        faults=("stall-mid-stream",),
    ),
    Scenario(
        "never-confirm",
        "the finals arrive, the confirmation never does",
        FAILED_SESSION_RULES,
        faults=("never-confirm",),
    ),
    Scenario(
        "error-close",
        "after the first transcript the server closes 1011 (internal error)",
        FAILED_SESSION_RULES,
        hazards=("error-close-mid-stream",),
    ),
    Scenario(
        "refused-key",
        "the client is given a key the server refuses: HTTP 401",
        ("C.no-tight-retry", *FAILED_SESSION_RULES),
        wrong_key=True,
    ),
)

BY_NAME = {s.name: s for s in SCENARIOS}


def select(names: str | None) -> tuple[Scenario, ...]:
    """Scenarios from a comma list (``None`` or empty: all), in their running order."""
    if not names or not names.strip():
        return SCENARIOS
    wanted = {n.strip() for n in names.split(",") if n.strip()}
    unknown = sorted(wanted - BY_NAME.keys())
    if unknown:
        raise UsageError(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    return tuple(s for s in SCENARIOS if s.name in wanted)


def listing() -> str:
    """One line per scenario: name, what the server does, the rules it checks."""
    width = max(len(s.name) for s in SCENARIOS)
    return "\n".join(
        f"{s.name:<{width}}  {s.summary}\n{'':<{width}}  checks: {', '.join(s.rules)}"
        for s in SCENARIOS
    )
