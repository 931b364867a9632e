"""``asrx stream``'s word latencies (UPL, finalization) and ``--plot``, run as the installed
command against the reference server, and the summary's fields against ``word_latencies``."""

from __future__ import annotations

import json
import socket
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from harness.client.display import WordReport, summary_text, word_dict
from harness.corpus import REAL_SPEECH_CORPUS, shipped_corpus
from harness.protocol.metrics import percentile, session_metrics
from harness.protocol.timeline import MessageRecord, Timeline
from harness.protocol.words import ReferenceWord, word_latencies
from harness.server.embedded import EmbeddedServer
from tests.cli.test_stream_cli import one_error_line
from tests.conftest import APIKEY, TWO_SENTENCES, faulty_server, run_asrx

KEY_ENV = {"ASRX_APIKEY": APIKEY}
EN_SYNTH = shipped_corpus("en-synth")
SVG = "{http://www.w3.org/2000/svg}"
#: The synthetic engine says word1, word2, ... one per ~300 ms of speech; the first
#: sentence of two-sentences.flac is speech from 1.2 s.
CTM = "".join(f"two-sentences 1 {1.2 + 0.3 * i:.1f} 0.3 word{i + 1}\n" for i in range(3))


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"ws://127.0.0.1:{s.getsockname()[1]}/asrx"


def summary_of(stdout: str) -> dict[str, Any]:
    events = [json.loads(line) for line in stdout.splitlines()]
    assert events[-1]["event"] == "summary", events[-1]
    return events[-1]


def transcripts_of(stdout: str) -> list[dict[str, Any]]:
    return [e for e in map(json.loads, stdout.splitlines()) if e["event"] == "transcript"]


def assert_consistent(summary: dict[str, Any]) -> None:
    """The summary's figures are those of its own per-word list."""
    words = summary["words"]
    listed = words["list"]
    for status in ("final", "lost", "missed", "untimed", "unsent"):
        assert words[status] == sum(w["status"] == status for w in listed), status
    for key, field in (("upl_ms", "upl_ms"), ("word_finalization_ms", "finalization_ms")):
        values = [w[field] for w in listed if w[field] is not None]
        assert summary[key]["count"] == len(values)
        assert summary[key]["p50"] == percentile(values, 50)
        assert summary[key]["max"] == (max(values) if values else None)
    for w in listed:
        if w["status"] == "final":  # both latencies count from the same W(end)
            gap = w["finalization_ms"] - w["upl_ms"]
            assert gap == pytest.approx(w["final_t_ms"] - w["first_t_ms"], abs=0.01)


def test_ctm_timings_give_word_latencies(reference_server: EmbeddedServer, tmp_path: Path) -> None:
    ctm = tmp_path / "two-sentences.ctm"
    ctm.write_text(CTM)
    args = ["stream", str(TWO_SENTENCES), "--url", reference_server.url, "--speed", "4"]
    args += ["--ref", "word1 word2 word3", "--timings", str(ctm)]
    r = run_asrx(*args, "--json", env=KEY_ENV)
    assert r.returncode == 0, r.stderr
    summary = summary_of(r.stdout)
    assert_consistent(summary)
    words = summary["words"]
    assert words["timings_from"] == "two-sentences.ctm" and words["not_shown"] is None
    assert [(w["text"], w["end_ms"]) for w in words["list"]] == [
        ("word1", 1500.0),
        ("word2", 1800.0),
        ("word3", 2100.0),
    ]
    assert summary["upl_ms"]["count"] == 3 and words["final"] == 3
    # Each word was first shown by the first transcript holding it, at that message's time.
    shown = transcripts_of(r.stdout)
    for w in words["list"]:
        first = next(t for t in shown if w["text"] in t["text"].split())
        assert w["first_t_ms"] == first["t_ms"], w
    text = run_asrx(*args, env=KEY_ENV)
    assert text.returncode == 0, text.stderr
    assert "word latency (UPL)         n=3" in text.stdout
    assert "word finalization          n=3" in text.stdout
    assert "words                      3: 3 final, 0 lost, 0 missed, 0 untimed" in text.stdout


def test_without_word_timings_the_summary_says_why(reference_server: EmbeddedServer) -> None:
    base = ["stream", str(TWO_SENTENCES), "--url", reference_server.url, "--speed", "8"]
    r = run_asrx(*base, env=KEY_ENV)
    assert r.returncode == 0, r.stderr
    assert "word latency (UPL)         not shown: no reference words: give --corpus" in r.stdout
    r = run_asrx(*base, "--ref", "word1 word2", "--json", env=KEY_ENV)
    summary = summary_of(r.stdout)
    assert summary["upl_ms"] is None and summary["word_finalization_ms"] is None
    assert summary["words"]["not_shown"].startswith("no word timings")
    assert summary["words"]["untimed"] == 2  # the words are still followed, untimed
    assert summary["words"]["list"][0]["first_t_ms"] is not None


def test_corpus_words_and_an_incomplete_session_counts_no_latency() -> None:
    args = ["stream", "en-single-01", "--corpus", str(EN_SYNTH), "--speed", "8", "--json"]
    with faulty_server("close-1011") as server:  # confirms, then closes 1011: not completed
        r = run_asrx(*args, "--url", server.url, env=KEY_ENV)
    assert r.returncode == 1, r.stderr
    summary = summary_of(r.stdout)
    assert summary["upl_ms"] is None
    assert "did not complete" in summary["words"]["not_shown"]
    listed = summary["words"]["list"]
    assert listed and all(w["upl_ms"] is None and w["end_ms"] is not None for w in listed)


