"""docs/protocol.md §4: the CloseConnection handshake, in three situations.

- ``speech``: a multi-sentence utterance, then end-of-stream;
- ``no-audio``: end-of-stream right after the handshake;
- ``mid-sentence``: end-of-stream in the middle of the first sentence's speech.

Each situation is one session, run once and read by every check of this module; each check
grades the findings of its own §4 rule and shows the others as context.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from harness.conformance.grading import Grader
from harness.conformance.sessions import SessionRun, no_session, run_session
from harness.conformance.suite import Suite
from harness.protocol.audio import ms_to_bytes
from harness.protocol.events import Finding

SCENARIOS = ("speech", "no-audio", "mid-sentence")


def closing_run(asrx: Suite, scenario: str) -> SessionRun:
    speed = asrx.settings.speed
    if scenario == "speech":
        pcm = asrx.multi().pcm()
    elif scenario == "no-audio":
        pcm = b""
    else:
        utt = asrx.speech()
        on, off = utt.segments[0]
        pcm = utt.pcm()[: ms_to_bytes((on + off) / 2)]
    return asrx.cached(f"closing-{scenario}", lambda: run_session(asrx.target, pcm, speed=speed))


def grade_closing(asrx: Suite, grade: Grader, scenario: str, extra: Sequence[Finding] = ()) -> None:
    """Grade the scenario's session: every finding goes in, the check keeps its own."""
    run = closing_run(asrx, scenario)
    if (why := no_session(run)) is not None:
        grade.cannot_test(why)
    grade.check(run.findings() + list(extra), context=scenario)


@pytest.mark.asrx_rule("4.final-before-confirm")
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_final_text_before_confirmation(asrx: Suite, asrx_grade: Grader, scenario: str) -> None:
    run = closing_run(asrx, scenario)
    session = run.session
    found: list[Finding] = []
    if scenario != "no-audio" and session is not None and session.confirmed:
        confirmed_at = session.timeline.confirmed_at or 0.0
        before = [
            m
            for m in session.timeline.messages
            if m.text and not m.confirmation and m.at <= confirmed_at
        ]
        if not before:
            if run.unreadable():
                asrx_grade.not_judged(
                    "no transcript could be read, so no final text can be placed",
                    run.unreadable(),
                )
            found.append(
                Finding(
                    "4.final-before-confirm",
                    "the speech's text before the confirmation",
                    "no message with text before it",
                )
            )
    grade_closing(asrx, asrx_grade, scenario, found)


@pytest.mark.asrx_rule("4.confirm", "4.confirm-after-eos")
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_exactly_one_confirmation(asrx: Suite, asrx_grade: Grader, scenario: str) -> None:
    grade_closing(asrx, asrx_grade, scenario)


@pytest.mark.asrx_rule("4.close-1000")
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_close_code_1000(asrx: Suite, asrx_grade: Grader, scenario: str) -> None:
    grade_closing(asrx, asrx_grade, scenario)


@pytest.mark.asrx_rule("4.close-in-time")
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_confirm_and_close_in_time(asrx: Suite, asrx_grade: Grader, scenario: str) -> None:
    grade_closing(asrx, asrx_grade, scenario)


@pytest.mark.asrx_rule("4.nothing-after-confirm")
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_nothing_after_confirmation(asrx: Suite, asrx_grade: Grader, scenario: str) -> None:
    grade_closing(asrx, asrx_grade, scenario)
