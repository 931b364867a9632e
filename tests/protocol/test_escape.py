import json

from hypothesis import given
from hypothesis import strategies as st

from harness.protocol.escape import UNSAFE, printable, safe_json
from harness.protocol.events import Finding, quote


def test_visible_forms() -> None:
    assert printable("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert printable("nul\x00") == "nul\\x00"
    assert printable("c1\x9b31m") == "c1\\x9b31m"
    assert printable("bidi\u202eevil") == "bidi\\u202eevil"
    assert printable("line\nbreak\ttab\r") == "line\\nbreak\\ttab\\r"
    assert printable("lone \udcff surrogate") == "lone \\udcff surrogate"


def test_ordinary_text_is_untouched() -> None:
    for text in ["hello world", "สวัสดีครับ", "你好", "naïve café", "<b>&amp;</b>", "a\\x1b"]:
        assert printable(text) == text


@given(st.text())
def test_printable_is_idempotent_and_leaves_nothing_unsafe(text: str) -> None:
    once = printable(text)
    assert UNSAFE.search(once) is None
    assert printable(once) == once


@given(
    st.recursive(st.text() | st.integers(), lambda c: st.lists(c) | st.dictionaries(st.text(), c))
)
def test_safe_json_is_lossless_and_safe(obj: object) -> None:
    line = safe_json(obj)
    assert UNSAFE.search(line) is None and "\n" not in line
    assert json.loads(line) == obj


def test_findings_are_escaped_whoever_builds_them() -> None:
    f = Finding("3.text", "expected \x1b", "seen \x00\u202e")
    assert f.expected == "expected \\x1b" and f.seen == "seen \\x00\\u202e"
    assert quote("\x1b" * 300).startswith("\\x1b") and "(300 chars)" in quote("\x1b" * 300)
