"""SLO thresholds: Locust's configuration layers, the asrx.toml table, validation, and the
gate in real runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.exitcodes import OK, SLO_BREACHED, USAGE
from harness.load import slo as slo_mod
from harness.load.slo import SLO, SLOConfigError, load_slo

REPO = Path(__file__).resolve().parents[2]


# -- files -------------------------------------------------------------------------------
def test_asrx_toml_then_slo_file_then_options(tmp_path: Path) -> None:
    (tmp_path / "asrx.toml").write_text("[slo]\np95_first_partial_ms = 500\np95_close_ms = 9\n")
    ci = tmp_path / "ci.toml"
    ci.write_text("[slo]\np95_close_ms = 700\nmax_wer = 0.3\n")
    slo = load_slo(tmp_path, slo_file=ci, overrides={"max_wer": 0.2, "p95_sentence_ms": None})
    assert slo == SLO(p95_first_partial_ms=500, p95_close_ms=700, max_wer=0.2)


def test_no_files_no_thresholds(tmp_path: Path) -> None:
    assert load_slo(tmp_path) == SLO()


def test_pyproject_thresholds_belong_to_locusts_table(tmp_path: Path) -> None:
    """A [tool.asrx.slo] table would be silently ignored: it is refused with the fix."""
    (tmp_path / "pyproject.toml").write_text("[tool.asrx.slo]\np95_first_partial_ms = 800\n")
    with pytest.raises(SLOConfigError, match=r"\[tool.locust\] as options"):
        load_slo(tmp_path)


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
    assert isinstance(info.value, UsageError) and info.value.exit_code == USAGE


def test_explicit_file_without_table(tmp_path: Path) -> None:
    path = tmp_path / "ci.toml"
    path.write_text("[other]\nx = 1\n")
    with pytest.raises(SLOConfigError, match=r"no \[slo\] table"):
        load_slo(tmp_path, slo_file=path)


def test_bad_option_value() -> None:
    with pytest.raises(SLOConfigError, match="--slo-p95-close-ms: p95_close_ms must be a number"):
        slo_mod.parse_number("p95_close_ms", "soon", "--slo-p95-close-ms")


def test_option_and_env_names() -> None:
    assert slo_mod.option_name("p95_first_partial_ms") == "--slo-p95-first-partial-ms"
    assert slo_mod.env_name("max_error_ratio") == "ASRX_SLO_MAX_ERROR_RATIO"


def test_shipped_example_file_is_valid() -> None:
    objectives = load_slo(REPO / "nowhere", slo_file=REPO / "asrx.toml.example")
    assert objectives.gated and objectives.p95_first_partial_ms is not None
    assert objectives.max_wer is None, "the default embedded engine cannot meet a WER limit"


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
    assert code == SLO_BREACHED, out[-3000:]
    assert summary is not None and summary["exit_code"] == SLO_BREACHED
    failed = [v["name"] for v in summary["verdicts"] if not v["passed"]]
    assert failed == ["p95_first_partial_ms"], summary["verdicts"]
    assert "asrx gate: FAIL (exit 3) SLO breached: p95_first_partial_ms:" in out


@pytest.mark.slow
def test_thresholds_come_through_locusts_configuration_layers(tmp_path: Path) -> None:
    """locust.conf < pyproject.toml [tool.locust] < environment < command line, all above
    asrx.toml [slo]; each layer sets one threshold, and a lower layer's value for the same
    key loses."""
    (tmp_path / "asrx.toml").write_text("[slo]\np95_close_ms = 0.001\np95_sentence_ms = 1\n")
    (tmp_path / "locust.conf").write_text(
        "slo-p95-close-ms = 3000\nslo-p99-first-partial-ms = 0.001\n"
    )
    (tmp_path / "pyproject.toml").write_text(
        "[tool.locust]\nslo-p99-first-partial-ms = 6000\nslo-p95-first-partial-ms = 0.002\n"
    )
    code, out, summary = gated_run(
        tmp_path,
        "--slo-p95-first-partial-ms",
        "5000",
        ASRX_SLO_P95_SENTENCE_MS="8000",
    )
    assert summary is not None, out[-3000:]
    assert (
        summary["slo"].items()
        >= {
            "p95_close_ms": 3000,
            "p99_first_partial_ms": 6000,
            "p95_first_partial_ms": 5000,
            "p95_sentence_ms": 8000,
        }.items()
    ), summary["slo"]
    assert code == OK and summary["passed"] is True, out[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "content", "args", "message"),
    [
        ("asrx.toml", "[slo]\np95_first_partal_ms = 1\n", (), "unknown key 'p95_first_partal_ms'"),
        ("locust.conf", "slo-p95-close-ms = soon\n", (), "p95_close_ms must be a number"),
        ("", "", ("--slo-max-error-ratio", "2"), "max_error_ratio is a ratio between 0 and 1"),
        ("", "", ("--slo-max-wer", "0.3"), "--slo-max-wer needs a server that recognizes speech"),
        ("", "", ("--slo-p90-upl-ms", "500"), "--slo-p90-upl-ms needs a server that recognizes"),
        (
            "",
            "",
            ("--slo-max-missed-word-ratio", "1.5"),
            "max_missed_word_ratio is a ratio between 0 and 1",
        ),
    ],
)
def test_bad_slo_config_exits_2_in_one_line(
    tmp_path: Path, name: str, content: str, args: tuple[str, ...], message: str
) -> None:
    if name:
        (tmp_path / name).write_text(content)
    code, out, summary = gated_run(tmp_path, *args)
    assert code == USAGE, out[-3000:]
    lines = [line for line in out.splitlines() if message in line]
    assert len(lines) == 1 and lines[0].startswith("asrx: "), out[-3000:]
    assert "Traceback" not in out and summary is None


@pytest.mark.slow
def test_shipped_example_passes_against_the_default_embedded_server(tmp_path: Path) -> None:
    (tmp_path / "asrx.toml").write_text((REPO / "asrx.toml.example").read_text())
    code, out, summary = gated_run(tmp_path)
    assert summary is not None and summary["slo"]["p95_first_partial_ms"] is not None
    assert code == OK and summary["passed"], (summary["headline"], out[-3000:])
    assert summary["target"]["embedded_engine"] == "synthetic"
    assert summary["target"]["url"].startswith("ws://127.0.0.1:")
    assert summary["accuracy"]["applicable"] is False
    words = summary["words"]
    assert words["applicable"] is False and words["missed_ratio"] is None
    assert words["counts"]["missed"] > 0 and words["samples"], "placeholder words are missed"


def test_an_asrx_toml_without_an_slo_table_sets_no_threshold(tmp_path: Path) -> None:
    """asrx.toml may hold only [compare] tolerances (asrx compare reads them): no thresholds
    then, not an error."""
    (tmp_path / "asrx.toml").write_text('[compare]\nfirst_partial = "10%,20ms"\n')
    assert not load_slo(tmp_path).gated
