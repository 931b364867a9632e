"""``asrx corpus synth``: espeak-ng speech laid out with known pauses, segments exact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.audio import espeak
from harness.cli.main import main
from harness.corpus import MANIFEST_NAME, load_corpus
from harness.corpus import synth as synth_mod
from harness.corpus.check import check_corpus
from harness.corpus.synth import LEAD_MS, PAUSE_MS, TRAIL_MS, lay_out, read_texts, synth_corpus
from harness.errors import UsageError
from tests.corpus.conftest import needs_espeak


def test_lay_out_puts_pieces_on_the_vad_grid_with_known_pauses() -> None:
    pieces = [np.ones(16 * 1000 + 7), np.ones(16 * 500)]
    audio, segments = lay_out(pieces)
    assert segments[0] == (LEAD_MS, LEAD_MS + 1000 + 7 / 16)
    gap = segments[1][0] - segments[0][1]
    assert PAUSE_MS <= gap < PAUSE_MS + 30
    assert segments[1][0] % 30 == 0
    assert len(audio) / 16 == segments[1][1] + TRAIL_MS
    for on, off in segments:  # the audio is non-zero exactly inside the segments
        assert audio[int(on * 16) : int(off * 16)].all()
        assert not audio[int(off * 16) : int(off * 16) + 16 * 1000].any()


def test_read_texts_numbers_single_and_multi(tmp_path: Path) -> None:
    texts = tmp_path / "t.txt"
    texts.write_text("# comment\n\nhello there\ngood morning | see you\nbye now\n")
    plans = read_texts(texts, "en")
    assert [(p.id, p.sentences) for p in plans] == [
        ("en-single-01", ("hello there",)),
        ("en-multi-01", ("good morning", "see you")),
        ("en-single-02", ("bye now",)),
    ]
    texts.write_text("fine\na |  | b\n")
    with pytest.raises(UsageError, match=r"t.txt:2: empty sentence"):
        read_texts(texts, "en")
    texts.write_text("# nothing\n")
    with pytest.raises(UsageError, match="no sentences"):
        read_texts(texts, "en")


def test_missing_espeak_is_a_clear_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The synthesizer runs in a child process: make the library impossible to find there.
    monkeypatch.setenv("ASRX_ESPEAK_LIBRARY", str(tmp_path / "no-such-libespeak-ng.so"))
    out = tmp_path / "c"
    assert main(["corpus", "synth", "--lang", "en", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("asrx corpus: error: espeak-ng is not installed") and err.count("\n") == 1
    assert not out.exists()


@needs_espeak
@pytest.mark.parametrize(
    ("lang", "texts"),
    [("en", "hello there\ngood morning | see you soon\n"), ("th", "สวัสดีครับ\nขอบคุณ | ลาก่อน\n")],
)
def test_synth_small_corpus(lang: str, texts: str, tmp_path: Path) -> None:
    text_file = tmp_path / "texts.txt"
    text_file.write_text(texts, encoding="utf-8")
    corpus = synth_corpus(lang, tmp_path / "c", texts=text_file)
    by_id = {u.id: u for u in corpus}
    assert sorted(by_id) == sorted(
        [f"{lang}-single-01", f"{lang}-multi-01", f"{lang}-silence", f"{lang}-noise"]
    )
    multi = by_id[f"{lang}-multi-01"]
    assert len(multi.segments) == 2 and multi.segments[1][0] - multi.segments[0][1] >= 1200
    assert multi.text == " ".join(multi.sentences)
    assert by_id[f"{lang}-silence"].segments == () and by_id[f"{lang}-noise"].text == ""
    assert check_corpus(corpus.root, vad=True) == []
    assert (corpus.root / "texts.txt").read_text(encoding="utf-8") == texts


@needs_espeak
def test_shipped_en_corpus_is_reproducible(en_corpus: Path, tmp_path: Path) -> None:
    shipped = load_corpus(en_corpus)
    version = espeak.version()
    if f"eSpeak NG {version} " not in shipped.utterances[0].source:
        pytest.skip(f"shipped corpus was made with another eSpeak NG than {version}")
    fresh = synth_corpus("en", tmp_path / "en", texts=en_corpus / "texts.txt")
    assert (fresh.root / MANIFEST_NAME).read_bytes() == (en_corpus / MANIFEST_NAME).read_bytes()
    for utt in fresh:
        assert utt.pcm() == shipped.get(utt.id).pcm(), utt.id


@needs_espeak
def test_cli_synth_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c"
    out.mkdir()
    (out / "x").write_text("keep")
    assert main(["corpus", "synth", "--lang", "en", "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (out / "x").exists()


def test_shipped_text_lists_match_the_builtin_ones(en_corpus: Path, th_corpus: Path) -> None:
    for corpus, lang in ((en_corpus, "en"), (th_corpus, "th")):
        builtin = synth_mod.default_texts(lang).read_text(encoding="utf-8")
        assert (corpus / "texts.txt").read_text(encoding="utf-8") == builtin
