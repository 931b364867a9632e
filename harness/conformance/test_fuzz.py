"""A hypothesis state machine over frames and control messages (PROTOCOL.md §2-§4).

Each example is one session: audio frames of random sizes (speech or random bytes),
malformed JSON, unknown JSON, short pauses; it ends with end-of-stream or an abrupt
disconnect. After every step: no message breaks the schema and any close uses a legal
code. After the last example a fresh session must still work. Bounded: 15 examples of
at most 10 steps, every wait under the suite's timeouts.
"""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from harness.conformance.grading import Grader
from harness.conformance.plugin import Suite
from harness.conformance.probes import SCHEMA_RULES, RawSession, fresh_session_findings, run_session
from harness.protocol.events import Finding

#: Rules a fuzzed session may break only by a server defect.
#: A close with a legal error code is a lawful answer at any point (PROTOCOL.md §3), so a
#: missing confirmation counts only when the server neither confirmed nor closed in time.
FUZZ_RULES = (
    *SCHEMA_RULES,
    "3.error-reply",
    "4.close-1000",
    "4.close-in-time",
    "4.nothing-after-confirm",
    "4.confirm-after-eos",
)


class Broken(AssertionError):
    """A fuzzed sequence made the server break a rule; carries the findings."""

    def __init__(self, findings: list[Finding], steps: list[str]) -> None:
        self.findings = findings
        self.steps = steps
        super().__init__("; ".join(str(f) for f in findings))


def make_machine(asrx: Suite) -> type[RuleBasedStateMachine]:
    pcm = asrx.speech().pcm()

    class AsrxSession(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.loop = asyncio.new_event_loop()
            self.raw: RawSession | None = None
            self.pos = 0
            self.steps: list[str] = []
            self.ended = False

        def _do(self, coro):  # type: ignore[no-untyped-def]
            return self.loop.run_until_complete(coro)

        @initialize()
        def open(self) -> None:
            self.raw = self._do(RawSession.open(asrx.target))

        @property
        def live(self) -> bool:
            return self.raw is not None and self.raw.streaming and not self.ended

        @precondition(lambda self: self.live)
        @rule(size=st.sampled_from([1, 2, 3, 511, 1024, 2048, 4097, 32768]))
        def speech(self, size: int) -> None:
            chunk = pcm[self.pos : self.pos + size] or pcm[:size]
            self.pos = (self.pos + size) % len(pcm)
            self.steps.append(f"speech {len(chunk)} bytes")
            assert self.raw is not None
            self._do(self.raw.send_audio(chunk, len(chunk), None))

        @precondition(lambda self: self.live)
        @rule(data=st.binary(min_size=1, max_size=3000))
        def noise(self, data: bytes) -> None:
            self.steps.append(f"random {len(data)} bytes")
            assert self.raw is not None
            self._do(self.raw.send_audio(data, len(data), None))

        @precondition(lambda self: self.live)
        @rule(
            text=st.sampled_from(
                [
                    '{"data": {"status": "Clo',
                    "not json",
                    "[]",
                    "{}",
                    '{"data": {"status": "Pause"}}',
                    '{"data": null}',
                ]
            )
        )
        def control(self, text: str) -> None:
            self.steps.append(f"text {text!r}")
            assert self.raw is not None
            self._do(self.raw.send_text(text))

        @precondition(lambda self: self.live)
        @rule(seconds=st.sampled_from([0.05, 0.3]))
        def pause(self, seconds: float) -> None:
            self.steps.append(f"pause {seconds} s")
            self._do(asyncio.sleep(seconds))

        @precondition(lambda self: self.live)
        @rule()
        def end_of_stream(self) -> None:
            self.steps.append("end-of-stream")
            assert self.raw is not None
            self.raw.extra += self._do(self.raw.end())
            self.ended = True

        @precondition(lambda self: self.live)
        @rule()
        def disconnect(self) -> None:
            self.steps.append("abrupt disconnect")
            assert self.raw is not None
            self._do(self.raw.abort())
            self.ended = True

        @precondition(lambda self: not self.live)
        @rule()
        def over(self) -> None:
            """The session ended (by us or the server): nothing more to send."""

        @invariant()
        def lawful(self) -> None:
            if self.raw is None:
                return
            bad = [f for f in self.raw.findings() if f.rule in FUZZ_RULES]
            if self.ended and self.steps[-1] == "abrupt disconnect":
                bad = [f for f in bad if f.rule != "3.error-reply"]  # our own drop
            if bad:
                raise Broken(bad, list(self.steps))

        def teardown(self) -> None:
            try:
                if self.raw is not None:
                    self._do(self.raw.aclose())
            finally:
                self.loop.close()

    return AsrxSession


def _find_broken(exc: BaseException) -> Broken | None:
    """The ``Broken`` in ``exc``: hypothesis may wrap it (FlakyFailure, when a timing-
    dependent failure did not repeat on replay; it is still a failure that happened)."""
    if isinstance(exc, Broken):
        return exc
    for sub in getattr(exc, "exceptions", ()):
        if (found := _find_broken(sub)) is not None:
            return found
    return None


@pytest.mark.asrx_rule(*FUZZ_RULES)
def test_state_machine(asrx: Suite, asrx_grade: Grader) -> None:
    machine = make_machine(asrx)
    run_state_machine = settings(
        max_examples=15,
        stateful_step_count=10,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        # No shrinking: it would re-run sessions without bound; the steps are shown anyway.
        phases=[Phase.explicit, Phase.generate],
    )(machine).TestCase
    found: list[Finding] = []
    try:
        run_state_machine().runTest()
    except Exception as exc:  # Broken, possibly inside one of hypothesis's exception groups
        broken = _find_broken(exc)
        if broken is None:
            raise
        found += broken.findings
        steps = ", ".join(broken.steps)
        found.append(Finding("3.error-reply", "a lawful answer to any sequence", f"after: {steps}"))
    run = asrx.run(run_session(asrx.target, asrx.speech().pcm(), speed=None))
    asrx_grade.check(found + fresh_session_findings(run, expect_text=True))
