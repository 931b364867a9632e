"""``asrx compare`` as a CI script uses it: exit codes, the one-line outcome, --json,
--html, and one line on stderr for anything it cannot use."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli.main import main
from harness.exitcodes import NOT_COMPARABLE, OK, REGRESSED, USAGE
from tests.compare.fakes import make_summary, write

BIG = {"windows": 20, "sessions_per_window": 6}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("runs")
    return {
        "base": write(d / "base" / "asrx-summary.json", make_summary(seed=1, **BIG)),
        "same": write(d / "same.json", make_summary(seed=2, **BIG)),
        "slow": write(d / "slow.json", make_summary(seed=3, shift={"first_partial": 60}, **BIG)),
        "more": write(d / "more.json", make_summary(seed=4, users=8, **BIG)),
    }


def last_line(out: str) -> str:
    return out.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("current", "code", "outcome"),
    [
        ("same", OK, "no regression"),
        ("slow", REGRESSED, "regressed: first_partial"),
        ("more", NOT_COMPARABLE, "not comparable: users: 4 vs 8"),
    ],
)
def test_exit_code_and_one_line_outcome(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str], current: str, code: int, outcome: str
) -> None:
    assert main(["compare", str(runs["base"]), str(runs[current])]) == code
    out = capsys.readouterr().out
    assert last_line(out).startswith(f"asrx compare: {outcome}")
    assert last_line(out).endswith(f"(exit {code})")
    assert re.search(r"^first_partial\s+p95\s+\d", out, flags=re.M), "one line per figure"


def test_json_is_the_whole_comparison(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base_dir = runs["base"].parent  # a reports directory stands for its latest summary
    assert main(["compare", str(base_dir), str(runs["slow"]), "--json"]) == REGRESSED
    data = json.loads(capsys.readouterr().out)
    assert data["exit_code"] == REGRESSED and data["verdict"] == "regressed"
    assert data["baseline"]["path"].endswith("asrx-summary.json")


def test_html_is_one_self_contained_page(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "out" / "compare.html"
    main(["compare", str(runs["base"]), str(runs["slow"]), "--html", str(page)])
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "REGRESSED" in html
    assert "<script" not in html and not re.search(r'(src|href)="https?:', html)
    assert html.count("<svg") >= 4, "one overlay chart per latency"
    assert ">baseline</text>" in html and ">current</text>" in html


def test_tolerance_and_confidence_options_change_the_verdict(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["compare", str(runs["base"]), str(runs["slow"])]
    assert main([*args, "--tolerance", "first_partial=100ms"]) == OK
    assert main([*args, "--tolerance", "30%", "--confidence", "0.99"]) == OK
    assert (
        main(["compare", str(runs["base"]), str(runs["more"]), "--allow-different", "users"]) == OK
    )


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--tolerance", "fast"], "tolerance 'fast'"),
        (["--tolerance", "first_partal=5%"], "unknown key 'first_partal'"),
        (["--confidence", "2"], "confidence"),
        (["--resamples", "0"], "--resamples"),
        (["--slo-file", "/nonexistent/gate.toml"], "cannot read"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str], extra: list[str], match: str
) -> None:
    assert main(["compare", str(runs["base"]), str(runs["same"]), *extra]) == USAGE
    err = capsys.readouterr().err
    assert err.startswith("asrx compare: error: ") and match in err
    assert err.count("\n") == 1


def test_from_the_console_a_bad_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "old-summary.json"
    bad.write_text(json.dumps({"schema": "asrx-summary/2", "percentiles": {}}))
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli.main", "compare", str(bad), str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == USAGE
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "carries no histograms" in done.stderr and str(bad) in done.stderr
