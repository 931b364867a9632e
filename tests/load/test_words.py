"""Word latency in load runs: counts, samples, the SLO checks, the step ramp, the report."""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.corpus.utterance import Utterance
from harness.load import samples as samples_mod
from harness.load.capacity import StepPlan, StepRamp
from harness.load.report import build_summary, render_html, target_info
from harness.load.samples import SessionSample, keep
from harness.load.slo import SLO, SLOConfigError, load_slo
from harness.load.stats import RunStats
from harness.load.verdict import evaluate
from harness.load.window import snapshot, subtract
from harness.protocol.audio import BYTES_PER_MS
from harness.protocol.session import ClientSession
from harness.protocol.timeline import Timeline
from harness.protocol.words import ReferenceWord, WordLatencies, WordStatus, word_latencies
from tests.load.fakes import make_stats

FRAME = 1024  # 32 ms
WORDS = (
    ReferenceWord("hello", 100.0, 400.0),
    ReferenceWord("big", 400.0, 700.0),
    ReferenceWord("world", 700.0, 1000.0),
)


def utterance(words: tuple[ReferenceWord, ...] = WORDS, uid: str = "u1") -> Utterance:
    return Utterance(
        id=uid,
        audio=Path("unread.pcm"),  # a sample never reads the audio
        lang="en",
        text=" ".join(w.text for w in words),
        duration_ms=1200.0,
        segments=((100.0, 1000.0),),
        source="made by the test",
        words=words,
    )


def session(audio_ms: float = 1200.0, replies: tuple[tuple[float, str], ...] = ()) -> ClientSession:
    """A completed session: frames sent on time from t=10 s, then ``replies`` (seconds after
    the first frame, text), the confirmation and the close."""
    s = ClientSession()
    s.connect_started(9.9)
    s.opened(9.95)
    n = int(audio_ms * BYTES_PER_MS) // FRAME
    for k in range(n):
        s.frame_sent(FRAME, 10 + k * 0.032, 10 + k * 0.032)
    for i, (at, text) in enumerate(replies):
        state = "NewSentence" if i == 0 else "Partial"
        s.receive(f'{{"text": "{text}", "state": "{state}"}}', 10 + at)
    end = 10 + n * 0.032 + 0.5
    s.end_of_stream(end)
    s.receive('{"text": "Confirm Close Connection", "state": ""}', end + 0.1)
    s.closed(end + 0.2, 1000)
    return s


REPLIES = ((0.5, "hello"), (0.8, "hello pig"), (1.1, "hello big world"), (1.3, "hello big world"))


def latencies(tl: Timeline) -> list[tuple[str, float | None, float | None, int]]:
    return [
        (w.status, w.upl_ms, w.finalization_ms, w.revisions)
        for w in word_latencies(tl, WORDS, "en").words
    ]


# -- the sample a report draws ------------------------------------------------------------
def test_a_sample_gives_the_sessions_own_word_latencies() -> None:
    tl = session(replies=REPLIES).timeline
    sample = SessionSample.of(utterance(), tl)
    assert sample is not None
    again = SessionSample.from_dict(sample.to_dict())
    assert again == sample
    mine, theirs = latencies(again.timeline()), latencies(tl)
    assert [(s, r) for s, _, _, r in mine] == [(s, r) for s, _, _, r in theirs]
    assert [(u, f) for _, u, f, _ in mine] == [
        (pytest.approx(u), pytest.approx(f)) for _, u, f, _ in theirs
    ]
    assert [s for s, *_ in theirs] == ["final", "final", "final"]


def test_a_long_session_keeps_few_frames_and_exact_word_edges() -> None:
    words = tuple(ReferenceWord(f"w{i}", i * 1000.0, i * 1000.0 + 700.0) for i in range(60))
    replies = tuple((i + 1.2, " ".join(f"w{j}" for j in range(i + 1))) for i in range(60))
    tl = session(61_000.0, replies).timeline
    sample = SessionSample.of(utterance(words), tl)
    assert sample is not None
    assert len(sample.frames) <= samples_mod.MAX_FRAMES + 2 * len(words) + 3
    assert len(sample.frames) < len(tl.frames) / 2
    mine = word_latencies(sample.timeline(), words, "en").upl_ms
    assert mine == pytest.approx(word_latencies(tl, words, "en").upl_ms)
    assert mine == pytest.approx([500.0 + 16] * 60, abs=20)  # 1.2 s after each word's start


