"""Word latencies (docs/protocol.md §5): UPL and finalization per reference word, on timelines
built by hand, where every arrival and every send time is known exactly.

Times are multiples of 1/1024 s, so differences and the conversion to ms are exact in
floating point and the expected latencies can be compared with ``==``.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.protocol.text import normalize, units
from harness.protocol.timeline import MessageRecord, Timeline
from harness.protocol.words import (
    ReferenceWord,
    hypothesis_matches,
    running_hypotheses,
    word_latencies,
)

FRAME = 1024  # bytes: 32 ms of audio
TICK = 1 / 1024  # seconds


def timeline(n_frames: int, *, late: int = 3) -> Timeline:
    """Frames of 32 ms, frame k sent at (32 k + late) ticks: W is known for every byte."""
    tl = Timeline()
    for k in range(n_frames):
        at = (32 * k + late) * TICK
        tl.frames.append(k * FRAME, FRAME, at, at)
    return tl


def w_end(tl: Timeline, end_ms: float) -> float:
    sent = tl.sent_at(int(end_ms * 32))
    assert sent is not None
    return sent


def say(tl: Timeline, at: float, text: str, new_sentence: bool = False) -> None:
    tl.messages.append(MessageRecord(at=at, text=text, state="", new_sentence=new_sentence))


def words_at(texts: Sequence[str], step_ms: float) -> list[ReferenceWord]:
    return [
        ReferenceWord(t, start_ms=i * step_ms, end_ms=(i + 1) * step_ms)
        for i, t in enumerate(texts)
    ]


VOCAB = ["the", "cat", "sat", "on", "mat", "a", "dog"]  # few words: repeats are common


@settings(max_examples=150, deadline=None)
@given(
    texts=st.lists(st.sampled_from(VOCAB), min_size=1, max_size=25),
    delays=st.lists(st.integers(0, 255), min_size=25, max_size=25),
    breaks=st.sets(st.integers(1, 24)),
    shift=st.integers(0, 1000),
)
def test_known_delays_come_back_exactly_whatever_the_sentences(
    texts: list[str], delays: list[int], breaks: set[int], shift: int
) -> None:
    """Word j first shows up delay_j after W(end_j); the server cuts sentences anywhere."""
    step_ms = 320.0  # ten frames: W(end_j+1) - W(end_j) = 320 ticks > any delay difference
    words = words_at(texts, step_ms)
    tl = timeline(10 * len(texts) + 2)
    start = 0
    for j in range(len(texts)):
        if j in breaks:
            start = j
        at = w_end(tl, (j + 1) * step_ms) + (delays[j] + shift) * TICK
        say(tl, at, " ".join(texts[start : j + 1]), new_sentence=j == start and j > 0)
    result = word_latencies(tl, words, "en")
    expected = [(d + shift) * TICK * 1000.0 for d in delays[: len(texts)]]
    assert [w.upl_ms for w in result.words] == expected
    # Each word stays once shown: final when first shown.
    assert [w.finalization_ms for w in result.words] == expected
    assert {w.status for w in result.words} == {"final"} and result.missed == 0


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(3, 12),
    wrong=st.data(),
    restored=st.booleans(),
)
def test_a_revised_word_keeps_its_first_appearance_and_finalizes_when_restored(
    n: int, wrong: st.DataObject, restored: bool
) -> None:
    texts = [f"w{i}" for i in range(n)]
    j = wrong.draw(st.integers(0, n - 2), label="revised word")
    words = words_at(texts, 320.0)
    tl = timeline(10 * n + 2)
    shown = list(texts)
    for i in range(n):
        say(tl, w_end(tl, (i + 1) * 320.0) + 7 * TICK, " ".join(shown[: i + 1]))
        if i == j:  # word j is replaced by something else from the next message on...
            shown[j] = "oops"
            say(tl, tl.messages[-1].at + 64 * TICK, " ".join(shown[: i + 1]))
    last = tl.messages[-1].at + 100 * TICK
    if restored:  # ... until a late message restores it
        shown[j] = texts[j]
    say(tl, last, " ".join(shown))
    result = word_latencies(tl, words, "en")
    revised = result.words[j]
    assert revised.upl_ms == 7 * TICK * 1000.0
    assert revised.revisions == 1 and revised.first_at == tl.messages[j].at
    if restored:
        assert revised.status == "final" and revised.final_at == last
        assert revised.finalization_ms == (last - w_end(tl, (j + 1) * 320.0)) * 1000.0
    else:
        assert revised.status == "lost" and revised.finalization_ms is None
        assert revised.final_at is None
    others = [w for w in result.words if w.index != j]
    assert all(w.status == "final" for w in others)
    assert all(w.upl_ms == 7 * TICK * 1000.0 and w.revisions == 0 for w in others)


def test_missed_untimed_unsent_and_punctuation() -> None:
    words = [
        ReferenceWord("hello", 0.0, 320.0),
        ReferenceWord("—", 320.0, 330.0),  # punctuation only: not a word to hear
        ReferenceWord("big", None, None),  # an aligner could not place it
        ReferenceWord("world", 330.0, 640.0),
        ReferenceWord("again", 640.0, 2000.0),  # ends after the 40 frames sent
    ]
    tl = timeline(40)
    say(tl, 1.0, "Hello, big")
    result = word_latencies(tl, words, "en")
    assert [(w.text, w.status) for w in result.words] == [
        ("hello", "final"),
        ("big", "untimed"),
        ("world", "missed"),
        ("again", "unsent"),
    ]
    assert result.missed == 1 and result.count("untimed") == 1
    assert result.upl_ms == [(1.0 - w_end(tl, 320.0)) * 1000.0]


def test_cer_language_holds_a_word_when_all_its_characters_are_there() -> None:
    words = [ReferenceWord("วันนี้", 0.0, 320.0), ReferenceWord("อากาศ", 320.0, 640.0)]
    tl = timeline(30)
    say(tl, 0.5, "วันนี้อา")  # the second word only half there
    say(tl, 0.9, "วันนี้ อากาศ")  # spaces mean nothing in Thai
    result = word_latencies(tl, words, "th")
    assert [w.upl_ms for w in result.words] == [
        (0.5 - w_end(tl, 320.0)) * 1000.0,
        (0.9 - w_end(tl, 640.0)) * 1000.0,
    ]
    assert units("วันนี้ อากาศ", "th-TH") == list("วันนี้อากาศ")


def test_scoring_normalization_applies_to_hypotheses() -> None:
    words = words_at(["don't", "stop"], 320.0)
    tl = timeline(30)
    say(tl, 1.0, "DONT Stop!")
    assert word_latencies(tl, words, "en").count("final") == 2
    assert normalize("Don’t  STOP!", "en") == "dont stop"


def test_a_partial_aligns_to_the_start_of_the_reference() -> None:
    ref = ["the", "cat", "saw", "the", "dog"]
    assert hypothesis_matches(ref, ["the"]) == [True, False, False, False, False]
    assert hypothesis_matches(ref, ["the", "cat", "saw", "the"]) == [True] * 4 + [False]
    # A skipped word does not stop the rest from being held.
    assert hypothesis_matches(ref, ["the", "saw", "the", "dog"]) == [True, False, True, True, True]
    assert hypothesis_matches(ref, []) == [False] * 5
    assert hypothesis_matches([], ["x"]) == []


def test_running_hypothesis_joins_closed_sentences_and_stops_at_the_confirmation() -> None:
    msgs = [
        MessageRecord(1.0, "a", "", True),  # the first sentence may open with the marker
        MessageRecord(2.0, "a b", "", False),
        MessageRecord(3.0, "c", "", True),
        MessageRecord(4.0, "", "", True),  # an empty sentence adds nothing
        MessageRecord(5.0, "d", "", True),
        MessageRecord(6.0, "Confirm Close Connection", "", False, confirmation=True),
    ]
    assert running_hypotheses(msgs) == [
        (1.0, "a"),
        (2.0, "a b"),
        (3.0, "a b c"),
        (4.0, "a b c"),
        (5.0, "a b c d"),
    ]


@settings(max_examples=60, deadline=None)
@given(
    ref=st.lists(st.sampled_from("abcd"), max_size=12),
    hyp=st.lists(st.sampled_from("abcde"), max_size=12),
)
def test_matches_are_an_order_preserving_pairing_of_equal_units(
    ref: list[str], hyp: list[str]
) -> None:
    matched = hypothesis_matches(ref, hyp)
    held = [u for u, ok in zip(ref, matched, strict=True) if ok]
    # The matched reference units, in order, are a subsequence of the hypothesis.
    it = iter(hyp)
    assert all(any(h == u for h in it) for u in held)
    if hyp == ref[: len(hyp)]:
        assert matched == [True] * len(hyp) + [False] * (len(ref) - len(hyp))


@settings(max_examples=60, deadline=None)
@given(
    ref=st.lists(st.sampled_from("abcd"), max_size=10),
    hyps=st.lists(st.lists(st.sampled_from("abcde"), max_size=10), max_size=6),
)
def test_reusing_rows_of_a_shared_prefix_changes_nothing(
    ref: list[str], hyps: list[list[str]]
) -> None:
    from harness.protocol.words import _Aligner

    aligner = _Aligner(ref)
    for hyp in hyps:
        assert aligner.matches(hyp) == hypothesis_matches(ref, hyp)


_REF_UNITS = st.lists(st.sampled_from("abcd"), max_size=10)


@settings(max_examples=100, deadline=None)
@given(
    ref=_REF_UNITS,
    hyps=st.lists(
        st.one_of(
            st.lists(st.sampled_from("abcde"), max_size=10),
            st.lists(st.sampled_from("xyz"), max_size=4),  # shares no unit with ref
            st.integers(0, 10).map(lambda n: ["prefix", n]),  # ref[:n], below
        ),
        max_size=6,
    ),
)
def test_the_shortcuts_answer_as_the_table_does(ref: list[str], hyps: list[list]) -> None:
    """A hypothesis that is a prefix of the reference or shares no unit with it is answered
    without the table: the same answer, and the table's rows still serve later ones."""
    from harness.protocol.words import _Aligner

    aligner = _Aligner(ref)
    for hyp in hyps:
        if hyp[:1] == ["prefix"]:
            hyp = ref[: hyp[1]]
        assert aligner.matches(hyp) == _Aligner(ref).table_matches(hyp)
