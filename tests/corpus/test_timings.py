"""Word timings from an aligner's files (TextGrid, CTM), placed on the reference's words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from praatio import textgrid
from praatio.utilities.constants import Interval

from harness.cli.main import main
from harness.corpus import REAL_SPEECH_CORPUS, ReferenceWord, load_corpus, shipped_corpus
from harness.corpus.timings import TimedToken, place_words, read_ctm, read_textgrid
from harness.errors import UsageError


def tokens(*items: tuple[str, float, float]) -> list[TimedToken]:
    return [TimedToken(t, a, b) for t, a, b in items]


def test_aligner_spelling_is_placed_on_the_written_words() -> None:
    placed = place_words(
        "Mr. Smith's cold-hearted dog — barked!",
        "en",
        tokens(
            ("mr", 0, 100),
            ("<sil>", 100, 150),
            ("smiths", 150, 400),
            ("cold", 400, 600),
            ("hearted", 600, 900),
            ("dog", 900, 1100),
            ("barked", 1100, 1500),
        ),
    )
    assert placed.words == (
        ReferenceWord("Mr.", 0, 100),
        ReferenceWord("Smith's", 150, 400),
        ReferenceWord("cold-hearted", 400, 900),
        ReferenceWord("dog", 900, 1100),
        ReferenceWord("barked!", 1100, 1500),
    )
    assert placed.unplaced == [] and placed.placed == 5


def test_words_the_aligner_spelt_otherwise_are_unplaced_not_guessed() -> None:
    placed = place_words(
        "we met at 10 sharp",
        "en",
        tokens(
            ("we", 0, 100),
            ("met", 100, 300),
            ("at", 300, 400),
            ("ten", 400, 600),
            ("sharp", 600, 900),
        ),
    )
    assert placed.unplaced == ["10"]
    assert placed.words[3] == ReferenceWord("10")
    assert placed.words[4] == ReferenceWord("sharp", 600, 900)


def test_thai_words_need_the_aligner_to_cut_where_the_reference_does() -> None:
    text = "วันนี้อากาศดีมาก"
    reference_words = "วันนี้ อากาศ ดี มาก"
    # The manifest's words come from the reference; an aligner writing "ดีมาก" as one
    # token leaves the boundary between ดี and มาก unknown.
    placed = place_words(
        reference_words,
        "th",
        tokens(("วันนี้", 0, 400), ("อากาศ", 400, 900), ("ดีมาก", 900, 1500)),
    )
    assert [w.end_ms for w in placed.words] == [400, 900, None, None]
    assert placed.unplaced == ["ดี", "มาก"]
    assert "".join(w.text for w in placed.words) == text


def test_overlapping_or_out_of_range_times_are_not_placed() -> None:
    placed = place_words(
        "a b c d",
        "en",
        tokens(("a", 0, 300), ("b", 200, 400), ("c", 400, 400), ("d", 500, 2000)),
        duration_ms=1000,
    )
    assert [w.end_ms for w in placed.words] == [300, None, None, None]


def _grid(path: Path, tier: str, words: list[tuple[float, float, str]]) -> Path:
    grid = textgrid.Textgrid()
    grid.addTier(textgrid.IntervalTier(tier, [Interval(*w) for w in words], 0, 3.0))
    grid.addTier(textgrid.IntervalTier("phones", [Interval(0.1, 0.3, "HH")], 0, 3.0))
    grid.save(str(path), format="long_textgrid", includeBlankSpaces=True)
    return path


def test_read_textgrid_picks_the_words_tier(tmp_path: Path) -> None:
    mfa = _grid(tmp_path / "a.TextGrid", "speaker1 - words", [(0.1, 0.3, "he"), (0.3, 0.5, "was")])
    assert read_textgrid(mfa) == tokens(("he", 100, 300), ("was", 300, 500))
    other = _grid(tmp_path / "b.TextGrid", "syllables", [(0.1, 0.3, "he")])
    with pytest.raises(UsageError, match="which tier holds the words .*syllables, phones"):
        read_textgrid(other)
    (tmp_path / "c.TextGrid").write_text('File type = "ooTextFile"\nnonsense\n')
    with pytest.raises(UsageError, match="not a TextGrid praatio can read"):
        read_textgrid(tmp_path / "c.TextGrid")


def test_read_ctm_of_one_file_among_several(tmp_path: Path) -> None:
    ctm = tmp_path / "all.ctm"
    ctm.write_text(
        ";; made by an aligner\n"
        "talk1 1 0.50 0.20 hello 0.98\n"
        "talk2 1 0.10 0.10 other\n"
        "talk1 1 0.20 0.25 oh\n"
    )
    assert read_ctm(ctm, "talk1") == tokens(("oh", 200, 450), ("hello", 500, 700))
    with pytest.raises(UsageError, match="no lines for 'talk3'"):
        read_ctm(ctm, "talk3")
    ctm.write_text("talk1 1 zero 0.2 hello\n")
    with pytest.raises(UsageError, match=r"all.ctm:1: expected 'file channel start"):
        read_ctm(ctm, "talk1")


@pytest.fixture
def real_wav(tmp_path: Path) -> tuple[Path, list[ReferenceWord]]:
    """austen-0880 as a WAV with its transcript beside it, and its shipped word timings."""
    import numpy as np
    import soundfile as sf

    utt = load_corpus(shipped_corpus(REAL_SPEECH_CORPUS)).get("austen-0880")
    wav = tmp_path / "src" / "austen-0880.wav"
    wav.parent.mkdir()
    sf.write(str(wav), np.frombuffer(utt.pcm(), dtype="<i2"), 16000, subtype="PCM_16")
    assert utt.text is not None
    wav.with_suffix(".txt").write_text(utt.text)
    return wav, list(utt.words)


def test_import_takes_a_textgrid_beside_the_audio(
    real_wav: tuple[Path, list[ReferenceWord]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wav, truth = real_wav
    timed = [w for w in truth if w.start_ms is not None and w.end_ms is not None]
    # An MFA-like TextGrid that spells one word its own way ("ill-disposed" -> two tokens).
    _grid(
        wav.with_suffix(".TextGrid"),
        "words",
        [(w.start_ms / 1000, w.end_ms / 1000, w.text) for w in timed if w.text != "young"],
    )
    out = tmp_path / "c"
    assert main(["corpus", "import", str(wav), "--out", str(out), "--lang", "en"]) == 0
    err = capsys.readouterr().err
    assert "1 of 8 words could not be aligned (austen-0880.TextGrid)" in err and "young" in err
    [utt] = load_corpus(out).utterances
    assert [w.text for w in utt.words] == [w.text for w in truth]
    for mine, theirs in zip(utt.words, truth, strict=True):
        if theirs.text == "young":
            assert mine.end_ms is None
        else:
            assert mine == theirs
    assert main(["corpus", "check", str(out)]) == 0
    assert "1 of 8 words have no timing (not aligned): young (note)" in capsys.readouterr().out


def test_import_takes_ctm_from_a_timings_folder(
    real_wav: tuple[Path, list[ReferenceWord]], tmp_path: Path
) -> None:
    wav, truth = real_wav
    folder = tmp_path / "aligned"
    folder.mkdir()
    lines = [
        f"austen-0880 1 {w.start_ms / 1000:.3f} {(w.end_ms - w.start_ms) / 1000:.3f} {w.text}"
        for w in truth
        if w.start_ms is not None and w.end_ms is not None
    ]
    (folder / "austen-0880.ctm").write_text("\n".join(lines) + "\n")
    out = tmp_path / "c"
    code = main(
        ["corpus", "import", str(wav), "--out", str(out), "--lang", "en", "--timings", str(folder)]
    )
    assert code == 0
    [utt] = load_corpus(out).utterances
    assert utt.words == tuple(truth)
    line = json.loads((out / "manifest.jsonl").read_text())
    assert line["words"][0] == [truth[0].text, truth[0].start_ms, truth[0].end_ms]


def test_import_align_of_real_speech_matches_the_shipped_timings(
    real_wav: tuple[Path, list[ReferenceWord]], tmp_path: Path
) -> None:
    wav, truth = real_wav
    out = tmp_path / "c"
    assert main(["corpus", "import", str(wav), "--out", str(out), "--lang", "en", "--align"]) == 0
    assert load_corpus(out).utterances[0].words == tuple(truth)


def test_align_is_english_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "x.pcm"
    src.write_bytes(b"\0\0" * 1600)
    code = main(
        ["corpus", "import", str(src), "--out", str(tmp_path / "o"), "--lang", "th", "--align"]
    )
    assert code == 2
    assert "--align aligns English only" in capsys.readouterr().err
