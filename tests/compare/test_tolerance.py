"""Tolerances: their text, where they come from, and a bad one is one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.compare import tolerance
from harness.compare.tolerance import Tolerances, parse
from harness.errors import UsageError


@pytest.mark.parametrize(
    ("text", "baseline", "allowed"),
    [
        ("10%", 300.0, 30.0),
        ("20ms", 300.0, 20.0),
        ("5%,10ms", 300.0, 15.0),  # the larger: 5 % of 300
        ("5%,10ms", 100.0, 10.0),  # the larger: 10 ms
        ("0.5", 2.0, 0.5),
        (" 5 % , 10 ms ", 400.0, 20.0),
    ],
)
def test_a_tolerance_allows_the_larger_of_its_parts(
    text: str, baseline: float, allowed: float
) -> None:
    assert parse(text, ratio=False, where="t").allowed(baseline) == pytest.approx(allowed)


@pytest.mark.parametrize("text", ["", "ten", "10%%", "-5%", "5s", "5%;10ms", "inf"])
def test_a_malformed_tolerance_is_one_line(text: str) -> None:
    with pytest.raises(UsageError, match="tolerance") as err:
        parse(text, ratio=False, where="--tolerance")
    assert "\n" not in str(err.value)


def test_a_ratio_has_no_milliseconds() -> None:
    with pytest.raises(UsageError, match="no ms"):
        parse("5ms", ratio=True, where="error_ratio")
    assert parse("0.02", ratio=True, where="wer").allowed(0.3) == 0.02


def test_the_most_specific_key_wins() -> None:
    t = tolerance.merge(
        Tolerances(),
        {"latency": "1ms", "first_partial": "2ms", "first_partial.p99": "3ms"},
        "test",
    )
    assert t.get("connect", 50).absolute == 1
    assert t.get("first_partial", 50).absolute == 2
    assert t.get("first_partial", 99).absolute == 3
    assert t.get("error_ratio").absolute == 0.01  # the default
    assert Tolerances().get("sentence", 95).text == tolerance.DEFAULTS["latency"]


@pytest.mark.parametrize(
    ("entries", "match"),
    [
        ({"first_partal": "5%"}, "unknown key 'first_partal'"),
        ({"first_partial.p90": "5%"}, "unknown key"),
        ({"confidence": 1.5}, "confidence"),
        ({"confidence": "high"}, "confidence"),
        ({"latency": True}, "must be a text"),
        ({"wer": "2ms"}, "no ms"),
    ],
)
def test_bad_entries_are_refused_in_one_line(entries: dict, match: str) -> None:
    with pytest.raises(UsageError, match=match) as err:
        tolerance.merge(Tolerances(), entries, "asrx.toml [compare]")
    assert "\n" not in str(err.value)


def test_files_then_options_are_laid_over_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "asrx.toml").write_text(
        '[slo]\np95_close_ms = 100\n[compare]\nlatency = "2%,1ms"\nconfidence = 0.9\n'
    )
    named = tmp_path / "gate.toml"
    named.write_text('[compare]\n"sentence.p95" = "30ms"\n')
    t = tolerance.load(tmp_path, named, tolerance.from_options(["sentence.p95=40ms", "3%"]))
    assert t.confidence == 0.9
    assert t.get("sentence", 95).absolute == 40
    assert t.get("connect", 50).relative == pytest.approx(0.03)  # bare spec: every latency


def test_a_file_without_a_compare_table_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "asrx.toml").write_text("[slo]\np95_close_ms = 100\n")
    assert tolerance.load(tmp_path) == Tolerances()


def test_a_bad_toml_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "gate.toml"
    bad.write_text("[compare\n")
    with pytest.raises(UsageError, match="invalid TOML"):
        tolerance.load(tmp_path, bad)
    bad.write_text("compare = 3\n")
    with pytest.raises(UsageError, match="expected a table"):
        tolerance.load(tmp_path, bad)
