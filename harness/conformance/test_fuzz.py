"""A hypothesis state machine over frames and control messages (docs/protocol.md §2-§4).

Each example is one session: audio frames of random sizes (speech or random bytes),
malformed JSON, unknown JSON, short pauses; it ends with end-of-stream or an abrupt
disconnect. After every step the server must not have broken ``3.error-reply``: no drop
without a close frame, no unlawful close code, no stop in reading. After the last example a
fresh session must be served. The form of its messages and its closing sequence are other
checks' rules: seen here, they are context. Bounded: 15 examples of at most 10 steps,
every wait under the suite's timeouts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from harness.client.raw import RawSession
from harness.conformance.grading import MAX_SHOWN, Grader
from harness.conformance.suite import Suite
from harness.protocol.events import Finding

#: The rule a fuzzed session breaks by a server defect: a close with a lawful error code is
#: a lawful answer at any point (docs/protocol.md §3).
FUZZ_RULE = "3.error-reply"
T = TypeVar("T")
#: At most so many examples of at most so many steps.
EXAMPLES, STEPS = 15, 10


class Broken(AssertionError):
    """A fuzzed sequence made the server break a rule; carries the findings."""

    def __init__(self, findings: list[Finding], steps: list[str]) -> None:
        self.findings = findings
        self.steps = steps
        super().__init__("; ".join(str(f) for f in findings))


def make_machine(
    asrx: Suite, context: list[Finding], broken: list[Broken]
) -> type[RuleBasedStateMachine]:
    """The machine class; every finding of other rules it sees goes to ``context``, and
    each sequence that broke the rule to ``broken`` (before hypothesis sees the error:
    on replay a timing-dependent failure may not repeat, and hypothesis then reports that,
    a Flaky error, instead)."""
    pcm = asrx.speech().pcm()

    class AsrxSession(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.loop = asyncio.new_event_loop()
            self.raw: RawSession | None = None
            self.pos = 0
            self.steps: list[str] = []
            self.ended = False

        def _do(self, coro: Coroutine[Any, Any, T]) -> T:
            return self.loop.run_until_complete(coro)

        @initialize()
        def open(self) -> None:
            self.raw = self._do(RawSession.open(asrx.target))

        @property
        def live(self) -> bool:
            """Whether the session still takes input. Every rule asks it itself rather than
            through a precondition: the server may end a session (lawfully) at a moment
            that varies from run to run, and rules whose availability varies make
            hypothesis stop with an inconsistent-data error instead of a verdict."""
            return self.raw is not None and self.raw.streaming and not self.ended

        @rule(size=st.sampled_from([1, 2, 3, 511, 1024, 2048, 4097, 32768]))
        def speech(self, size: int) -> None:
            if not self.live:
                return
            chunk = pcm[self.pos : self.pos + size] or pcm[:size]
            self.pos = (self.pos + size) % len(pcm)
            self.steps.append(f"speech {len(chunk)} bytes")
            assert self.raw is not None
            self._do(self.raw.send_audio(chunk, len(chunk), None))

        @rule(data=st.binary(min_size=1, max_size=3000))
        def noise(self, data: bytes) -> None:
            if not self.live:
                return
            self.steps.append(f"random {len(data)} bytes")
            assert self.raw is not None
            self._do(self.raw.send_audio(data, len(data), None))

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
            if not self.live:
                return
            self.steps.append(f"text {text!r}")
            assert self.raw is not None
            self._do(self.raw.send_text(text))

        @rule(seconds=st.sampled_from([0.05, 0.3]))
        def pause(self, seconds: float) -> None:
            if not self.live:
                return
            self.steps.append(f"pause {seconds} s")
            self._do(asyncio.sleep(seconds))

        @rule()
        def end_of_stream(self) -> None:
            if not self.live:
                return
            self.steps.append("end-of-stream")
            assert self.raw is not None
            self.raw.extra += self._do(self.raw.end())
            self.ended = True

        @rule()
        def disconnect(self) -> None:
            if not self.live:
                return
            self.steps.append("abrupt disconnect")
            assert self.raw is not None
            self._do(self.raw.abort())
            self.ended = True

        @invariant()
        def lawful(self) -> None:
            if self.raw is None:
                return
            bad = [f for f in self.raw.findings() if f.rule == FUZZ_RULE]
            if self.ended and self.steps[-1] == "abrupt disconnect":
                bad = [f for f in bad if f.rule != "3.error-reply"]  # our own drop
            if bad:
                broken.append(Broken(bad, list(self.steps)))
                raise broken[-1]

        def teardown(self) -> None:
            try:
                if self.raw is not None:
                    others = [f for f in self.raw.findings() if f.rule != FUZZ_RULE]
                    context.extend(f for f in others if f not in context)
                    del context[MAX_SHOWN:]
                    self._do(self.raw.aclose())
            finally:
                self.loop.close()

    return AsrxSession


@pytest.mark.asrx_rule(FUZZ_RULE)
def test_state_machine(asrx: Suite, asrx_grade: Grader) -> None:
    context: list[Finding] = []
    broken: list[Broken] = []
    machine = make_machine(asrx, context, broken)
    bounded = settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        # No shrinking: it would re-run sessions without bound; the steps are shown anyway.
        phases=[Phase.explicit, Phase.generate],
    )
    found: list[Finding] = []
    try:
        run_state_machine_as_test(machine, settings=bounded)
    except Exception:  # Broken, or hypothesis's report of it (wrapped, or Flaky on replay)
        if not broken:
            raise
        first = broken[0]
        found += first.findings
        steps = ", ".join(first.steps)
        found.append(Finding(FUZZ_RULE, "a lawful answer to any sequence", f"after: {steps}"))
    asrx_grade.check(found + context + asrx.fresh())
