"""Every scenario's rules graded, one defect counted once.

Within a scenario the rules are graded in session order (``checks.chain``). Across
scenarios, in their running order, a rule counts where it fails first: a later scenario
that fails the same rule is not graded and is named as context of the first, and
``C.tolerant`` is not graded when the client does not complete a normal session either.

A scenario whose client never got a session for a reason the scenario does not test
(never connected, a wrong path) cannot be graded at all: ``ScenarioGrade.error``, an ERROR
in every report, never a list of failures or a green run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from harness.clientgrade.checks import COMPLETION, chain
from harness.clientgrade.facts import Facts
from harness.clientgrade.runner import ScenarioRun
from harness.clientgrade.scenarios import Scenario
from harness.clientgrade.verdict import GradeOptions, ScenarioGrade, not_graded
from harness.protocol.audio import BYTES_PER_SECOND


def cannot_grade(f: Facts) -> str:
    """Why nothing in this run can be graded, or ''."""
    run = f.run
    if run.error:
        return run.error
    how = f"the client {f.ended()}"
    tail = f.stderr_tail()
    if tail:
        how += f"; its stderr ends: {tail}"
    if not f.attempts:
        return (
            "the client never connected to the server: does the command use {url} "
            f"(or ASRX_URL)? {how}"
        )
    if f.session is None and not run.scenario.wrong_key:
        refused = f.attempts[0]
        if refused.key_valid and refused.key_headers == 1:
            return (
                f"the client's handshake got HTTP {refused.status} (path {refused.path}); "
                f"no session to grade; {how}"
            )
    return ""


def seen_line(f: Facts) -> str:
    """What the server saw and how the client ended, in one line."""
    parts = [f"{len(f.attempts)} handshake(s)"]
    s = f.session
    if s is not None:
        sizes = [int(size) for _, size in s.frames]
        common = max(set(sizes), key=sizes.count) if sizes else 0
        speed = f.speed()
        pace = f", {speed:.2f}× real time" if speed not in (None, float("inf")) else ""
        parts.append(
            f"{len(sizes)} audio frames (mostly {common} B), "
            f"{s.audio_bytes / BYTES_PER_SECOND:.2f} s of audio{pace}"
        )
        texts = sum(1 for t in s.texts if t.kind == "end-of-stream")
        parts.append(f"{texts} end-of-stream, {len(s.texts) - texts} other text frames")
        parts.append("confirmed" if s.confirmed_at is not None else "not confirmed")
        if s.client_close_code is not None:
            who = "first" if s.client_closed_first else "in answer"
            parts.append(f"client close {s.client_close_code} ({who})")
        else:
            parts.append("no client close frame")
    parts.append(f"client {f.ended()}")
    return "; ".join(parts)


def grade_scenario(run: ScenarioRun, options: GradeOptions) -> ScenarioGrade:
    f = Facts(run, options.audio)
    error = cannot_grade(f)
    if error:
        return ScenarioGrade(run.scenario.name, {}, error=error, seen=seen_line(f))
    verdicts = chain(f, options, run.scenario.rules)
    if f.extra_sessions:
        for v in verdicts.values():
            v.context.append(f"the client opened {f.extra_sessions} more session(s)")
    return ScenarioGrade(run.scenario.name, verdicts, seen=seen_line(f))


def grade_all(
    runs: Mapping[str, ScenarioRun], scenarios: Sequence[Scenario], options: GradeOptions
) -> dict[str, ScenarioGrade]:
    """Every run graded, then each failing rule counted in its first scenario only."""
    grades = {s.name: grade_scenario(runs[s.name], options) for s in scenarios if s.name in runs}
    first_failure: dict[str, str] = {}
    for name, grade in grades.items():
        for rule, verdict in grade.verdicts.items():
            if not verdict.failed:
                continue
            if rule not in first_failure:
                first_failure[rule] = name
                continue
            first = first_failure[rule]
            grade.verdicts[rule] = not_graded(
                rule, f"fails in the {first} scenario too: counted there"
            )
            grades[first].verdicts[rule].context.append(f"also fails in the {name} scenario")
    normal = grades.get("normal")
    for grade in grades.values():
        tolerant = grade.verdicts.get("C.tolerant")
        if tolerant is None or not tolerant.failed or normal is None:
            continue
        broken = [r for r in COMPLETION if (v := normal.verdicts.get(r)) and v.failed]
        if broken or normal.error:
            grade.verdicts["C.tolerant"] = not_graded(
                "C.tolerant",
                "the client does not complete a normal session either (see normal: "
                f"{', '.join(broken) or 'ERROR'})",
            )
    return grades
