"""Verdicts per metric, the exit code and the headline, on summaries written the way a run
writes them."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest

from harness.compare import tolerance
from harness.compare.judge import Comparison, compare
from harness.compare.record import RunRecord, run_record
from harness.compare.tolerance import Tolerances
from harness.compare.verdicts import (
    IMPROVED_V,
    NO_CHANGE_V,
    NOT_COMPARABLE_V,
    NOT_MEASURED_V,
    REGRESSED_V,
    WITHIN_V,
)
from harness.exitcodes import NOT_COMPARABLE, OK, REGRESSED
from tests.compare.fakes import make_summary

#: Enough for p50 and p95 to be resolved (200 first-partial samples and more).
BIG = {"windows": 20, "sessions_per_window": 6}


def run(**kw: Any) -> RunRecord:
    """A run's record (made once per set of arguments: compare reads, never changes it)."""
    return _run(json.dumps({**BIG, **kw}, sort_keys=True))


@functools.cache
def _run(kw: str) -> RunRecord:
    args = json.loads(kw)
    return run_record(make_summary(**args), f"seed {args.get('seed', 0)}")


def verdicts(c: Comparison) -> dict[str, str]:
    return {m.metric: m.verdict for m in c.metrics}


def test_two_runs_of_the_same_process_show_no_regression() -> None:
    c = compare(run(seed=1), run(seed=2))
    assert c.exit_code == OK, c.headline
    v = verdicts(c)
    assert all(v[m] in (NO_CHANGE_V, WITHIN_V) for m in ("connect", "first_partial", "sentence"))
    assert v["error_ratio"] == NO_CHANGE_V
    assert c.headline.startswith("no regression (")


def test_a_slower_server_regresses_the_metrics_it_slowed() -> None:
    c = compare(run(seed=1), run(seed=2, shift={"first_partial": 50, "sentence": 50}))
    v = verdicts(c)
    assert v["first_partial"] == v["sentence"] == REGRESSED_V
    assert v["connect"] != REGRESSED_V and v["close"] != REGRESSED_V
    assert c.exit_code == REGRESSED
    fp = next(m for m in c.metrics if m.metric == "first_partial")
    p50 = fp.changes[0]
    assert p50.figure == "p50" and 45 < p50.change < 55  # type: ignore[operator]
    assert p50.low is not None and p50.low > 0 and p50.allowed == pytest.approx(17.5, abs=1)
    assert c.headline.startswith("regressed: first_partial p")
    assert "sentence" in c.headline and "\n" not in c.headline


def test_a_detectable_change_inside_the_tolerance_does_not_fail() -> None:
    # +8 ms on a 350 ms first partial: seen, but under 5 % (17.5 ms).
    c = compare(run(seed=1), run(seed=2, shift={"first_partial": 8}))
    assert verdicts(c)["first_partial"] == WITHIN_V
    assert c.exit_code == OK
    tight = tolerance.merge(Tolerances(), {"first_partial": "1%"}, "test")
    assert compare(run(seed=1), run(seed=2, shift={"first_partial": 8}), tight).exit_code == (
        REGRESSED
    )


def test_a_faster_server_is_improved_and_passes() -> None:
    c = compare(run(seed=1), run(seed=2, shift={"sentence": -60}))
    assert verdicts(c)["sentence"] == IMPROVED_V
    assert c.exit_code == OK


def test_send_lateness_is_shown_but_does_not_gate() -> None:
    tight = tolerance.merge(Tolerances(), {"send_lateness": "1ms"}, "test")
    c = compare(run(seed=1), run(seed=2, shift={"send_lateness": 5}), tight)
    lateness = next(m for m in c.metrics if m.metric == "send_lateness")
    assert lateness.verdict == REGRESSED_V and not lateness.gates
    assert c.exit_code == OK


def test_a_saturated_harness_makes_the_runs_not_comparable() -> None:
    c = compare(run(seed=1), run(seed=2, shift={"send_lateness": 40}))
    assert c.exit_code == NOT_COMPARABLE
    assert "saturated: the current run's harness was saturated" in c.headline


def test_failed_sessions_regress_the_error_ratio() -> None:
    c = compare(run(seed=1), run(seed=2, failures_per_window=1))
    ratio = next(m for m in c.metrics if m.metric == "error_ratio")
    assert ratio.verdict == REGRESSED_V, ratio.reason
    assert ratio.changes[0].current == pytest.approx(1 / 7)
    assert c.exit_code == REGRESSED


