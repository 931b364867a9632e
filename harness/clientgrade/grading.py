"""Every scenario's rules graded, one defect counted once.

Within a scenario the rules are graded in session order (``chain``): closing with 1000,
showing the text and exiting 0 are graded only once the client waited for the
confirmation, since otherwise they would only repeat why it did not. Across
scenarios, in their running order, a rule counts where it fails first: a later scenario
that fails the same rule is not graded and is named as context of the first, and
``C.tolerant`` is not graded when the client does not complete a normal session either.

A scenario whose client never got a session for a reason the scenario does not test
(never connected, a wrong path) cannot be graded at all: ``ScenarioGrade.error``, an ERROR
in every report, never a list of failures or a green run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from harness.clientgrade import checks as C
from harness.clientgrade.facts import Facts
from harness.clientgrade.runner import ScenarioRun
from harness.clientgrade.scenarios import Scenario
from harness.clientgrade.verdict import GradeOptions, ScenarioGrade, Verdict, not_graded, ok
from harness.protocol.audio import BYTES_PER_SECOND
from harness.protocol.events import Finding

#: Graded only once the client waited for the confirmation.
AFTER_COMPLETION = ("C.close-1000", "C.shows-text", "C.exit-0")
#: What the client must still do among unexpected fields (graded as in a normal session).
COMPLETION = ("C.end-of-stream", "C.waits-for-confirm", "C.shows-text", "C.exit-0")


def tolerant(f: Facts, o: GradeOptions) -> Verdict:
    """``C.tolerant``: the ``COMPLETION`` rules, reported as one."""
    rule = "C.tolerant"
    if f.killed:
        return not_graded(rule, "killed (see C.ends-in-time)")
    graded = chain(f, o, COMPLETION)
    failing = [x for v in graded.values() for x in v.findings if not x.strict_only]
    if not failing:
        return ok(rule)
    return Verdict(
        rule,
        [Finding(rule, failing[0].expected, f"{failing[0].rule}: {failing[0].seen}")],
        context=[f"also: {x.rule}: {x.seen}" for x in failing[1:]] + [C.stderr_context(f)],
    )


RULE_CHECKS: dict[str, Callable[[Facts, GradeOptions], Verdict]] = {
    "C.apikey": C.apikey,
    "C.audio-format": C.audio_format,
    "C.frame-size": C.frame_size,
    "C.pacing": C.pacing,
    "C.pacing-gaps": C.pacing_gaps,
    "C.end-of-stream": C.end_of_stream,
    "C.waits-for-confirm": C.waits_for_confirm,
    "C.close-1000": C.close_1000,
    "C.shows-text": C.shows_text,
    "C.exit-0": C.exit_0,
    "C.exit-nonzero": C.exit_nonzero,
    "C.ends-in-time": C.ends_in_time,
    "C.no-tight-retry": C.no_tight_retry,
    "C.tolerant": tolerant,
}


def chain(f: Facts, o: GradeOptions, rules: Sequence[str]) -> dict[str, Verdict]:
    """``rules`` graded in order; those of ``AFTER_COMPLETION`` only once
    ``C.waits-for-confirm`` (when among them) is OK."""
    out: dict[str, Verdict] = {}
    blocker = ""
    for rule in rules:
        if rule in AFTER_COMPLETION and blocker:
            out[rule] = not_graded(rule, blocker)
            continue
        verdict = out[rule] = RULE_CHECKS[rule](f, o)
        if rule == "C.waits-for-confirm" and (verdict.failed or verdict.not_graded):
            first = next((v.rule for v in out.values() if v.failed), "")
            blocker = "the session did not complete: " + (
                f"see {first}" if first else verdict.not_graded
            )
    return out


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
