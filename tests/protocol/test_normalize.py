"""``normalize`` folds with a translation table it learns character by character: it must
say exactly what the rule in its docstring says, for any text, first time or not."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from harness.protocol.text import normalize

APOSTROPHES = "'\u2019\u02bc"


def by_the_rule(text: str, lang: str) -> str:
    """NFKC, case folded, apostrophes dropped, other punctuation, symbols, separators and
    control characters a space; words joined by one space, or by none for CER languages."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(
        ""
        if ch in APOSTROPHES
        else " "
        if unicodedata.category(ch)[0] in "PSZ" or unicodedata.category(ch) == "Cc"
        else ch
        for ch in folded
    )
    words = kept.split()
    return unicodedata.normalize("NFC", "".join(words)) if lang == "th" else " ".join(words)


@given(st.text(max_size=60), st.sampled_from(["en", "th"]))
def test_any_text_follows_the_rule_first_time_and_after(text: str, lang: str) -> None:
    assert normalize(text, lang) == by_the_rule(text, lang)
    assert normalize(text, lang) == by_the_rule(text, lang)


def test_examples() -> None:
    assert normalize("Don\u2019t  STOP\u2014now!\x07", "en") == "dont stop now"
    assert normalize("\uff28\uff25\uff2c\uff2c\uff2f", "en") == "hello"  # NFKC: fullwidth
    assert normalize("Stra\u00dfe", "de") == "strasse"  # case folding, not lowering