def test_plot_of_a_corpus_utterance(reference_server: EmbeddedServer, tmp_path: Path) -> None:
    out = tmp_path / "partials.svg"
    args = ["stream", "en-multi-01", "--corpus", str(EN_SYNTH), "--speed", "8"]
    r = run_asrx(*args, "--url", reference_server.url, "--plot", str(out), "--json", env=KEY_ENV)
    assert r.returncode == 0, r.stderr
    summary = summary_of(r.stdout)
    assert summary["plot"] == str(out)
    root = ET.parse(out).getroot()
    rows = [g for g in root.iter(f"{SVG}g") if g.get("class") == "word"]
    assert len(rows) == len(summary["words"]["list"]) == 8
    assert [g.get("data-status") for g in rows] == [w["status"] for w in summary["words"]["list"]]
    speech = [el for el in root.iter(f"{SVG}rect") if el.get("class") == "speech"]
    assert len(speech) == summary["speech_segments"] == 2


def test_align_times_the_reference_with_pocketsphinx(
    reference_server: EmbeddedServer, tmp_path: Path
) -> None:
    utt = shipped_corpus(REAL_SPEECH_CORPUS) / "austen-0880.pcm"
    text = "he was not an ill disposed young man"
    args = ["stream", str(utt), "--ref", text, "--align", "--speed", "8", "--json"]
    r = run_asrx(*args, "--url", reference_server.url, env=KEY_ENV)
    assert r.returncode == 0, r.stderr
    words = summary_of(r.stdout)["words"]
    assert words["timings_from"] == "pocketsphinx alignment of --ref"
    assert [w["text"] for w in words["list"]] == text.split()
    ends = [w["end_ms"] for w in words["list"]]
    assert all(e is not None for e in ends) and ends == sorted(ends) and ends[-1] <= 2990


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--align"], "--align needs --ref"),
        (["--align", "--ref", "hello", "--lang", "th"], "English only"),
        (["--timings", "x.ctm", "--mic"], "not of --mic"),
        (["--timings", "missing.ctm"], "missing.ctm"),
        (["--plot", "/no/such/folder/p.svg"], "no such folder"),
        (["--timings", "a.ctm", "--align", "--ref", "x"], "not allowed with"),
    ],
)
def test_options_that_cannot_work_fail_before_connecting(extra: list[str], needle: str) -> None:
    args = ["stream", *([] if "--mic" in extra else [str(TWO_SENTENCES)]), *extra]
    r = run_asrx(*args, "--url", closed_port_url(), env=KEY_ENV)
    assert r.returncode == 2, r.stderr
    one_error_line(r.stderr, needle)


def test_timings_with_a_corpus_is_refused() -> None:
    args = ["stream", "en-single-01", "--corpus", str(EN_SYNTH), "--timings", "x.ctm"]
    r = run_asrx(*args, "--url", closed_port_url(), env=KEY_ENV)
    assert r.returncode == 2
    one_error_line(r.stderr, "manifest gives its own")


# -- the summary against word_latencies, in process, on a timeline built by hand ----------


def hand_timeline() -> Timeline:
    tl = Timeline(connect_started=0.0, connected=0.01)
    for k in range(60):  # 32 ms frames from t = 0.1 s
        tl.frames.append(k * 1024, 1024, 0.1 + k * 0.032, 0.1 + k * 0.032)
    said = [
        (0.9, "a", True),
        (1.2, "a bee", False),
        (1.3, "a be", False),  # 'bee' replaced, then restored
        (1.4, "a bee sea", False),
        (1.9, "a bee see", False),  # 'sea' lost for good
        (2.2, "flea dee", True),
    ]
    for at, text, new in said:
        tl.messages.append(MessageRecord(at=at, text=text, state="", new_sentence=new))
    return tl


HAND_WORDS = [
    ReferenceWord("a", 100.0, 300.0),
    ReferenceWord("bee", 400.0, 700.0),
    ReferenceWord("sea", 800.0, 1100.0),
    ReferenceWord("flee", 1200.0, 1500.0),
    ReferenceWord("dee"),
]


def test_word_dict_is_word_latencies() -> None:
    tl = hand_timeline()
    lat = word_latencies(tl, HAND_WORDS, "en")
    fields = word_dict(WordReport(HAND_WORDS, lat, "the test", None), t0=0.0)
    listed = fields["words"]["list"]  # type: ignore[index]
    assert [w["status"] for w in listed] == [w.status for w in lat.words]
    assert [w["status"] for w in listed] == ["final", "final", "lost", "missed", "untimed"]
    assert [w["upl_ms"] for w in listed] == [w.upl_ms for w in lat.words]
    assert [w["finalization_ms"] for w in listed] == [w.finalization_ms for w in lat.words]
    assert [w["revisions"] for w in listed] == [0, 1, 1, 0, 0]
    assert [w["first_t_ms"] for w in listed] == [900.0, 1200.0, 1400.0, None, 2200.0]
    assert fields["upl_ms"]["count"] == 3  # type: ignore[index]
    assert_consistent(fields)
    text = summary_text(session_metrics(tl), "test", WordReport(HAND_WORDS, lat, "the test", None))
    assert "words                      5: 2 final, 1 lost, 1 missed, 1 untimed" in text
