"""One defect, one failure (docs/protocol.md, verdicts).

A server that is not ours and differs from a conforming one only in its confirmation's
missing ``state`` passes in lenient mode, shown as NON-STRICT, and in strict mode fails the
schema check alone. ``Grader`` keeps the findings of other rules as context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.conformance.grading import Grader, own_rules, record_of
from harness.protocol.events import Finding
from harness.server.embedded import EmbeddedServer
from tests.conformance.confirm_proxy import confirmation_without_state
from tests.conformance.suiterun import run_with_artefacts

KEY = "one-defect-key-3b7d10"


@pytest.mark.slow
def test_confirmation_without_state_fails_only_the_schema_check(tmp_path: Path) -> None:
    with (
        EmbeddedServer(engine="synthetic", apikeys=(KEY,)) as server,
        confirmation_without_state(server.url) as url,
    ):
        args = ["--asrx-url", url, "--asrx-speed", "4"]
        lenient = run_with_artefacts(tmp_path / "lenient", *args, env={"ASRX_APIKEY": KEY})
        strict = run_with_artefacts(
            tmp_path / "strict", *args, "--asrx-strict", env={"ASRX_APIKEY": KEY}
        )

    assert lenient.proc.returncode == 0, lenient.console[-3000:]
    grades = lenient.grades()
    non_strict = {c for c, g in grades.items() if g == "NON-STRICT"}
    assert non_strict and all(c.startswith("test_message_schema[") for c in non_strict)
    speech = [c for c in grades if c.startswith("test_message_schema[en-single")]
    assert set(speech) <= non_strict
    assert not {g for g in grades.values()} - {"OK", "NON-STRICT", "SKIPPED"}, grades
    assert lenient.result["verdict"] == "PASS with NON-STRICT"
    assert "PASS with NON-STRICT" in lenient.html and "verdict: PASS with NON-STRICT" in (
        lenient.console
    )
    assert "asrx-non-strict" in lenient.junit and "Confirm Close Connection" in lenient.junit

    assert strict.proc.returncode == 1, strict.console[-3000:]
    failed = {c for c, g in strict.grades().items() if g in ("FAILED", "ERROR")}
    assert failed == non_strict, sorted(failed ^ non_strict)
    assert strict.result["verdict"] == "FAIL"


@dataclass
class _Mark:
    args: tuple[str, ...]


@dataclass
class _Node:
    """The part of a pytest item a ``Grader`` reads."""

    marks: list[_Mark]
    name: str = "test_x[case]"
    stash: Any = field(default_factory=pytest.Stash)

    def iter_markers(self, name: str) -> list[_Mark]:
        return self.marks if name == "asrx_rule" else []


def grader(*rules: str, strict: bool = False) -> Grader:
    return Grader(_Node([_Mark(rules)]), strict)  # type: ignore[arg-type]


CLOSE = Finding("4.close-1000", "close code 1000 after the confirmation", "close code 1011")
STATE = Finding("3.state", "a field 'state' holding a string", '{"text": "x"}')
LENIENT_STATE = Finding("3.state", "a field 'state'", "{}", strict_only=True)


def test_other_rules_are_context_not_failures() -> None:
    g = grader("4.close-1000")
    with pytest.raises(pytest.fail.Exception) as failed:
        g.check([CLOSE, STATE, STATE])
    text = str(failed.value)
    assert "§4.close-1000" in text.splitlines()[0]
    assert "expected close code 1000 after the confirmation; seen close code 1011" in text
    assert "also seen" in text and "§3.state" in text
    rec = record_of(g.node)  # type: ignore[arg-type]
    assert rec is not None and rec.failing == [CLOSE] and rec.also_seen == [STATE]


def test_a_check_passes_with_only_other_rules_broken() -> None:
    g = grader("4.close-1000")
    g.check([STATE])  # returns: passed
    assert g.record.failing == [] and g.record.also_seen == [STATE]


def test_strict_only_findings_are_non_strict_unless_strict() -> None:
    lenient = grader("3.state")
    lenient.check([LENIENT_STATE])
    assert lenient.record.non_strict == [LENIENT_STATE]
    with pytest.raises(pytest.fail.Exception):
        grader("3.state", strict=True).check([LENIENT_STATE])


def test_not_judged_skips_with_the_reason() -> None:
    g = grader("3.sentences")
    with pytest.raises(pytest.skip.Exception, match="not judged: no state"):
        g.not_judged("no state", [STATE])
    assert g.record.also_seen == [STATE]


def test_own_rules_come_from_the_markers() -> None:
    assert own_rules(_Node([_Mark(("a", "b")), _Mark(("b", "c"))])) == ("a", "b", "c")  # type: ignore[arg-type]
