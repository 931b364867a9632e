"""A conformance run's result: each check's grade and findings, the verdict, and the JSON.

The plugin logs every phase of every check (``CheckLog``); at the end ``build_result`` turns
the logs into one ``RunResult``, from which the HTML report (``report``), the JSON result
(``--asrx-json``), the console summary and ``asrx conformance-diff`` all read, so they
cannot disagree.

Grades, worst first: FAILED (a finding of the check's own rules), ERROR (it could not
test: setup failed, no session opened), KNOWN (its failures are known deviations),
NON-STRICT, NOT JUDGED (another rule's breach stood in the way), SKIPPED, OK. Verdict:
ERROR when the run could not test at all or nothing was tested, else FAIL when a check
FAILED, else ERROR when a check could not test, else PASS (with NON-STRICT when any).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from harness.conformance.grading import CheckRecord
from harness.conformance.known import Deviation, KnownDeviations
from harness.protocol.events import Finding

FORMAT = "asrx-conformance/1"
GRADES = ("FAILED", "ERROR", "KNOWN", "NON-STRICT", "NOT JUDGED", "SKIPPED", "OK")
#: Grades of a check that tested something and did not fail the run.
PASSING = frozenset({"OK", "NON-STRICT", "KNOWN"})
VERDICTS = ("PASS", "PASS with NON-STRICT", "FAIL", "ERROR")
TIMING_NOTE = (
    "A check's time is its own call time plus an even share of each shared session run it "
    "read (the corpus run, split by each session's own duration; the closing scenarios; "
    "the bad-input probes). Fixture setup (servers, the target probe) is counted apart."
)


@dataclass
class CheckLog:
    """What the plugin saw of one check, phase by phase."""

    nodeid: str
    name: str
    module: str
    rules: tuple[str, ...]
    record: CheckRecord | None = None
    #: when -> (outcome, text): the outcome of setup, call and teardown, and any message.
    phases: dict[str, tuple[str, str]] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)
    xfail: str = ""


@dataclass
class CheckResult:
    id: str
    module: str
    grade: str
    rules: list[str]
    context: str = ""
    message: str = ""
    failing: list[dict[str, str]] = field(default_factory=list)
    non_strict: list[dict[str, str]] = field(default_factory=list)
    known: list[dict[str, str]] = field(default_factory=list)
    also_seen: list[dict[str, str]] = field(default_factory=list)
    duration_s: float = 0.0
    own_s: float = 0.0
    shared_s: float = 0.0


@dataclass
class DeviationStatus:
    index: int
    label: str
    reason: str
    expires: str | None
    #: known (covered a failure), expired (covered one, but expired: it failed), fixed
    #: (exercised, covered nothing: remove it), not exercised (no check of it ran).
    status: str
    checks: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    verdict: str
    target: str
    suite_version: str
    started: str
    duration_s: float
    strict: bool
    checks: list[CheckResult]
    error: str = ""
    #: Checks selected but never run (the run stopped: nothing could be tested).
    not_run: int = 0
    setup_s: float = 0.0
    known_file: str = ""
    deviations: list[DeviationStatus] = field(default_factory=list)
    timing_note: str = TIMING_NOTE
    #: What was graded, as the report's title says it.
    title: str = "asrx conformance"
    format: str = FORMAT

    def counts(self) -> dict[str, int]:
        return {g: sum(1 for c in self.checks if c.grade == g) for g in GRADES}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _finding(f: Finding, **extra: str) -> dict[str, str]:
    return {"rule": f.rule, "expected": f.expected, "seen": f.seen, **extra}


def grade_of(log: CheckLog) -> str:
    phases = log.phases
    if phases.get("setup", ("", ""))[0] == "failed":
        return "ERROR"
    call = phases.get("call", ("", ""))[0]
    rec = log.record
    if call == "failed":
        return "ERROR" if rec is not None and rec.cannot_test else "FAILED"
    if phases.get("teardown", ("", ""))[0] == "failed":
        return "ERROR"
    if log.xfail:
        return "KNOWN"
    if phases.get("setup", ("", ""))[0] == "skipped" or call == "skipped":
        return "NOT JUDGED" if rec is not None and rec.not_judged else "SKIPPED"
    if call != "passed":
        return "ERROR"
    return "NON-STRICT" if rec is not None and rec.non_strict else "OK"


def check_result(log: CheckLog, own_s: float, shared_s: float) -> CheckResult:
    grade = grade_of(log)
    rec = log.record
    message = ""
    if grade in ("ERROR", "SKIPPED", "NOT JUDGED") or (grade == "FAILED" and rec is None):
        message = next((t for _, t in log.phases.values() if t), "")
    out = CheckResult(
        id=log.name,
        module=log.module,
        grade=grade,
        rules=list(log.rules),
        message=message,
        duration_s=round(own_s + shared_s, 3),
        own_s=round(own_s, 3),
        shared_s=round(shared_s, 3),
    )
    if rec is not None:
        out.context = rec.context
        out.failing = [_finding(f) for f in rec.failing]
        out.failing += [
            _finding(f, note=f"known deviation {d.index} expired on {d.expires}: {d.reason}")
            for f, d in rec.expired
        ]
        out.non_strict = [_finding(f) for f in rec.non_strict]
        out.known = [_finding(f, note=d.reason) for f, d in rec.known]
        out.also_seen = [_finding(f) for f in rec.also_seen]
        if rec.not_judged:
            out.message = f"not judged: {rec.not_judged}"
        if rec.cannot_test:
            out.message = rec.cannot_test
    return out


def deviation_statuses(
    known: KnownDeviations, logs: list[CheckLog], checks: list[CheckResult]
) -> list[DeviationStatus]:
    tested = {"FAILED", "KNOWN", "NON-STRICT", "OK"}
    ran = [(log, c) for log, c in zip(logs, checks, strict=True) if c.grade in tested]
    out = []
    for dev in known.entries:
        matched = [
            c.id
            for log, c in ran
            if log.record is not None
            and any(d is dev for _, d in log.record.known + log.record.expired)
        ]
        aimed = [c.id for log, c in ran if dev.aims_at(log.rules, c.id)]
        expired = any(
            log.record is not None and any(d is dev for _, d in log.record.expired)
            for log, _ in ran
        )
        status = "expired" if expired else "known" if matched else "fixed" if aimed else ""
        out.append(_status(dev, status or "not exercised", matched or aimed))
    return out


def _status(dev: Deviation, status: str, checks: list[str]) -> DeviationStatus:
    expires = dev.expires.isoformat() if isinstance(dev.expires, date) else None
    return DeviationStatus(dev.index, dev.label, dev.reason, expires, status, checks)


def verdict_of(checks: list[CheckResult], error: str) -> str:
    grades = {c.grade for c in checks}
    if error:
        return "ERROR"
    if "FAILED" in grades:
        return "FAIL"
    if "ERROR" in grades or not grades & PASSING:
        return "ERROR"
    return "PASS with NON-STRICT" if "NON-STRICT" in grades else "PASS"


def build_result(
    logs: list[CheckLog],
    *,
    attributed: Callable[[str, float], tuple[float, float]] | None,
    target: str,
    version: str,
    started: float,
    finished: float,
    strict: bool,
    untestable: str,
    known: KnownDeviations | None,
    selected: int = 0,
) -> RunResult:
    checks = []
    setup_s = 0.0
    for log in logs:
        call_s = log.durations.get("call", 0.0)
        setup_s += log.durations.get("setup", 0.0) + log.durations.get("teardown", 0.0)
        own, shared = attributed(log.nodeid, call_s) if attributed else (call_s, 0.0)
        checks.append(check_result(log, own, shared))
    error = untestable
    if not error and not any(c.grade in PASSING or c.grade == "FAILED" for c in checks):
        error = "no check was run" if not checks else "no check could test anything"
    return RunResult(
        verdict=verdict_of(checks, error),
        target=target,
        suite_version=version,
        started=started_text(started),
        duration_s=round(finished - started, 1),
        strict=strict,
        checks=checks,
        error=error,
        not_run=max(0, selected - len(checks)),
        setup_s=round(setup_s, 1),
        known_file=str(known.path) if known else "",
        deviations=deviation_statuses(known, logs, checks) if known else [],
    )


def started_text(started: float) -> str:
    return datetime.fromtimestamp(started).astimezone().isoformat(timespec="seconds")
