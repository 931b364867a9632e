"""A client rule's verdict, and what grading needs to know besides the runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.clientgrade.audio import GradeAudio
from harness.protocol.dialect import DEFAULT_DIALECT, Dialect
from harness.protocol.events import Finding

#: Pacing within this fraction of real time is OK (``--pacing-tolerance``).
DEFAULT_PACING_TOLERANCE = 0.10
#: ``--shows-text``: check the output for the final texts when it has any, always, never.
SHOWS_TEXT_MODES = ("auto", "yes", "no")

OK = "OK"
NON_STRICT = "NON-STRICT"
FAILED = "FAILED"
NOT_GRADED = "NOT GRADED"


@dataclass
class Verdict:
    """OK, findings (FAILED; NON-STRICT when all are ``strict_only``), or not graded."""

    rule: str
    findings: list[Finding] = field(default_factory=list)
    #: Why the rule was not graded ("" when it was).
    not_graded: str = ""
    #: What else was seen: shown with the verdict, never counted.
    context: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(not f.strict_only for f in self.findings)

    @property
    def grade(self) -> str:
        if self.not_graded:
            return NOT_GRADED
        if self.failed:
            return FAILED
        return NON_STRICT if self.findings else OK


@dataclass(frozen=True)
class GradeOptions:
    audio: GradeAudio
    dialect: Dialect = DEFAULT_DIALECT
    pacing_tolerance: float = DEFAULT_PACING_TOLERANCE
    shows_text: str = "auto"


@dataclass
class ScenarioGrade:
    scenario: str
    verdicts: dict[str, Verdict]
    #: Why nothing in this scenario could be graded ("" when it could).
    error: str = ""
    #: One line of what the server saw and how the client ended.
    seen: str = ""


def _kept(context: tuple[str, ...]) -> list[str]:
    return [c for c in context if c]


def failed(rule: str, expected: str, seen: str, *context: str) -> Verdict:
    return Verdict(rule, [Finding(rule, expected, seen)], context=_kept(context))


def lenient(rule: str, expected: str, seen: str, *context: str) -> Verdict:
    """NON-STRICT: lawful, not what a careful client does; fails only under strict grading."""
    return Verdict(rule, [Finding(rule, expected, seen, strict_only=True)], context=_kept(context))


def ok(rule: str, *context: str) -> Verdict:
    return Verdict(rule, context=_kept(context))


def not_graded(rule: str, why: str) -> Verdict:
    return Verdict(rule, not_graded=why)
