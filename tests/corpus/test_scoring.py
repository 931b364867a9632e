from __future__ import annotations

import math

import pytest

from harness.corpus import Score, metric_for, normalize, pool, score


def test_english_folds_case_and_punctuation() -> None:
    s = score("Hello, World! It's a TEST.", "hello world its a test", "en")
    assert (s.metric, s.errors, s.ref_units, s.rate) == ("wer", 0, 5, 0.0)


def test_english_counts_substitution_deletion_insertion() -> None:
    # ref: the cat sat on the mat (6); hyp: substitutes cat->bat, deletes "on", inserts "down"
    s = score("The cat sat on the mat.", "the bat sat the mat down", "en-US")
    assert (s.errors, s.ref_units) == (3, 6)
    assert s.rate == pytest.approx(0.5)


def test_thai_is_cer_without_whitespace() -> None:
    ref = "วันนี้อากาศดีมาก"
    s = score(ref, "วันนี้ อากาศ ดีมาก", "th")
    assert (s.metric, s.errors, s.ref_units) == ("cer", 0, len(ref))
    one_wrong = score(ref, ref[:-1] + "ข", "th-TH")  # last char (ก) replaced
    assert one_wrong.errors == 1 and one_wrong.rate == pytest.approx(1 / len(ref))


@pytest.mark.parametrize("lang", ["th", "zh", "ja", "lo", "km", "my", "TH-th", "zh_Hans"])
def test_spaceless_scripts_use_cer(lang: str) -> None:
    assert metric_for(lang) == "cer"


@pytest.mark.parametrize("lang", ["en", "en-GB", "de", "fr"])
def test_spaced_scripts_use_wer(lang: str) -> None:
    assert metric_for(lang) == "wer"


def test_empty_reference() -> None:
    assert score("", "", "en") == Score("wer", 0, 0, 0.0)
    assert score("", "  ", "th") == Score("cer", 0, 0, 0.0)
    noisy = score("", "hello there", "en")
    assert noisy.errors == 2 and math.isinf(noisy.rate)


def test_empty_hypothesis_deletes_everything() -> None:
    assert score("one two three", "", "en") == Score("wer", 3, 3, 1.0)


def test_pool_weighs_by_reference_units() -> None:
    pooled = pool([score("a b c d", "a b c x", "en"), score("e f", "", "en")])
    assert (pooled.errors, pooled.ref_units) == (3, 6)
    assert pooled.rate == pytest.approx(0.5)


def test_pool_refuses_mixed_metrics_and_empty() -> None:
    with pytest.raises(ValueError, match="different metrics"):
        pool([score("a", "a", "en"), score("ก", "ก", "th")])
    with pytest.raises(ValueError):
        pool([])


def test_normalize() -> None:
    assert normalize("  Don’t   STOP—now! ", "en") == "dont stop now"
    assert normalize("สวัสดี ครับ", "th") == "สวัสดีครับ"
