"""``Suite``: what a check needs (settings, target, corpus) and the session runs checks share.

Checks import their helpers from here and from ``sessions`` and ``probes``, never from the
plugin. A shared run (every corpus utterance streamed once, each closing scenario, each
bad-input probe) is made by the first check that needs it and read by the others; the
suite keeps one per name for the run, each session bounded by the settings' ``Limits``.

Timing: a shared run is timed once, and its time is split among the checks that read it
(``attributed``): a check's time is its own call time without the shared runs it happened
to make, plus its share of each one it read. Parts of a run (one corpus utterance) are
weighted by their sessions' own durations, so a check of a long utterance carries more.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from harness.client.target import Target
from harness.conformance.probes import bad_text_session
from harness.conformance.sessions import SessionRun, run_many, run_session, service_problem
from harness.conformance.settings import SuiteSettings
from harness.corpus import Corpus, Utterance
from harness.protocol.audio import ms_to_bytes
from harness.protocol.events import Finding
from harness.timeouts import Timeouts

T = TypeVar("T")
#: The bad text frames the robustness checks send mid-speech, by name.
BAD_INPUTS = {
    "malformed-json": '{"data": {"status": "CloseConn',
    "unknown-status": '{"data": {"status": "NoSuchStatus"}}',
}
clock = time.monotonic


@dataclass
class SharedRun:
    """One shared run's wall time, and who read which part of it."""

    seconds: float
    #: part -> relative weight (sums to 1); a run without parts has the one part "".
    weights: dict[str, float] = field(default_factory=lambda: {"": 1.0})
    readers: dict[str, set[str]] = field(default_factory=dict)

    def share_of(self, check: str) -> float:
        read = {p: r for p, r in self.readers.items() if r}
        total = sum(self.weights.get(p, 0.0) for p in read) or 1.0
        return sum(
            self.seconds * self.weights.get(p, 0.0) / total / len(r)
            for p, r in read.items()
            if check in r
        )


class Suite:
    def __init__(self, settings: SuiteSettings, target: Target, corpus: Corpus) -> None:
        self.settings = settings
        self.target = target
        self.corpus = corpus
        #: The check now running (its node id), set by the ``asrx_grade`` fixture.
        self.current = ""
        self._cache: dict[str, Any] = {}
        self.shared: dict[str, SharedRun] = {}
        #: check -> seconds it spent making shared runs.
        self._making: dict[str, float] = {}

    @property
    def timeouts(self) -> Timeouts:
        return self.target.timeouts

    def run(self, coro: Awaitable[T]) -> T:
        return asyncio.run(_as_coroutine(coro))

    def cached(self, name: str, factory: Callable[[], Awaitable[T]], part: str = "") -> T:
        """Run ``factory`` once per test run; later checks read the same result."""
        if name not in self._cache:
            started = clock()
            self._cache[name] = self.run(factory())
            seconds = clock() - started
            self.shared[name] = SharedRun(seconds)
            self._making[self.current] = self._making.get(self.current, 0.0) + seconds
        self.shared[name].readers.setdefault(part, set()).add(self.current)
        result: T = self._cache[name]
        return result

    def attributed(self, check: str, call_seconds: float) -> tuple[float, float]:
        """(own, shared) seconds of ``check`` whose call phase took ``call_seconds``."""
        own = max(0.0, call_seconds - self._making.get(check, 0.0))
        return own, sum(r.share_of(check) for r in self.shared.values())

    def corpus_session(self, utterance_id: str) -> SessionRun:
        """The session of one corpus utterance. Every utterance is streamed once (at
        ``--asrx-speed``, a few sessions at a time) by the first check that asks."""
        utterances = self.corpus.utterances
        speed = self.settings.speed

        async def all_of_them() -> dict[str, SessionRun]:
            runs = await run_many(self.target, [(u.pcm(), speed) for u in utterances])
            return {u.id: r for u, r in zip(utterances, runs, strict=True)}

        new = "corpus" not in self._cache
        runs = self.cached("corpus", all_of_them, part=utterance_id)
        if new:
            self.shared["corpus"].weights = _weights(runs)
        return runs[utterance_id]

    def bad_input_session(self, kind: str) -> SessionRun:
        """A session with the ``BAD_INPUTS[kind]`` text frame halfway through the first
        sentence (read by its robustness check and by the schema check of its replies)."""
        utt = self.speech()
        split = ms_to_bytes(sum(utt.segments[0]) / 2) // 2 * 2
        text, speed = BAD_INPUTS[kind], self.settings.speed
        return self.cached(
            f"bad-input-{kind}",
            lambda: bad_text_session(self.target, utt.pcm(), split, text, speed),
        )

    def fresh(self) -> list[Finding]:
        """A well-behaved session after a probe: it must be served (``3.error-reply``: the
        server stays up). Its findings come along, for the caller to grade as context."""
        run = self.run(run_session(self.target, self.speech().pcm(), speed=None))
        found = run.findings()
        if (problem := service_problem(run)) is not None:
            found.append(Finding("3.error-reply", "a fresh session afterwards is served", problem))
        return found

    # Utterances the checks need, chosen from any corpus by their manifest segments.
    def speech(self) -> Utterance:
        """The shortest utterance with exactly one speech segment."""
        return self._pick(lambda u: len(u.segments) == 1, "one speech segment")

    def multi(self) -> Utterance:
        """The shortest utterance with two or more speech segments."""
        return self._pick(lambda u: len(u.segments) >= 2, "two or more speech segments")

    def silence(self) -> Utterance:
        """An utterance without speech (the quietest by name preference: 'silence')."""
        quiet = [u for u in self.corpus.utterances if not u.segments]
        if not quiet:
            pytest.skip("the corpus has no utterance without speech segments")
        return sorted(quiet, key=lambda u: ("silence" not in u.id, u.duration_ms))[0]

    def _pick(self, pred: Callable[[Utterance], bool], what: str) -> Utterance:
        found = sorted((u for u in self.corpus.utterances if pred(u)), key=lambda u: u.duration_ms)
        if not found:
            pytest.skip(f"the corpus has no utterance with {what}")
        return found[0]


def _weights(runs: dict[str, SessionRun]) -> dict[str, float]:
    """Each session's share of a concurrent run: its own duration over the sum."""
    spans: dict[str, float] = {}
    for key, run in runs.items():
        tl = run.session.timeline if run.session else None
        span = (tl.closed_at or 0.0) - (tl.connect_started or 0.0) if tl else 0.0
        spans[key] = max(span, 1e-3)
    total = sum(spans.values())
    return {k: v / total for k, v in spans.items()}


async def _as_coroutine(aw: Awaitable[T]) -> T:
    return await aw
