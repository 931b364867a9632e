"""PROTOCOL.md §4: the CloseConnection handshake, in three situations.

- ``speech``: a multi-sentence utterance, then end-of-stream;
- ``no-audio``: end-of-stream right after the handshake;
- ``mid-sentence``: end-of-stream in the middle of the first sentence's speech.

Each situation is one session, run once and read by every check of this module.
"""

from __future__ import annotations

import pytest

from harness.conformance.grading import Grader
from harness.conformance.plugin import Suite
from harness.conformance.probes import SessionRun, run_session
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


def _of(run: SessionRun, *rules: str) -> list[Finding]:
    if run.result is None:
        return run.findings()
    return [f for f in run.findings() if f.rule in rules]


@pytest.mark.asrx_rule("4.final-before-confirm")
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_final_text_before_confirmation(asrx: Suite, asrx_grade: Grader, scenario: str) -> None:
    run = closing_run(asrx, scenario)
    found = _of(run, "4.final-before-confirm")
    session = run.session
    if scenario != "no-audio" and session is not None and session.confirmed:
        before = [
            m
            for m in session.timeline.messages
            if m.text and not m.confirmation and m.at <= (session.timeline.confirmed_at or 0.0)
        ]
        if not before:
            found.append(
                Finding(
                    "4.final-before-confirm",
                    "the speech's text before the confirmation",
                    "no message with text before it",
                )
            )
    asrx_grade.check(found, context=scenario)


@pytest.mark.asrx_rule("4.confirm", "4.confirm-after-eos")
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_exactly_one_confirmation(asrx: Suite, asrx_grade: Grader, scenario: str) -> None:
    run = closing_run(asrx, scenario)
    asrx_grade.check(_of(run, "4.confirm", "4.confirm-after-eos"), context=scenario)


@pytest.mark.asrx_rule("4.close-1000")
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_close_code_1000(asrx: Suite, asrx_grade: Grader, scenario: str) -> None:
    run = closing_run(asrx, scenario)
    asrx_grade.check(_of(run, "4.close-1000"), context=scenario)


@pytest.mark.asrx_rule("4.close-in-time")
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_confirm_and_close_in_time(asrx: Suite, asrx_grade: Grader, scenario: str) -> None:
    run = closing_run(asrx, scenario)
    asrx_grade.check(_of(run, "4.close-in-time"), context=scenario)


@pytest.mark.asrx_rule("4.nothing-after-confirm")
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_nothing_after_confirmation(asrx: Suite, asrx_grade: Grader, scenario: str) -> None:
    run = closing_run(asrx, scenario)
    asrx_grade.check(_of(run, "4.nothing-after-confirm"), context=scenario)
