"""A load run's gate with a baseline (``--asrx-baseline``, ``--asrx-history``): which code
wins, what the summary then says, and what is refused before the run starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.compare.gate import check, judge
from harness.errors import UsageError
from harness.exitcodes import NOT_COMPARABLE, OK, REGRESSED, SLO_BREACHED, USAGE
from tests.compare.fakes import make_summary, write

BIG = {"windows": 20, "sessions_per_window": 6}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("base") / "asrx-summary.json"
    return str(write(path, make_summary(seed=1, **BIG)))


def slower(**kw: Any) -> dict[str, Any]:
    return make_summary(seed=2, shift={"first_partial": 60}, **{**BIG, **kw})


def test_a_run_that_passed_takes_the_comparisons_code(baseline: str) -> None:
    summary = slower()
    code, headline = judge(summary, baseline, "", None)
    assert code == REGRESSED and headline.startswith("baseline: regressed: first_partial")
    assert summary["exit_code"] == REGRESSED and summary["passed"] is False
    assert summary["exit_meaning"] == "regressed" and summary["headline"] == headline
    assert summary["comparison"]["exit_code"] == REGRESSED


def test_a_run_that_failed_its_own_checks_keeps_its_code(baseline: str) -> None:
    summary = slower()
    summary.update(exit_code=SLO_BREACHED, headline="SLO breached: p95_first_partial_ms")
    assert judge(summary, baseline, "", None) == (
        SLO_BREACHED,
        "SLO breached: p95_first_partial_ms",
    )
    assert summary["comparison"]["verdict"] == "regressed", "the report still shows it"


def test_not_comparable_and_no_regression(baseline: str) -> None:
    assert judge(make_summary(seed=3, users=8, **BIG), baseline, "", None)[0] == NOT_COMPARABLE
    same = make_summary(seed=3, **BIG)
    code, headline = judge(same, baseline, "", None)
    assert code == OK and headline == same["headline"] and same["passed"] is True


def test_a_baseline_gone_since_the_start_is_a_usage_error(tmp_path: Path) -> None:
    summary = slower()
    code, headline = judge(summary, str(tmp_path / "gone.json"), "", None)
    assert code == USAGE and "cannot read" in headline
    assert "gone.json" in summary["comparison"]["error"]


def test_history_and_redaction(tmp_path: Path, baseline: str) -> None:
    summary = make_summary(seed=4, **BIG)
    judge(summary, baseline, str(Path(baseline).parent), None, redact=lambda v: {"redacted": v})
    assert summary["history"]["redacted"]["runs"] and "redacted" in summary["comparison"]


def test_check_refuses_what_the_run_could_not_use(tmp_path: Path, baseline: str) -> None:
    check(baseline, str(tmp_path), None)
    with pytest.raises(UsageError, match="not a load summary"):
        check(str(write(tmp_path / "x.json", {"a": 1})), "", None)
    with pytest.raises(UsageError, match="not a directory"):
        check("", str(tmp_path / "nope"), None)
    gate_file = tmp_path / "gate.toml"
    gate_file.write_text('[slo]\np95_close_ms = 5\n[compare]\nlatency = "soon"\n')
    with pytest.raises(UsageError, match="tolerance 'soon'"):
        check(baseline, "", str(gate_file))
