"""Findings -> a graded check: OK, NON-STRICT, KNOWN or FAILED (docs/protocol.md, verdicts).

One defect, one failure: a check owns the rules of its ``asrx_rule`` markers. ``Grader.check``
fails it only on findings of those rules; every other finding seen during it is recorded as
context ("also seen") without failing it: the check that owns that rule fails for it.

Of a check's own findings, a ``strict_only`` one is NON-STRICT unless ``--asrx-strict``; one
a known-deviations entry covers is KNOWN (the check is reported as an expected failure,
pytest's xfail); one only an expired entry covers fails like any other, saying so.

A check that cannot judge its rule because the server broke another one first (no message
could be read, so no sentence can be counted) is *not judged*: it skips, naming the rule
that stood in the way. Everything is kept on the test item (``record_of``) for the
reports; the plugin adds it to the JUnit XML as ``asrx-*`` properties (``record_properties``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import NoReturn

import pytest

from harness.conformance.known import Deviation, KnownDeviations
from harness.protocol.events import Finding
from harness.protocol.rules import describe

#: The marker naming the rules a check enforces (its own rules).
MARKER = "asrx_rule"
#: user_properties names the JUnit XML and the reports carry.
PROP_RULE = "asrx-rule"
PROP_FAILING = "asrx-failing"
PROP_NON_STRICT = "asrx-non-strict"
PROP_KNOWN = "asrx-known"
PROP_ALSO_SEEN = "asrx-also-seen"
PROP_NOT_JUDGED = "asrx-not-judged"
#: Findings shown per kind in one failure message and kept as context (the rest counted).
MAX_SHOWN = 12


def own_rules(node: pytest.Item) -> tuple[str, ...]:
    """The rules of a check's ``asrx_rule`` markers, in order, once each."""
    rules = [r for mark in node.iter_markers(MARKER) for r in mark.args]
    return tuple(dict.fromkeys(rules))


def check_name(node: pytest.Item) -> str:
    """The check as known-deviations entries and ``conformance-diff`` name it: ``test_x[case]``."""
    return node.name


@dataclass
class CheckRecord:
    """What one check found, by kind, for the reports."""

    rules: tuple[str, ...]
    context: str = ""
    failing: list[Finding] = field(default_factory=list)
    non_strict: list[Finding] = field(default_factory=list)
    known: list[tuple[Finding, Deviation]] = field(default_factory=list)
    expired: list[tuple[Finding, Deviation]] = field(default_factory=list)
    also_seen: list[Finding] = field(default_factory=list)
    also_seen_more: int = 0
    not_judged: str = ""
    #: Why the check could not test at all (no session opened): an ERROR, not a failure.
    cannot_test: str = ""
    #: The text the grader ended the check with (already clean of keys).
    outcome_text: str = ""

    def add_context(self, findings: Iterable[Finding]) -> None:
        for f in findings:
            if f in self.also_seen:
                continue
            if len(self.also_seen) < MAX_SHOWN:
                self.also_seen.append(f)
            else:
                self.also_seen_more += 1


_RECORD = pytest.StashKey[CheckRecord]()


def record_of(node: pytest.Item) -> CheckRecord | None:
    return node.stash.get(_RECORD, None)


def finding_line(f: Finding) -> str:
    """One finding on one line: rule, what was expected, what was seen."""
    return f"§{f.rule}: expected {f.expected}; seen {f.seen}"


def _lines(findings: list[Finding]) -> list[str]:
    out = [f"  - {finding_line(f)}" for f in findings[:MAX_SHOWN]]
    if len(findings) > MAX_SHOWN:
        out.append(f"  - ... and {len(findings) - MAX_SHOWN} more")
    return out


def failure_text(record: CheckRecord) -> str:
    """The failure message: the failing findings first, then the context, one per line."""
    where = f" ({record.context})" if record.context else ""
    rules = sorted({f.rule for f in record.failing} | {f.rule for f, _ in record.expired})
    lines = [f"{', '.join(describe(r) for r in rules)}{where}"]
    lines += _lines(record.failing)
    for f, dev in record.expired:
        lines.append(f"  - {finding_line(f)}")
        lines.append(
            f"    (known deviation {dev.index} expired on {dev.expires}: {dev.reason}; "
            "it fails again until the file is updated)"
        )
    if record.known:
        lines.append("known deviations, not counted:")
        lines += [f"  - {finding_line(f)} [{dev.reason}]" for f, dev in record.known]
    lines += context_lines(record)
    return "\n".join(lines)