def test_a_session_past_the_bounds_is_counted_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(samples_mod, "MAX_MESSAGES", 3)
    stats = RunStats()
    stats.record_sample(utterance(), session(replies=REPLIES).timeline)
    assert not stats.samples and stats.samples_too_large == 1
    assert RunStats.from_dict(stats.to_dict()).samples_too_large == 1


def test_samples_keep_the_latest_session_of_the_first_utterances(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(samples_mod, "MAX_SAMPLES", 2)
    tl = session(replies=REPLIES).timeline
    made = [SessionSample.of(utterance(uid=uid), tl) for uid in ("c", "a", "b")]
    kept: dict[str, SessionSample] = {}
    keep(kept, (s for s in made if s is not None))
    assert sorted(kept) == ["a", "b"]
    keep(kept, [dataclasses.replace(kept["a"], lang="en-GB")])
    assert kept["a"].lang == "en-GB"


def test_a_sample_is_made_when_read_from_its_utterances_latest_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A load worker records a sample at every session's end; making one costs ~50 us and
    only the last of each utterance is read, so it is made when read."""
    made: list[str] = []
    of = SessionSample.of

    def counted(utt, tl):  # type: ignore[no-untyped-def]
        made.append(utt.id)
        return of(utt, tl)

    monkeypatch.setattr(SessionSample, "of", staticmethod(counted))
    stats = RunStats()
    sessions = [session(replies=((0.5 + k / 10, f"take {k}"),)).timeline for k in range(3)]
    for tl in sessions:
        stats.record_sample(utterance(uid="a"), tl)
    stats.record_sample(utterance(uid="b"), sessions[0])
    assert made == []
    assert sorted(stats.samples) == ["a", "b"] and made == ["a", "b"]
    assert stats.samples["a"].messages[0][1] == "take 2"
    assert made == ["a", "b"]  # read again: nothing new to make


# -- counts and their merge ---------------------------------------------------------------
def fates(*statuses: WordStatus) -> WordLatencies:
    wl = word_latencies(session(replies=REPLIES).timeline, WORDS, "en")
    return WordLatencies([dataclasses.replace(wl.words[0], status=s) for s in statuses])


def test_word_counts_merge_across_processes_and_give_ratios() -> None:
    a, b = RunStats(), RunStats()
    a.record_words(fates("final", "final", "missed", "untimed"))
    b.record_words(fates("lost", "missed", "unsent"))
    b.record_sample(utterance(), session(replies=REPLIES).timeline)
    total = RunStats.from_dict(a.to_dict())
    total.merge(RunStats.from_dict(b.to_dict()))
    assert total.words == {"final": 2, "missed": 2, "lost": 1, "untimed": 1, "unsent": 1}
    assert total.word_ratio("missed") == pytest.approx(2 / 5)  # of final + lost + missed
    assert list(total.samples) == ["u1"]
    assert RunStats().word_ratio("missed") is None


def test_a_window_counts_only_its_own_words() -> None:
    stats = RunStats()
    stats.record_words(fates("missed", "missed"))
    before = snapshot(stats)
    stats.record_words(fates("final"))
    assert subtract(stats, before).words == {"final": 1}


# -- the checks -------------------------------------------------------------------------
def with_words(upl: tuple[float, ...], statuses: tuple[WordStatus, ...]) -> RunStats:
    stats = make_stats()
    stats.record({"word_upl": upl, "word_final": upl})
    stats.record_words(fates(*statuses))
    return stats


def reasons(stats: RunStats, slo: SLO) -> dict[str, tuple[bool, str]]:
    return {v.name: (v.passed, v.reason) for v in evaluate(stats, slo)}


def test_upl_and_missed_word_ceilings() -> None:
    stats = with_words((100, 200, 300, 400), ("final",) * 4 + ("missed",))
    got = reasons(stats, SLO(p50_upl_ms=250, p99_upl_ms=300, max_missed_word_ratio=0.1))
    assert got["p50_upl_ms"][0] and not got["p99_upl_ms"][0]
    assert got["p99_upl_ms"][1].startswith("400.") and got["p99_upl_ms"][1].endswith("> 300 ms")
    assert got["max_missed_word_ratio"] == (False, "0.2 > 0.1")


@pytest.mark.parametrize(
    ("statuses", "why"),
    [
        ((), "no completed session's utterance had words with timings"),
        (("untimed", "untimed"), "none of the 2 reference words had timings"),
        (("missed",) * 3, "the server's text held none of the 3 timed words (all missed)"),
    ],
)
def test_an_unmeasured_word_threshold_fails_saying_why(
    statuses: tuple[WordStatus, ...], why: str
) -> None:
    stats = with_words((), statuses)
    got = reasons(stats, SLO(p90_upl_ms=500, p95_word_final_ms=900))
    for key in ("p90_upl_ms", "p95_word_final_ms"):
        passed, reason = got[key]
        assert not passed and reason.startswith(f"not measured: {why}"), reason


def test_word_keys_are_validated_like_the_others(tmp_path: Path) -> None:
    assert load_slo(tmp_path, overrides={"p90_upl_ms": 800}).p90_upl_ms == 800
    with pytest.raises(SLOConfigError, match="max_missed_word_ratio is a ratio between 0 and 1"):
        load_slo(tmp_path, overrides={"max_missed_word_ratio": 1.5})
    (tmp_path / "asrx.toml").write_text("[slo]\np90_upl = 5\n")
    with pytest.raises(SLOConfigError, match="unknown key 'p90_upl'"):
        load_slo(tmp_path)


def test_a_step_is_judged_on_its_own_word_latency() -> None:
    stats = RunStats()
    clock = [0.0]
    ramp = StepRamp(StepPlan(1, 1, 10.0, 5), SLO(p95_upl_ms=500), lambda: stats, lambda: clock[0])

    def step(upl: float) -> None:
        for _ in range(4):
            stats.record({"word_upl": [upl], "send_lateness": [0.5]})
        stats.sessions += 4
        stats.sessions_ok += 4
        clock[0] += 10.0

    assert ramp.tick() == (1, 1.0)
    step(300.0)
    assert ramp.tick() == (2, 1.0)
    step(900.0)
    assert ramp.tick() is None
    held, broke = ramp.results
    assert held.held and held.to_dict()["word_upl"]["count"] == 4
    assert not broke.held and broke.breaches[0].startswith("p95_upl_ms: 900")


# -- the report ---------------------------------------------------------------------------
class Section(HTMLParser):
    """The text and tags of the report's words section."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self.inside = ("id", "words") in attrs
        if self.inside:
            self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        if self.inside:
            self.text.append(data)


def words_page(stats: RunStats, engine: str | None) -> tuple[dict, Section]:
    summary = build_summary(
        stats=stats,
        slo=SLO(),
        verdicts=evaluate(stats, SLO()),
        settings={},
        target=target_info("ws://127.0.0.1:1/asrx", engine),
    )
    page = Section()
    page.feed(render_html(summary))
    return summary, page


def test_the_report_shows_upl_the_word_fates_and_a_picture() -> None:
    stats = with_words((100, 200, 300), ("final", "final", "lost", "missed"))
    stats.record_sample(utterance(), session(replies=REPLIES).timeline)
    summary, page = words_page(stats, "pocketsphinx")
    words = summary["words"]
    assert words["applicable"] and words["counts"]["missed"] == 1
    assert words["missed_ratio"] == pytest.approx(1 / 4)
    text = " ".join(page.text)
    assert "UPL  p50 200.1 ms, p90 300.0 ms" in text and "25.0% missed" in text
    assert page.tags.count("svg") == 1 and "u1: partials over time" in text


def test_placeholder_words_are_not_applicable_not_all_missed() -> None:
    stats = with_words((), ("missed",) * 5)
    stats.record_sample(utterance(), session(replies=REPLIES).timeline)
    summary, page = words_page(stats, "synthetic")
    words = summary["words"]
    assert not words["applicable"] and words["missed_ratio"] is None
    text = " ".join(page.text)
    assert "not applicable: the synthetic engine emits placeholder words" in text
    assert "%" not in text and "missed" not in text.split("not applicable")[1].split(".")[0]
    assert page.tags.count("svg") == 1  # the transcript growing, without reference words


def test_a_corpus_without_word_timings_says_so() -> None:
    _, page = words_page(make_stats(), None)
    text = " ".join(page.text)
    assert "Word latency not measured: no completed session's utterance had words" in text
