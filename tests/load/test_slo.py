"""SLO thresholds (files, options, validation), verdicts and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.load import slo as slo_mod
from harness.load.slo import (
    EXIT_HARNESS_SATURATED,
    EXIT_PASSED,
    EXIT_RUN_FAILED,
    EXIT_SLO_BREACHED,
    HEALTH_VERDICT,
    RUN_VERDICT,
    SLO,
    SLOConfigError,
    evaluate,
    exit_code,
    load_slo,
)
from harness.load.stats import RunStats


def make_stats(
    *,
    first_partial: tuple[float, ...] = (100, 120, 150, 200),
    sentence: tuple[float, ...] = (300, 350, 400),
    close: tuple[float, ...] = (20, 25),
    lateness: tuple[float, ...] = (0.1, 0.2, 0.5, 1.0),
    ok: int = 4,
    failures: dict[str, int] | None = None,
) -> RunStats:
    stats = RunStats()
    for name, values in (
        ("first_partial", first_partial),
        ("sentence", sentence),
        ("close", close),
        ("send_lateness", lateness),
    ):
        for v in values:
            stats.histograms[name].record(v)
    stats.sessions = ok + sum((failures or {}).values())
    stats.sessions_ok = ok
    stats.failures.update(failures or {})
    stats.record_accuracy("u1", "en", "wer", "hello world", "hello word", 1, 2)
    stats.record_accuracy("u2", "th", "cer", "abc", "abc", 0, 3)
    return stats


def by_name(verdicts: list[slo_mod.Verdict]) -> dict[str, slo_mod.Verdict]:
    return {v.name: v for v in verdicts}


# -- verdicts ---------------------------------------------------------------------------
def test_reasonable_slo_passes() -> None:
    slo = SLO(p95_first_partial_ms=1000, p95_sentence_ms=2000, max_error_ratio=0.1, max_wer=0.6)
    verdicts = evaluate(make_stats(), slo)
    assert all(v.passed for v in verdicts), [v.reason for v in verdicts if not v.passed]
    assert exit_code(verdicts) == EXIT_PASSED


def test_impossible_slo_is_breached() -> None:
    verdicts = by_name(evaluate(make_stats(), SLO(p95_first_partial_ms=0.001)))
    v = verdicts["p95_first_partial_ms"]
    assert not v.passed and v.measured == pytest.approx(200, rel=1e-3), v
    assert exit_code(list(verdicts.values())) == EXIT_SLO_BREACHED


def test_saturated_harness_never_passes() -> None:
    stats = make_stats(lateness=(1, 2, 50, 60, 70))
    verdicts = evaluate(stats, SLO(p95_first_partial_ms=10_000))
    health = by_name(verdicts)[HEALTH_VERDICT]
    assert not health.passed and "saturated" in health.reason
    assert exit_code(verdicts) == EXIT_HARNESS_SATURATED


def test_saturation_applies_without_thresholds() -> None:
    assert exit_code(evaluate(make_stats(lateness=(50,)), SLO())) == EXIT_HARNESS_SATURATED


def test_lateness_bound_is_configurable() -> None:
    stats = make_stats(lateness=(50,))
    assert exit_code(evaluate(stats, SLO(lateness_bound_ms=100))) == EXIT_PASSED


def test_no_completed_session_is_a_failed_run() -> None:
    stats = make_stats(
        first_partial=(), sentence=(), close=(), lateness=(), ok=0, failures={"rejected": 3}
    )
    verdicts = evaluate(stats, SLO(p95_first_partial_ms=1000))
    run = by_name(verdicts)[RUN_VERDICT]
    assert not run.passed and "rejected" in run.reason
    assert exit_code(verdicts) == EXIT_RUN_FAILED


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
    assert SLO(max_wer=1).gated


# -- configuration ----------------------------------------------------------------------
def test_pyproject_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname='x'\n[tool.asrx.slo]\np95_first_partial_ms = 800\nmax_error_ratio = 0.01\n"
    )
    assert load_slo(tmp_path) == SLO(p95_first_partial_ms=800, max_error_ratio=0.01)


def test_asrx_toml_overrides_pyproject_and_options_override_both(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.asrx.slo]\np95_first_partial_ms = 800\np95_sentence_ms = 2000\n"
    )
    (tmp_path / "asrx.toml").write_text("[slo]\np95_first_partial_ms = 500\n")
    slo = load_slo(tmp_path, overrides={"p95_sentence_ms": 900, "max_wer": None})
    assert slo == SLO(p95_first_partial_ms=500, p95_sentence_ms=900)


def test_explicit_file_accepts_either_table(tmp_path: Path) -> None:
    path = tmp_path / "ci.toml"
    path.write_text("[tool.asrx.slo]\nmax_wer = 0.3\n")
    assert load_slo(tmp_path, slo_file=path) == SLO(max_wer=0.3)


def test_no_files_no_thresholds(tmp_path: Path) -> None:
    assert load_slo(tmp_path) == SLO()


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[slo]\np95_first_partal_ms = 800\n", "unknown key 'p95_first_partal_ms'"),
        ("[slo]\np95_first_partial_ms = 'fast'\n", "p95_first_partial_ms must be a number"),
        ("[slo]\np95_first_partial_ms = true\n", "p95_first_partial_ms must be a number"),
        ("[slo]\np95_sentence_ms = -1\n", "p95_sentence_ms must be a finite number >= 0"),
        ("[slo]\nmax_error_ratio = 5\n", "max_error_ratio is a ratio between 0 and 1"),
        ("[slo]\nmax_wer = nan\n", "max_wer must be a finite number >= 0"),
        ("slo = 3\n", "expected a table of thresholds"),
        ("[slo\n", "invalid TOML"),
    ],
)
def test_bad_files_are_one_line_usage_errors(tmp_path: Path, toml: str, message: str) -> None:
    (tmp_path / "asrx.toml").write_text(toml)
    with pytest.raises(SLOConfigError) as info:
        load_slo(tmp_path)
    text = str(info.value)
    assert message in text and "asrx.toml" in text and "\n" not in text, text
    assert isinstance(info.value, UsageError) and info.value.exit_code == 2


def test_explicit_file_without_table(tmp_path: Path) -> None:
    path = tmp_path / "ci.toml"
    path.write_text("[other]\nx = 1\n")
    with pytest.raises(SLOConfigError, match="no \\[slo\\] or \\[tool.asrx.slo\\] table"):
        load_slo(tmp_path, slo_file=path)


def test_bad_option_value() -> None:
    with pytest.raises(SLOConfigError, match="--slo-p95-close-ms: p95_close_ms must be a number"):
        slo_mod.parse_number("p95_close_ms", "soon", "--slo-p95-close-ms")


def test_option_and_env_names() -> None:
    assert slo_mod.option_name("p95_first_partial_ms") == "--slo-p95-first-partial-ms"
    assert slo_mod.env_name("max_error_ratio") == "ASRX_SLO_MAX_ERROR_RATIO"


# -- the gate in a real Locust run -------------------------------------------------------
RUN = ("--headless", "-u", "2", "-r", "2", "-t", "8s")


def gated_run(tmp_path: Path, *args: str, **env: str) -> tuple[int, str, dict | None]:
    from tests.load.runs import clean_env, run_locust

    proc = run_locust(
        *RUN,
        "--asrx-report-dir",
        str(tmp_path / "reports"),
        *args,
        env=clean_env(**env),
        cwd=tmp_path,
        timeout=90,
    )
    summary_path = tmp_path / "reports" / "asrx-summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    return proc.returncode, proc.stdout + proc.stderr, summary


@pytest.mark.slow
def test_gate_fails_an_impossible_slo(tmp_path: Path) -> None:
    code, out, summary = gated_run(tmp_path, "--slo-p95-first-partial-ms", "0.001")
    assert code == EXIT_SLO_BREACHED, out[-3000:]
    assert summary is not None and summary["exit_code"] == EXIT_SLO_BREACHED
    failed = [v["name"] for v in summary["verdicts"] if not v["passed"]]
    assert failed == ["p95_first_partial_ms"], summary["verdicts"]
    assert "asrx gate: FAIL (exit 3: SLO breached)" in out


@pytest.mark.slow
def test_gate_passes_a_reasonable_slo_from_pyproject_and_env(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.asrx.slo]\np95_first_partial_ms = 5000\np95_sentence_ms = 0.001\n"
    )
    code, out, summary = gated_run(
        tmp_path, "--slo-max-error-ratio", "0.5", ASRX_SLO_P95_SENTENCE_MS="8000"
    )
    assert code == EXIT_PASSED, out[-3000:]
    assert summary is not None and summary["slo"]["p95_sentence_ms"] == 8000
    assert summary["slo"]["p95_first_partial_ms"] == 5000
    assert summary["passed"] is True


@pytest.mark.slow
@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("[slo]\np95_first_partal_ms = 1\n", (), "unknown key 'p95_first_partal_ms'"),
        ("[slo]\nmax_error_ratio = 2\n", (), "max_error_ratio is a ratio between 0 and 1"),
        ("", ("--slo-p95-close-ms", "soon"), "p95_close_ms must be a number, got 'soon'"),
    ],
)
def test_bad_slo_config_exits_2_in_one_line(
    tmp_path: Path, setup: str, args: tuple[str, ...], message: str
) -> None:
    if setup:
        (tmp_path / "asrx.toml").write_text(setup)
    code, out, summary = gated_run(tmp_path, *args)
    assert code == 2, out[-3000:]
    lines = [line for line in out.splitlines() if message in line]
    assert len(lines) == 1 and lines[0].startswith("asrx: "), out[-3000:]
    assert "Traceback" not in out and summary is None


def test_shipped_example_file_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "asrx.toml.example"
    objectives = load_slo(example.parent / "nowhere", slo_file=example)
    assert objectives.gated and objectives.p95_first_partial_ms is not None