def context_lines(record: CheckRecord) -> list[str]:
    if not record.also_seen:
        return []
    more = f", {record.also_seen_more} more" if record.also_seen_more else ""
    head = f"also seen (other checks' rules, not counted here{more}):"
    return [head] + [f"  - {finding_line(f)}" for f in record.also_seen]


@dataclass
class Grader:
    """Grades one check; ``check`` ends it (fail, xfail) or returns when it passed."""

    node: pytest.Item
    strict: bool
    known: KnownDeviations | None = None
    today: date = field(default_factory=date.today)
    #: Removes the keys from what a server said (``Finding.seen``); the plugin passes its
    #: redactor's. The rest of a finding is the suite's own text, left as it is.
    clean: Callable[[str], str] = str
    record: CheckRecord = field(init=False)

    def __post_init__(self) -> None:
        self.record = CheckRecord(own_rules(self.node))
        self.node.stash[_RECORD] = self.record

    @property
    def rules(self) -> tuple[str, ...]:
        return self.record.rules

    def check(self, findings: Iterable[Finding], context: str = "") -> None:
        """Grade ``findings``: fail on a failing one of the check's own rules, report the
        check as a known failure when all of those are known, else return (pass)."""
        rec = self.record
        rec.context = rec.context or context
        # A finding seen twice is graded once.
        found = list(dict.fromkeys(replace(f, seen=self.clean(f.seen)) for f in findings))
        rec.add_context(f for f in found if f.rule not in rec.rules)
        for f in (f for f in found if f.rule in rec.rules):
            self._grade(f)
        if rec.failing or rec.expired:
            rec.outcome_text = failure_text(rec)
            pytest.fail(rec.outcome_text, pytrace=False)
        if rec.known:
            reasons = "; ".join(sorted({f"{d.label}: {d.reason}" for _, d in rec.known}))
            rec.outcome_text = f"known deviation ({reasons})"
            pytest.xfail(rec.outcome_text)

    def not_judged(self, reason: str, because: Iterable[Finding] = ()) -> NoReturn:
        """Skip: the check cannot judge its rules because the server broke ``because``."""
        rec = self.record
        rec.add_context(replace(f, seen=self.clean(f.seen)) for f in because)
        rec.not_judged = reason
        rec.outcome_text = f"not judged: {reason}"
        pytest.skip(rec.outcome_text)

    def cannot_test(self, reason: str) -> NoReturn:
        """End the check as an ERROR: it could not test (the server gave it no session)."""
        self.record.cannot_test = self.record.outcome_text = f"could not test: {self.clean(reason)}"
        pytest.fail(self.record.outcome_text, pytrace=False)

    def _grade(self, f: Finding) -> None:
        rec = self.record
        if f.strict_only and not self.strict:
            if f not in rec.non_strict:
                rec.non_strict.append(f)
            return
        dev = self.known.match(f.rule, check_name(self.node), self.today) if self.known else None
        if dev is None:
            rec.failing.append(f)
        elif dev.expired(self.today):
            rec.expired.append((f, dev))
        else:
            rec.known.append((f, dev))


def record_properties(rec: CheckRecord) -> list[tuple[str, str]]:
    """The record as ``asrx-*`` user properties (one per finding), for the JUnit XML."""
    props = [(PROP_FAILING, finding_line(f)) for f in rec.failing[:MAX_SHOWN]]
    props += [(PROP_FAILING, f"{finding_line(f)} [expired {d.expires}]") for f, d in rec.expired]
    props += [(PROP_NON_STRICT, finding_line(f)) for f in rec.non_strict[:MAX_SHOWN]]
    props += [(PROP_KNOWN, f"{finding_line(f)} [{d.reason}]") for f, d in rec.known]
    props += [(PROP_ALSO_SEEN, finding_line(f)) for f in rec.also_seen]
    if rec.not_judged:
        props.append((PROP_NOT_JUDGED, rec.not_judged))
    return props