@pytest.mark.parametrize(
    ("change", "aspect"),
    [
        ({"users": 8}, "users: 4 vs 8"),
        ({"windows": 40}, "duration: 40 s vs 80 s"),
        ({"frame_bytes": 2048}, "frame_bytes"),
        ({"engine": "pocketsphinx"}, "target: embedded reference server (synthetic) vs "),
        ({"engine": None}, "target"),
        ({"corpus": "th"}, "corpus: en-synth"),
    ],
)
def test_runs_that_differ_are_not_comparable_and_say_why(
    change: dict[str, Any], aspect: str, tmp_path: Any
) -> None:
    if change.get("corpus"):
        from harness.corpus import default_corpus_dir

        change = {"corpus": str(default_corpus_dir("th"))}
    base = run(seed=1)
    c = compare(base, run(seed=2, **change))
    assert c.exit_code == NOT_COMPARABLE
    assert aspect in c.headline and c.headline.startswith("not comparable: ")
    assert all(m.verdict == NOT_COMPARABLE_V for m in c.metrics)
    assert all(ch.verdict == NOT_COMPARABLE_V for m in c.metrics for ch in m.changes)


def test_an_allowed_difference_is_compared_and_noted() -> None:
    c = compare(run(seed=1), run(seed=2, users=8), allow=["users"])
    assert c.exit_code == OK and c.allowed == ["users: 4 vs 8 (allowed)"]
    assert compare(run(seed=1), run(seed=2, windows=22)).comparable  # 10 % longer: fine


def test_a_metric_only_one_run_measured_is_not_measured() -> None:
    base = make_summary(**BIG)
    cur = make_summary(seed=3, **BIG)
    cur["histograms"]["word_upl"] = ""
    base["histograms"]["word_upl"] = base["histograms"]["close"]
    c = compare(run_record(base, "b"), run_record(cur, "c"))
    word = next(m for m in c.metrics if m.metric == "word_upl")
    assert word.verdict == NOT_MEASURED_V and "current run" in word.reason
    assert c.exit_code == OK


def test_wer_is_compared_utterance_by_utterance() -> None:
    same = {f"u{i}": (2, 20) for i in range(8)}
    worse = {f"u{i}": (6, 20) for i in range(8)}
    base, cur = run(seed=1, accuracy=same, engine=None), run(seed=2, accuracy=worse, engine=None)
    wer = next(m for m in compare(base, cur).metrics if m.metric == "wer")
    assert wer.verdict == REGRESSED_V and wer.changes[0].change == pytest.approx(0.2)
    assert "paired bootstrap over the 8 utterances" in wer.method
    synthetic = compare(run(seed=1, accuracy=same), run(seed=2, accuracy=worse))
    wer = next(m for m in synthetic.metrics if m.metric == "wer")
    assert wer.verdict == NOT_MEASURED_V and "synthetic engine" in wer.reason


def test_few_samples_say_so_instead_of_guessing() -> None:
    c = compare(run(seed=1, windows=4, sessions_per_window=2), run(seed=2, windows=4))
    fp = next(m for m in c.metrics if m.metric == "first_partial")
    assert "bootstrap by session" in fp.method
    p99 = fp.changes[2]
    assert p99.low is None and "too few samples" in p99.note
    assert p99.verdict == NO_CHANGE_V


def test_the_same_inputs_and_seed_give_the_same_comparison() -> None:
    a, b = run(seed=1), run(seed=2, shift={"close": 3})
    assert compare(a, b).to_dict() == compare(a, b).to_dict()
    assert compare(a, b, seed=5).to_dict()["seed"] == 5


def test_the_json_form_holds_what_the_page_and_ci_need() -> None:
    d = compare(run(seed=1), run(seed=2, shift={"first_partial": 50})).to_dict()
    assert d["format"] == "asrx-compare/1" and d["exit_code"] == REGRESSED
    assert d["verdict"] == "regressed" and d["comparable"] is True
    fp = next(m for m in d["metrics"] if m["metric"] == "first_partial")
    assert {"figure", "baseline", "current", "change", "low", "high", "allowed"} <= set(
        fp["changes"][1]
    )
    assert fp["distribution"]["baseline"] and fp["distribution"]["current"]
    assert d["baseline"]["identity"]["users"] == 4


def test_an_utterance_replayed_more_often_does_not_weigh_more() -> None:
    # Same recognition in both runs; the baseline happened to replay u0 (a hard one) 4 times.
    base = make_summary(seed=1, engine=None, accuracy={"u1": (0, 20)}, **BIG)
    base["accuracy"]["utterances"].append(
        {"utterance_id": "u0", "lang": "en", "metric": "wer", "reference": "", "hypothesis": "",
         "errors": 40, "units": 80, "sessions": 4, "rate": 0.5}
    )  # fmt: skip
    cur = make_summary(seed=2, engine=None, accuracy={"u1": (0, 20)}, **BIG)
    cur["accuracy"]["utterances"].append(
        {"utterance_id": "u0", "lang": "en", "metric": "wer", "reference": "", "hypothesis": "",
         "errors": 10, "units": 20, "sessions": 1, "rate": 0.5}
    )  # fmt: skip
    wer = next(
        m for m in compare(run_record(base, "b"), run_record(cur, "c")).metrics if m.metric == "wer"
    )
    assert wer.changes[0].baseline == wer.changes[0].current == pytest.approx(0.25)
    assert wer.verdict == NO_CHANGE_V
