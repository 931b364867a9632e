"""The partials picture, on timelines built by hand where every send and arrival is known:
valid self-contained SVG, one row and one fate marker per word, revisions drawn, speech
shaded, and nothing a server says able to break out of the text it is put in."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from harness.plots.partials import partials_svg, word_rows
from harness.protocol.escape import UNSAFE
from harness.protocol.timeline import MessageRecord, Timeline
from harness.protocol.words import ReferenceWord
from tests.hostile import ESCAPES

SVG = "{http://www.w3.org/2000/svg}"
FRAME = 1024  # bytes: 32 ms


def timeline(n_frames: int = 100) -> Timeline:
    """Frames of 32 ms sent on time from t = 10 s: W(a ms) = 10 + a / 1000 (to the frame)."""
    tl = Timeline(connect_started=9.9, connected=9.95)
    for k in range(n_frames):
        at = 10.0 + k * 0.032
        tl.frames.append(k * FRAME, FRAME, at, at)
    tl.end_of_stream_at = 10.0 + n_frames * 0.032
    return tl


def say(tl: Timeline, at: float, text: str, new_sentence: bool = False) -> None:
    tl.messages.append(MessageRecord(at=at, text=text, state="", new_sentence=new_sentence))


WORDS = [
    ReferenceWord("the", 200.0, 400.0),
    ReferenceWord("cat", 400.0, 800.0),
    ReferenceWord("sat", 900.0, 1300.0),
    ReferenceWord("down", 1400.0, 1800.0),
]


def session() -> Timeline:
    """'the' shown at once; 'cat' shown, replaced by 'cap', restored; 'sat' shown and lost
    at the end; 'down' never shown. Two server sentences."""
    tl = timeline()
    say(tl, 10.6, "the", new_sentence=True)
    say(tl, 10.9, "the cat")
    say(tl, 11.1, "the cap")
    say(tl, 11.5, "the cat sat")
    say(tl, 12.0, "the cat", new_sentence=False)
    say(tl, 12.5, "now", new_sentence=True)
    return tl


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises on anything that is not well-formed XML
    assert root.tag == f"{SVG}svg"
    return root


def words_of(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == "word"]


def classes(el: ET.Element) -> list[str]:
    return [c.get("class", "") for c in el.iter() if c is not el]


def test_one_row_per_word_with_its_fate_marker() -> None:
    root = parse(partials_svg(session(), WORDS, "en", [(150.0, 1900.0)]))
    rows = words_of(root)
    assert [g.get("data-status") for g in rows] == ["final", "final", "lost", "missed"]
    fates = [[c for c in classes(g) if c in ("final", "lost", "missed")] for g in rows]
    assert fates == [["final"], ["final"], ["lost"], ["missed"]]
    labels = [next(t.text for t in g.iter(f"{SVG}text")) for g in rows]
    assert labels == ["the", "cat", "sat", "down"]


def test_a_word_shown_replaced_and_restored_shows_each_step() -> None:
    root = parse(partials_svg(session(), WORDS, "en"))
    cat = words_of(root)[1]
    assert classes(cat).count("changing") == 1  # on screen 10.9-11.1
    assert classes(cat).count("replaced") == 1  # 'cap' 11.1-11.5
    assert classes(cat).count("first") == 1 and classes(cat).count("final") == 1
    first = next(c for c in cat.iter() if c.get("class") == "first")
    final = next(c for c in cat.iter() if c.get("class") == "final")
    assert float(first.get("cx", 0)) < float(final.get("cx", 0))
    the = words_of(root)[0]
    assert "first" not in classes(the) and "changing" not in classes(the)  # final at once


def test_runs_are_the_arrivals_the_word_was_held_between() -> None:
    rows = word_rows(session(), WORDS, "en")
    assert [r.runs for r in rows] == [
        ((10.6, None),),
        ((10.9, 11.1), (11.5, None)),
        ((11.5, 12.0),),
        (),
    ]
    assert [r.fate.revisions for r in rows] == [0, 1, 1, 0]


def test_audio_ideal_line_speech_and_messages_are_drawn() -> None:
    tl = session()
    root = parse(partials_svg(tl, WORDS, "en", [(150.0, 900.0), (1000.0, 1900.0)]))
    kinds = classes(root)
    assert kinds.count("speech") == 2
    assert kinds.count("spoken") == len(WORDS)
    assert kinds.count("message") == len(tl.messages)
    ideal = next(p for p in root.iter(f"{SVG}polyline") if p.get("class") == "ideal")
    assert len(ideal.get("points", "").split()) == len(WORDS)
    waits = [c for c in root.iter() if c.get("class") == "wait"]
    assert len(waits) == 3  # every word that was shown waited from its audio's end


def test_the_wait_starts_at_the_words_audio_end_and_ends_at_its_first_arrival() -> None:
    root = parse(partials_svg(session(), WORDS, "en"))
    the = words_of(root)[0]
    wait = next(c for c in the.iter() if c.get("class") == "wait")
    spoken = next(c for c in the.iter() if c.get("class") == "spoken")
    final = next(c for c in the.iter() if c.get("class") == "final")
    bar_end = float(spoken.get("x", 0)) + float(spoken.get("width", 0))
    assert float(wait.get("x1", 0)) == pytest.approx(bar_end, abs=0.11)
    assert float(wait.get("x2", 0)) == pytest.approx(float(final.get("cx", 0)), abs=0.11)


def test_without_timings_rows_are_the_words_and_no_audio_is_invented() -> None:
    untimed = [ReferenceWord(w.text) for w in WORDS]
    root = parse(partials_svg(session(), untimed, "en"))
    kinds = classes(root)
    assert "spoken" not in kinds and "ideal" not in kinds and "wait" not in kinds
    assert [g.get("data-status") for g in words_of(root)] == ["untimed"] * 4
    assert kinds.count("missed") == 1  # 'down', said in words: no time to put a cross at
    assert "no word timings" in ET.tostring(root, encoding="unicode")


def test_without_any_reference_the_rows_are_the_final_transcript() -> None:
    root = parse(partials_svg(session(), [], "en"))
    labels = [next(t.text for t in g.iter(f"{SVG}text")) for g in words_of(root)]
    assert labels == ["the", "cat", "now"]  # closed sentence's final, then the current one
    assert "final transcript" in ET.tostring(root, encoding="unicode")


def test_an_incomplete_session_says_its_latencies_do_not_count() -> None:
    svg = partials_svg(session(), WORDS, "en", completed=False)
    assert "did not complete" in svg and "UPL p50" not in svg
    assert "UPL p50" in partials_svg(session(), WORDS, "en")


HOSTILE = ESCAPES + "\ufffe\uffff]]><!-- --> & \"'\U0001f600 \ud800"


def test_hostile_text_stays_inside_its_element_and_shows_no_control_character() -> None:
    tl = timeline()
    say(tl, 10.5, f"the {HOSTILE}", new_sentence=True)
    say(tl, 11.0, f"the {HOSTILE} cat")
    words = [*WORDS[:1], ReferenceWord(HOSTILE, 500.0, 600.0), *WORDS[1:]]
    for rows in (words, []):  # as reference words, and as the transcript's own words
        svg = partials_svg(tl, rows, "en", title=f"title {HOSTILE}")
        root = parse(svg)
        for el in root.iter():  # what a viewer shows: text and attribute values, decoded
            text = "" if el is root else el.text or ""  # the root's is our layout's newline
            for shown in (text, *el.attrib.values()):
                assert not UNSAFE.search(shown), f"raw control or bidi character in {shown!r}"
                assert not re.search("[\ufffe\uffff]", shown), shown
        assert not re.search("[\ufffe\uffff\x00-\x09\x0b-\x1f]", svg)  # nor in the file
        tags = {el.tag.removeprefix(SVG) for el in root.iter()}
        assert tags <= {"svg", "title", "rect", "text", "g", "line", "circle", "path", "polyline"}
        assert any("<script>" in (el.text or "") for el in root.iter())  # shown, as text
        assert all(el.get("href") is None for el in root.iter())


def test_self_contained() -> None:
    svg = partials_svg(session(), WORDS, "en", [(150.0, 1900.0)])
    assert svg.count("http") == 1  # the SVG namespace, nothing fetched
    assert "url(" not in svg and "@import" not in svg and "<script" not in svg
    assert "font-family" in svg and "woff" not in svg


def test_many_words_stay_bounded_in_height() -> None:
    words = [ReferenceWord(f"w{i}", i * 3.0, i * 3.0 + 2.0) for i in range(1000)]
    root = parse(partials_svg(timeline(), words, "en"))
    assert float(root.get("height", 0)) < 1600
    assert len(words_of(root)) == 1000
