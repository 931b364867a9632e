"""The manifest format, and the conventions the shipped corpora promise the load tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.audio.vad import find_segments
from harness.corpus import (
    CORPORA_ENV,
    MANIFEST_NAME,
    REAL_SPEECH_CORPUS,
    SCHEMA_PATH,
    Corpus,
    ManifestError,
    ReferenceWord,
    Utterance,
    default_corpus_dir,
    load_corpus,
    shipped_corpus,
    write_manifest,
)
from harness.corpus.manifest import OPTIONAL_FIELDS, REQUIRED_FIELDS
from harness.errors import UsageError

GOOD = {
    "id": "u1",
    "audio": "u1.pcm",
    "lang": "en",
    "text": "hello",
    "duration_ms": 100.0,
    "segments": [[10.0, 90.0]],
    "source": "test",
}


def _corpus(tmp_path: Path, *lines: str) -> Path:
    (tmp_path / "u1.pcm").write_bytes(b"\0\0" * 1600)
    (tmp_path / MANIFEST_NAME).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return tmp_path


def test_schema_is_json_and_matches_the_loader() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["required"] == list(REQUIRED_FIELDS)
    assert set(schema["properties"]) == set(REQUIRED_FIELDS) | set(OPTIONAL_FIELDS)


def test_load_resolves_audio_and_reads_pcm(tmp_path: Path) -> None:
    corpus = load_corpus(_corpus(tmp_path, json.dumps(GOOD)))
    [utt] = corpus.utterances
    assert utt.audio == (tmp_path / "u1.pcm").resolve() and utt.audio.is_absolute()
    assert utt.segments == ((10.0, 90.0),)
    assert utt.pcm() == b"\0\0" * 1600
    assert corpus.root == tmp_path.resolve()


def test_write_then_load_round_trips(tmp_path: Path) -> None:
    (tmp_path / "a.pcm").write_bytes(b"\1\0" * 160)
    utt = Utterance(
        id="a",
        audio=(tmp_path / "a.pcm").resolve(),
        lang="th",
        text="ก ข",
        duration_ms=10.0,
        segments=((0.0, 5.0), (6.0, 10.0)),
        source="x",
        sentences=("ก", "ข"),
    )
    write_manifest(tmp_path, [utt])
    assert load_corpus(tmp_path).utterances == [utt]
    assert "ก ข" in (tmp_path / MANIFEST_NAME).read_text(encoding="utf-8")  # not \\u escapes


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "bad id!"}, "id must be"),
        ({"segments": [[50.0, 40.0]]}, "must have 0 <= on < off"),
        ({"segments": [[10.0, 50.0], [40.0, 60.0]]}, "before segment 0 ends"),
        ({"segments": [[1, "x"]]}, "pair of numbers"),
        ({"duration_ms": -1}, "duration_ms must be"),
        ({"audio": "../elsewhere.pcm"}, "inside the corpus"),
        ({"audio": "/etc/passwd"}, "inside the corpus"),
        ({"lang": "english please"}, "lang must be"),
        ({"text": 5}, "text must be a string or null, got number"),
        ({"text": "a\x1b]0;pwned\x07"}, "text holds a control character at position 1"),
        ({"sentences": ["hello"], "text": None}, "sentences are given but text is not"),
        ({"words": [["hello", 10.0, 90.0]], "text": None}, "words are given but text is not"),
        ({"words": [["hullo", 10.0, 90.0]]}, "the words do not spell the text"),
        ({"words": [["hello", 10.0]]}, r"word 0 must be \[word, start_ms, end_ms\]"),
        ({"words": [["hel lo", 10.0, 90.0]]}, "must be one word"),
        ({"words": [["hello", 10.0, None]]}, "needs two numbers or two nulls"),
        ({"words": [["hello", 90.0, 10.0]]}, "must have 0 <= start < end"),
        ({"words": [["hello", 10.0, 150.0]]}, "after duration_ms 100"),
        ({"text": "a b", "words": [["a", 10.0, 50.0], ["b", 40.0, 60.0]]}, "before word 0 ends"),
        ({"words": {"hello": 1}}, "words must be a list"),
        ({"extra": 1}, "unknown field extra"),
        ({"sentences": ["a", "b"]}, "2 sentences for 1 segments"),
    ],
)
def test_bad_line_is_named_with_its_number(tmp_path: Path, change: dict, message: str) -> None:
    root = _corpus(tmp_path, json.dumps(GOOD), "", json.dumps({**GOOD, "id": "u2", **change}))
    with pytest.raises(ManifestError, match=message) as info:
        load_corpus(root)
    assert info.value.line == 3  # blank line 2 is skipped but still counted
    assert str(info.value).startswith(f"{root / MANIFEST_NAME}:3: ")


def test_missing_field_and_bad_json(tmp_path: Path) -> None:
    missing = {k: v for k, v in GOOD.items() if k not in ("lang", "source")}
    with pytest.raises(ManifestError, match=r":1: missing fields lang, source"):
        load_corpus(_corpus(tmp_path, json.dumps(missing)))
    with pytest.raises(ManifestError, match=r":2: not valid JSON"):
        load_corpus(_corpus(tmp_path, json.dumps(GOOD), "{oops"))


@pytest.mark.parametrize("text", [None, "absent"])
def test_unknown_text_is_a_latency_only_utterance(tmp_path: Path, text: str | None) -> None:
    line = {k: v for k, v in GOOD.items() if k != "text"}
    if text is None:
        line["text"] = None
    [utt] = load_corpus(_corpus(tmp_path, json.dumps(line))).utterances
    assert utt.text is None and utt.segments == ((10.0, 90.0),)
    # Written back, the text says null: unknown, which is not "" (nothing said).
    write_manifest(tmp_path, [utt])
    assert json.loads((tmp_path / MANIFEST_NAME).read_text())["text"] is None


def test_words_round_trip_with_unaligned_ones(tmp_path: Path) -> None:
    line = {
        **GOOD,
        "text": "Hello, big world!",
        "words": [["Hello,", 10.0, 40.0], ["big", None, None], ["world!", 50.0, 90.0]],
    }
    [utt] = load_corpus(_corpus(tmp_path, json.dumps(line))).utterances
    assert utt.words == (
        ReferenceWord("Hello,", 10.0, 40.0),
        ReferenceWord("big"),
        ReferenceWord("world!", 50.0, 90.0),
    )
    write_manifest(tmp_path, [utt])
    assert load_corpus(tmp_path).utterances == [utt]


def test_thai_words_spell_a_text_written_without_spaces(tmp_path: Path) -> None:
    line = {
        **GOOD,
        "lang": "th",
        "text": "วันนี้อากาศดี",
        "words": [["วันนี้", 10.0, 40.0], ["อากาศ", 40.0, 70.0], ["ดี", 70.0, 90.0]],
    }
    [utt] = load_corpus(_corpus(tmp_path, json.dumps(line, ensure_ascii=False))).utterances
    assert [w.text for w in utt.words] == ["วันนี้", "อากาศ", "ดี"]


def test_duplicate_id_names_both_lines(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r":2: duplicate id 'u1' \(first on line 1\)"):
        load_corpus(_corpus(tmp_path, json.dumps(GOOD), json.dumps(GOOD)))


def test_not_a_corpus(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no manifest.jsonl"):
        load_corpus(tmp_path)
    with pytest.raises(UsageError, match="no such directory"):
        load_corpus(tmp_path / "nope")


def test_default_corpus_dir_finds_the_checkout_and_honours_the_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CORPORA_ENV, raising=False)
    found = default_corpus_dir()
    assert found.name == "en-synth" and (found / MANIFEST_NAME).is_file()
    assert default_corpus_dir("th-TH").name == "th-synth"
    (tmp_path / "en-synth").mkdir()
    _corpus(tmp_path / "en-synth", json.dumps(GOOD))
    monkeypatch.setenv(CORPORA_ENV, str(tmp_path))
    assert default_corpus_dir() == (tmp_path / "en-synth").resolve()
    with pytest.raises(UsageError, match="no xx-synth corpus found"):
        default_corpus_dir("xx")


# --- the shipped corpora -----------------------------------------------------------------


@pytest.fixture(params=["en", "th"], scope="module")
def shipped(request: pytest.FixtureRequest) -> Corpus:
    return load_corpus(default_corpus_dir(request.param))


def test_shipped_corpus_has_every_kind_of_utterance(shipped: Corpus) -> None:
    counts = [len(u.segments) for u in shipped]
    assert 8 <= len(shipped) <= 12
    assert counts.count(1) >= 3, "single-sentence utterances"
    assert sum(1 for c in counts if c >= 2) >= 2, "multi-sentence utterances"
    assert any(c >= 3 for c in counts), "an utterance of three sentences or more"
    empty = [u for u in shipped if not u.segments]
    assert {u.id.rsplit("-", 1)[1] for u in empty} == {"silence", "noise"}
    assert all(u.text == "" for u in empty)
    silence = next(u for u in empty if u.id.endswith("silence")).pcm()
    noise = next(u for u in empty if u.id.endswith("noise")).pcm()
    assert silence.count(0) == len(silence)
    assert noise.count(0) < len(noise) // 2, "noise utterance is not just silence"


def test_shipped_corpus_layout(shipped: Corpus) -> None:
    for utt in shipped:
        if not utt.segments:
            continue
        assert utt.text and len(utt.sentences) == len(utt.segments)
        assert 400 <= utt.segments[0][0] <= 600, f"{utt.id}: leading silence"
        assert 500 <= utt.duration_ms - utt.segments[-1][1] <= 1000, f"{utt.id}: trailing silence"
        for (_, off), (on, _) in zip(utt.segments, utt.segments[1:], strict=False):
            assert on - off >= 1200, f"{utt.id}: pause of {on - off} ms between sentences"


def test_shipped_segments_agree_with_the_vad(shipped: Corpus) -> None:
    for utt in shipped:
        found = find_segments(utt.pcm())
        assert len(found) == len(utt.segments), utt.id
        for mine, vad in zip(utt.segments, found, strict=True):
            worst = max(abs(mine[0] - vad[0]), abs(mine[1] - vad[1]))
            assert worst <= 100, f"{utt.id}: manifest {mine}, VAD {vad}"


def test_shipped_corpora_are_small() -> None:
    folders = [default_corpus_dir("en"), default_corpus_dir("th"), shipped_corpus("en-real")]
    total = sum(f.stat().st_size for folder in folders for f in folder.iterdir())
    assert total < 5 * 1024 * 1024


def test_shipped_synthesized_words_lie_in_their_segments(shipped: Corpus) -> None:
    for utt in shipped:
        if not utt.segments:
            assert utt.words == ()
            continue
        assert utt.text is not None
        per_sentence = [s.split() if utt.lang == "en" else None for s in utt.sentences]
        assert all(w.end_ms is not None and w.start_ms is not None for w in utt.words), utt.id
        for on, off in utt.segments:  # every segment holds words, the first from its start
            inside = [w for w in utt.words if w.start_ms is not None and on <= w.start_ms < off]
            assert inside and inside[0].start_ms is not None, utt.id
            assert all(w.end_ms is not None and w.end_ms <= off for w in inside), utt.id
        if utt.lang == "en":
            assert [w.text for w in utt.words] == [x for s in per_sentence if s for x in s]
        else:  # Thai: the words are the text's, which is written without spaces
            assert " " not in "".join(utt.sentences)
            assert "".join(w.text for w in utt.words) == "".join(utt.sentences)


def test_every_shipped_line_is_valid_against_the_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    for folder in (default_corpus_dir("en"), default_corpus_dir("th"), shipped_corpus("en-real")):
        for line in (folder / MANIFEST_NAME).read_text(encoding="utf-8").splitlines():
            validator.validate(json.loads(line))


def test_the_real_speech_corpus_says_where_it_comes_from() -> None:
    real = load_corpus(shipped_corpus(REAL_SPEECH_CORPUS))
    assert len(real) == 5 and (real.root / "README.md").is_file()
    for utt in real:
        assert utt.text and len(utt.segments) >= 1
        assert all(w.end_ms is not None for w in utt.words)
        assert [w.text for w in utt.words] == utt.text.split()
        for needed in ("LibriVox", "public domain", "pocketsphinx 5.1.1", utt.id[-4:]):
            assert needed in utt.source, (utt.id, needed)
