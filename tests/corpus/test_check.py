"""``asrx corpus check``: passes on the shipped corpora, names the line of each problem."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.cli.main import main
from harness.corpus import MANIFEST_NAME
from harness.corpus.check import check_corpus


@pytest.mark.parametrize("lang", ["en", "th"])
def test_shipped_corpora_pass(lang: str, en_corpus: Path, th_corpus: Path) -> None:
    corpus = en_corpus if lang == "en" else th_corpus
    assert check_corpus(corpus, vad=True) == []


@pytest.mark.parametrize("lang", ["en", "th"])
def test_cli_check_passes_on_shipped(
    lang: str, en_corpus: Path, th_corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = en_corpus if lang == "en" else th_corpus
    assert main(["corpus", "check", str(corpus)]) == 0
    assert capsys.readouterr().out == f"{corpus}: ok (11 utterances, 9 with word timings)\n"


@pytest.fixture
def broken(en_corpus: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "en-copy"
    shutil.copytree(en_corpus, copy)
    return copy


def _edit_line(corpus: Path, lineno: int, **changes: object) -> None:
    manifest = corpus / MANIFEST_NAME
    lines = manifest.read_text(encoding="utf-8").splitlines()
    obj = json.loads(lines[lineno - 1])
    obj.update(changes)
    lines[lineno - 1] = json.dumps(obj, ensure_ascii=False)
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _lines(corpus: Path) -> list[dict]:
    text = (corpus / MANIFEST_NAME).read_text(encoding="utf-8")
    return [json.loads(x) for x in text.splitlines()]


def test_cli_names_the_broken_line(broken: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _edit_line(broken, 3, segments=[[900.0, 500.0]])
    assert main(["corpus", "check", str(broken)]) == 1
    captured = capsys.readouterr()
    problem = "en-single-03: segment 0 [900, 500] must have 0 <= on < off"
    assert captured.out == f"{broken / MANIFEST_NAME}:3: {problem}\n"
    assert captured.err == f"asrx corpus check: 1 problem(s) in {broken}\n"


def test_every_problem_reported_once_per_line(broken: Path) -> None:
    first = _lines(broken)[0]
    (broken / first["audio"]).unlink()  # line 1: missing audio
    _edit_line(broken, 2, duration_ms=99.0, words=[])  # line 2: wrong duration
    _edit_line(broken, 4, segments=[[510.0, 99999.0]])  # line 4: past the end
    _edit_line(broken, 5, text="", words=[])  # line 5: speech without text
    last = len(_lines(broken))
    _edit_line(broken, last, text="surprise")  # noise line: text without speech
    with (broken / _lines(broken)[5]["audio"]).open("ab") as fh:  # line 6: odd length
        fh.write(b"\0")
    _edit_line(broken, 7, id=_lines(broken)[6]["id"] + " bad")  # line 7: invalid id
    problems = check_corpus(broken)
    lines = [p.line for p in problems]
    assert lines == [1, 2, 4, 5, 6, 7, last], [str(p) for p in problems]
    text = [str(p) for p in problems]
    assert "audio file en-single-01.pcm is missing" in text[0]
    assert "duration_ms is 99 but the audio lasts" in text[1]
    assert "ends after the audio" in text[2]
    assert "speech segment(s) but its text is empty" in text[3]
    assert "odd length" in text[4]
    assert "id must be" in text[5]
    assert "has reference text but no speech segments" in text[6]


def test_vad_option_catches_moved_segments(broken: Path) -> None:
    _edit_line(broken, 1, segments=[[1000.0, 2000.0]])
    assert check_corpus(broken) == []
    [problem] = check_corpus(broken, vad=True)
    assert problem.line == 1 and "from the VAD's" in problem.message


def test_empty_manifest_and_missing_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / MANIFEST_NAME).write_text("\n")
    assert [p.message for p in check_corpus(tmp_path)] == ["no utterances"]
    assert main(["corpus", "check", str(tmp_path / "nope")]) == 2
    assert "no such directory" in capsys.readouterr().err
