"""A client kill matrix: a careful client passes every scenario, and each of its defects
(``clients/careful_client.py --defect NAME``) fails exactly its own rule, in the scenario
that shows it, and nothing else; the NON-STRICT ones are NON-STRICT and nothing else.

Every case is a real run: the client as a process against its own reference server. The
cases run a few at a time (they stream in real time and mostly wait).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.clientgrade.audio import GradeAudio, pick_utterance, write_audio
from harness.clientgrade.grading import grade_all
from harness.clientgrade.process import KILL_GRACE_S
from harness.clientgrade.runner import GradeSetup, run_all
from harness.clientgrade.scenarios import BY_NAME, SCENARIOS
from harness.clientgrade.verdict import GradeOptions, ScenarioGrade

CLIENT = Path(__file__).parent / "clients" / "careful_client.py"
#: The shortest utterance with speech keeps each run short.
UTTERANCE = "en-single-04"
#: Short, so that a client that hangs is killed soon; long enough for the careful client,
#: which waits 3 s for a confirmation that never comes.
GRACE_S = 5.0
CASES_AT_ONCE = 3


@dataclass(frozen=True)
class Case:
    name: str
    defects: tuple[str, ...]
    scenarios: tuple[str, ...]
    failed: frozenset[tuple[str, str]] = frozenset()
    non_strict: frozenset[tuple[str, str]] = frozenset()
    audio: str = "{audio}"
    shows_text: str = "auto"
    #: How long the client waits for the confirmation: longer than slow-final's delay.
    wait: str = "3"


def case(name: str, scenarios: str, *, failed: str = "", non_strict: str = "", **kw: str) -> Case:
    """``failed`` and ``non_strict``: space-separated ``scenario:rule``."""

    def pairs(text: str) -> frozenset[tuple[str, str]]:
        return frozenset(tuple(p.split(":", 1)) for p in text.split())  # type: ignore[misc]

    defects = tuple(d for d in name.split("+") if d not in ("careful", "wav-file", "impatient"))
    return Case(name, defects, tuple(scenarios.split()), pairs(failed), pairs(non_strict), **kw)


ALL = " ".join(s.name for s in SCENARIOS)
CASES = [
    case("careful", ALL),
    case("no-key", "normal", failed="normal:C.apikey"),
    case("wav-file", "normal", failed="normal:C.audio-format", audio="{audio_wav}"),
    case("odd-frames", "normal", non_strict="normal:C.frame-size"),
    case("fast", "normal", non_strict="normal:C.pacing"),
    case("slow", "normal", failed="normal:C.pacing"),
    case("burst", "normal", non_strict="normal:C.pacing-gaps"),
    case("no-eos", "normal", failed="normal:C.end-of-stream"),
    case("two-eos", "normal", failed="normal:C.end-of-stream"),
    case("early-close", "normal", failed="normal:C.waits-for-confirm"),
    case("no-close-frame", "normal", failed="normal:C.close-1000"),
    case("hide-last", "normal", failed="normal:C.shows-text", shows_text="yes"),
    case("impatient", "normal slow-final", failed="slow-final:C.waits-for-confirm", wait="1"),
    case("exit-1", "normal slow-final", failed="normal:C.exit-0"),
    case("exit-0", "never-confirm error-close", failed="never-confirm:C.exit-nonzero"),
    case("no-timeout", "stall-mid-stream never-confirm", failed="stall-mid-stream:C.ends-in-time"),
    case("retry-loop", "refused-key", failed="refused-key:C.no-tight-retry"),
    case("strict-states", "normal unexpected-fields", failed="unexpected-fields:C.tolerant"),
    # The deliberately broken client: no end-of-stream, and no timeout: it waits for a
    # confirmation that cannot come until it is killed. Two defects, two failures.
    case(
        "no-eos+no-timeout",
        "normal stall-mid-stream",
        failed="normal:C.end-of-stream normal:C.ends-in-time",
    ),
]


@dataclass
class Outcome:
    grades: dict[str, ScenarioGrade]
    seconds: float
    failed: set[tuple[str, str]] = field(default_factory=set)
    non_strict: set[tuple[str, str]] = field(default_factory=set)


def run_case(c: Case, audio: GradeAudio, folder: Path) -> Outcome:
    command = [sys.executable, str(CLIENT), "{url}", c.audio, "--wait", c.wait]
    command += [arg for d in c.defects for arg in ("--defect", d)]
    setup = GradeSetup(tuple(command), audio, folder, GRACE_S)
    scenarios = [BY_NAME[s] for s in c.scenarios]
    started = time.monotonic()
    runs = run_all(setup, scenarios, jobs=3)
    seconds = time.monotonic() - started
    out = Outcome(grade_all(runs, scenarios, GradeOptions(audio, shows_text=c.shows_text)), seconds)
    for name, grade in out.grades.items():
        assert not grade.error, (c.name, name, grade.error)
        for rule, v in grade.verdicts.items():
            if v.failed:
                out.failed.add((name, rule))
            elif v.findings:
                out.non_strict.add((name, rule))
    return out


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    root = tmp_path_factory.mktemp("client-matrix")
    audio = write_audio(pick_utterance(None, UTTERANCE), root)

    def one(c: Case) -> Outcome:
        folder = root / c.name
        folder.mkdir()
        return run_case(c, audio, folder)

    with ThreadPoolExecutor(max_workers=CASES_AT_ONCE) as pool:
        yield dict(zip([c.name for c in CASES], pool.map(one, CASES), strict=True))


def describe(out: Outcome) -> str:
    lines = []
    for name, grade in out.grades.items():
        for rule, v in grade.verdicts.items():
            if v.grade != "OK":
                lines.append(f"{name} {rule} {v.grade}: {v.not_graded or v.findings} {v.context}")
    return "\n".join(lines)


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
def test_each_defect_fails_exactly_its_rule(c: Case, outcomes: dict[str, Outcome]) -> None:
    out = outcomes[c.name]
    assert out.failed == c.failed, describe(out)
    assert out.non_strict == c.non_strict, describe(out)


@pytest.mark.slow
def test_a_hanging_client_is_killed_within_its_bound(outcomes: dict[str, Outcome]) -> None:
    out = outcomes["no-timeout"]
    verdict = out.grades["stall-mid-stream"].verdicts["C.ends-in-time"]
    assert "killed" in verdict.findings[0].seen
    audio_s = pick_utterance(None, UTTERANCE).duration_ms / 1000
    # Both scenarios ran at once; each was killed at its bound, with time to spare for the
    # server's start and stop.
    assert out.seconds < audio_s + GRACE_S + KILL_GRACE_S + 3
