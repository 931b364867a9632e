"""The checks a run is judged on and the one exit code they give."""

from __future__ import annotations

import pytest

from harness.exitcodes import HARNESS_SATURATED, OK, SLO_BREACHED, TARGET_FAILED, USAGE
from harness.load.slo import SLO
from harness.load.verdict import (
    ABORT_VERDICT,
    ERROR_RATIO_VERDICT,
    HEALTH_VERDICT,
    RUN_VERDICT,
    Verdict,
    evaluate,
    exit_code,
    headline,
)
from tests.load.fakes import make_stats


def by_name(verdicts: list[Verdict]) -> dict[str, Verdict]:
    return {v.name: v for v in verdicts}


def test_reasonable_slo_passes() -> None:
    slo = SLO(p95_first_partial_ms=1000, p95_sentence_ms=2000, max_error_ratio=0.1, max_wer=0.6)
    verdicts = evaluate(make_stats(), slo)
    assert all(v.passed for v in verdicts), [v.reason for v in verdicts if not v.passed]
    assert exit_code(verdicts) == OK
    assert headline(verdicts, OK) == "passed: every check held"


def test_impossible_slo_is_breached() -> None:
    verdicts = by_name(evaluate(make_stats(), SLO(p95_first_partial_ms=0.001)))
    v = verdicts["p95_first_partial_ms"]
    assert not v.passed and v.measured == pytest.approx(200, rel=1e-3), v
    assert exit_code(list(verdicts.values())) == SLO_BREACHED


def test_the_headline_names_the_deciding_check_and_counts_the_rest() -> None:
    verdicts = evaluate(make_stats(), SLO(p95_first_partial_ms=0.001, p95_sentence_ms=0.001))
    assert headline(verdicts, SLO_BREACHED) == (
        "SLO breached: p95_first_partial_ms: 200.063 ms > 0.001 ms (and 1 more failed check)"
    )


def test_saturated_harness_never_passes() -> None:
    stats = make_stats(lateness=(1, 2, 50, 60, 70))
    verdicts = evaluate(stats, SLO(p95_first_partial_ms=10_000))
    health = by_name(verdicts)[HEALTH_VERDICT]
    assert not health.passed and "saturated" in health.reason
    assert exit_code(verdicts) == HARNESS_SATURATED


def test_saturation_applies_without_thresholds() -> None:
    assert exit_code(evaluate(make_stats(lateness=(50,)), SLO())) == HARNESS_SATURATED


def test_lateness_bound_is_configurable() -> None:
    stats = make_stats(lateness=(50,))
    assert exit_code(evaluate(stats, SLO(lateness_bound_ms=100))) == OK


def test_no_completed_session_is_a_failed_run() -> None:
    stats = make_stats(
        first_partial=(), sentence=(), close=(), lateness=(), ok=0, failures={"rejected": 3}
    )
    verdicts = evaluate(stats, SLO(p95_first_partial_ms=1000))
    run = by_name(verdicts)[RUN_VERDICT]
    assert not run.passed and "3 rejected" in run.reason
    assert exit_code(verdicts) == TARGET_FAILED


def test_without_thresholds_one_failed_session_fails_the_run() -> None:
    """The server killed mid-run: most sessions failed, a few completed. Never a PASS."""
    stats = make_stats(ok=5, failures={"dropped": 3, "connect_failed": 52})
    verdicts = evaluate(stats, SLO())
    ratio = by_name(verdicts)[ERROR_RATIO_VERDICT]
    assert not ratio.passed and ratio.threshold == 0
    assert ratio.reason.startswith("55 of 60 session(s) failed")
    assert "52 connect_failed" in ratio.reason and "3 dropped" in ratio.reason
    assert exit_code(verdicts) == TARGET_FAILED
    assert headline(verdicts, TARGET_FAILED).startswith("run failed: max_error_ratio: 55 of 60")


def test_allowed_error_ratio_lets_a_few_failures_pass() -> None:
    stats = make_stats(ok=99, failures={"timeout": 1})
    assert exit_code(evaluate(stats, SLO(max_error_ratio=0.01))) == OK
    assert exit_code(evaluate(stats, SLO(max_error_ratio=0.005))) == TARGET_FAILED


def test_no_session_at_all_is_not_green() -> None:
    verdicts = evaluate(make_stats(first_partial=(), sentence=(), close=(), ok=0), SLO())
    assert exit_code(verdicts) == TARGET_FAILED
    assert by_name(verdicts)[ERROR_RATIO_VERDICT].reason == "no session ran"


def test_an_aborted_run_keeps_its_code_and_says_why() -> None:
    verdicts = evaluate(make_stats(), SLO(), aborted="cannot use corpus: no manifest")
    assert by_name(verdicts)[ABORT_VERDICT].reason == "stopped: cannot use corpus: no manifest"
    assert exit_code(verdicts, USAGE) == USAGE
    assert "cannot use corpus" in headline(verdicts, USAGE)


def test_unmeasured_metric_fails_rather_than_passing() -> None:
    verdict = by_name(evaluate(make_stats(sentence=()), SLO(p95_sentence_ms=10_000)))
    assert not verdict["p95_sentence_ms"].passed
    assert verdict["p95_sentence_ms"].reason == "not measured: no samples"


def test_error_ratio_and_accuracy_ceilings() -> None:
    stats = make_stats(ok=8, failures={"timeout": 2})
    v = by_name(evaluate(stats, SLO(max_error_ratio=0.1, max_wer=0.4, max_cer=0.0)))
    assert not v["max_error_ratio"].passed and v["max_error_ratio"].measured == 0.2
    assert not v["max_wer"].passed and v["max_wer"].measured == 0.5
    assert v["max_cer"].passed


def test_ungated_slo_knows_it() -> None:
    assert not SLO().gated
    assert not SLO(max_error_ratio=0.1).gated
    assert SLO(max_wer=1).gated
