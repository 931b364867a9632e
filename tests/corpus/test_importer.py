"""``asrx corpus import``: any rate and channel count in, 16 kHz mono PCM and VAD segments out."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from harness.audio.convert import float_to_s16le
from harness.cli.main import main
from harness.corpus import MANIFEST_NAME, load_corpus
from harness.corpus.importer import ImportOptions, import_corpus, read_text_table
from harness.errors import UsageError
from tests.corpus.conftest import LAYOUT, WriteAudio

Speech = tuple[np.ndarray, list[tuple[float, float]]]
ONE_FRAME_MS = 1000 / 16000  # one output sample


def _import(sources: list[Path], out: Path, warnings: list[str] | None = None, **kw: object):
    opts = ImportOptions(lang="en", progress=False, **kw)  # type: ignore[arg-type]
    return import_corpus(sources, out, opts, (warnings if warnings is not None else []).append)


def _assert_segments_match(found: tuple, expected: list[tuple[float, float]]) -> None:
    assert len(found) == len(expected), f"segments {found}, speech at {expected}"
    for (on, off), (eon, eoff) in zip(found, expected, strict=True):
        assert abs(on - eon) <= 100 and abs(off - eoff) <= 100, f"{found} vs {expected}"


@pytest.mark.parametrize(
    ("name", "rate", "channels", "subtype"),
    [("speech48k.wav", 48000, 2, "PCM_16"), ("speech24k.flac", 24000, 1, "PCM_24")],
)
def test_import_resamples_downmixes_and_finds_speech(
    speech_16k: Speech,
    write_audio: WriteAudio,
    tmp_path: Path,
    name: str,
    rate: int,
    channels: int,
    subtype: str,
) -> None:
    samples, expected = speech_16k
    src = write_audio(samples, name, rate=rate, channels=channels, subtype=subtype)
    src.with_suffix(".txt").write_text(" ".join(t for t, _ in LAYOUT) + "\n")
    corpus = _import([src], tmp_path / "out")
    [utt] = corpus.utterances
    pcm = utt.pcm()
    assert len(pcm) % 2 == 0
    source_ms = len(samples) / 16
    assert abs(len(pcm) / 32 - source_ms) <= ONE_FRAME_MS, "duration changed"
    assert utt.duration_ms == len(pcm) / 32
    _assert_segments_match(utt.segments, expected)
    assert utt.text == "the weather is nice today we are going to the market"
    assert utt.id == src.stem and utt.source == f"imported from {name}; licence unknown"
    # The audio is the source's, not just any noise: correlate with the original.
    got = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    n = min(len(got), len(samples))
    assert np.corrcoef(got[:n], samples[:n])[0, 1] > 0.95


def test_import_many_files_with_csv_text_raw_and_folders(
    speech_16k: Speech, write_audio: WriteAudio, tmp_path: Path
) -> None:
    samples, _ = speech_16k
    a = write_audio(samples, "a.wav", rate=22050)
    raw = tmp_path / "b.raw"
    raw.write_bytes(float_to_s16le(samples))  # raw: 16 kHz s16le already
    folder = tmp_path / "more"
    folder.mkdir()
    write_audio(samples[: 16000 * 3], "more/c.ogg", rate=44100, subtype="VORBIS")
    table = tmp_path / "texts.tsv"
    table.write_text("file\ttext\na.wav\tHello A\nb\tHello B\nc.ogg\tHello, C\n", encoding="utf-8")
    source = "test speech, CC0"
    corpus = _import([a, raw, folder], tmp_path / "out", text_table=table, source=source)
    assert [u.id for u in corpus] == ["a", "b", "c"]
    assert [u.text for u in corpus] == ["Hello A", "Hello B", "Hello, C"]
    assert all(u.source.endswith(source) for u in corpus)
    assert corpus.utterances[1].pcm() == raw.read_bytes()


def test_read_text_table_csv_with_commas_in_text(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text('x.wav,"one, two"\ny.wav,three, four\n', encoding="utf-8")
    assert read_text_table(table) == {"x.wav": "one, two", "y.wav": "three, four"}
    table.write_text("x.wav\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"t.csv:1: expected file"):
        read_text_table(table)


def test_duplicate_stems_get_unique_ids(tmp_path: Path) -> None:
    for d in ("x", "y"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "same.raw").write_bytes(b"\0\0" * 1600)
    corpus = _import([tmp_path / "x" / "same.raw", tmp_path / "y" / "same.raw"], tmp_path / "o")
    assert [u.id for u in corpus] == ["same", "same-2"]


def test_all_silence_and_missing_text_are_warnings(tmp_path: Path) -> None:
    src = tmp_path / "quiet.pcm"
    src.write_bytes(b"\0\0" * 16000)
    warnings: list[str] = []
    corpus = _import([src], tmp_path / "out", warnings)
    assert corpus.utterances[0].segments == ()
    assert any("no speech found" in w for w in warnings), warnings
    assert any("no reference text" in w for w in warnings), warnings


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty"),
        (b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk", "cannot decode audio"),
        (b"\x00" * 1001, "not a whole number of 1-channel 16-bit samples"),
    ],
)
def test_bad_audio_fails_and_leaves_nothing(
    tmp_path: Path, speech_16k: Speech, write_audio: WriteAudio, content: bytes, message: str
) -> None:
    good = write_audio(speech_16k[0][:16000], "good.wav")
    bad = tmp_path / ("bad.pcm" if message.startswith("not a whole") else "bad.wav")
    bad.write_bytes(content)
    out = tmp_path / "out"
    with pytest.raises(UsageError, match=message) as info:
        _import([good, bad], out)
    assert "\n" not in str(info.value) and str(bad) in str(info.value)
    assert not out.exists(), "half-written corpus left behind"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["good.wav", bad.name])


def _wav_header(bits: int, n_frames: int = 100) -> bytes:
    width = bits // 8
    data = b"\0" * (width * n_frames)
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, 16000, 16000 * width, width, bits)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(data))
        + b"WAVEfmt "
        + fmt
        + b"data"
        + (struct.pack("<I", len(data)) + data)
    )


def test_unsupported_sample_width_is_named(tmp_path: Path) -> None:
    src = tmp_path / "wide.wav"
    src.write_bytes(_wav_header(48))
    with pytest.raises(UsageError, match="unsupported sample width 48-bit PCM"):
        _import([src], tmp_path / "out")


def test_existing_target_is_kept_unless_forced(tmp_path: Path) -> None:
    src = tmp_path / "s.pcm"
    src.write_bytes(b"\0\0" * 1600)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty"):
        _import([src], out)
    assert (out / "keep.txt").exists()
    _import([src], out, force=True)
    assert not (out / "keep.txt").exists() and (out / MANIFEST_NAME).exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_cli_import_then_check(
    tmp_path: Path, speech_16k: Speech, write_audio: WriteAudio, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write_audio(speech_16k[0], "talk.wav", rate=48000, channels=2)
    src.with_suffix(".txt").write_text("the weather is nice today we are going to the market")
    out = tmp_path / "corpus"
    assert main(["corpus", "import", str(src), "--out", str(out), "--lang", "en"]) == 0
    captured = capsys.readouterr()
    assert "imported 1 utterances" in captured.out and "2 speech segments" in captured.out
    assert captured.err == ""
    assert main(["corpus", "check", str(out), "--vad"]) == 0
    assert len(load_corpus(out)) == 1


def test_cli_import_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.wav"
    assert (
        main(["corpus", "import", str(missing), "--out", str(tmp_path / "o"), "--lang", "en"]) == 2
    )
    err = capsys.readouterr().err
    assert err == f"asrx corpus: error: {missing}: no such file\n"
    assert main(["corpus", "import", str(missing), "--out", "o", "--lang", "english"]) == 2
    assert "language must be a tag" in capsys.readouterr().err


def test_cli_silence_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "hush.pcm"
    src.write_bytes(b"\0\0" * 8000)
    (tmp_path / "hush.txt").write_text("")
    assert main(["corpus", "import", str(src), "--out", str(tmp_path / "o"), "--lang", "en"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("asrx corpus: warning: ") and "no speech found" in err
    assert err.count("\n") == 1


def test_a_recording_without_transcript_is_a_latency_only_corpus_its_check_accepts(
    tmp_path: Path,
    speech_16k: Speech,
    write_audio: WriteAudio,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src = write_audio(speech_16k[0], "talk.wav")
    out = tmp_path / "c"
    assert main(["corpus", "import", str(src), "--out", str(out), "--lang", "en"]) == 0
    assert "no reference text (no talk.txt or talk.lab): latency only" in capsys.readouterr().err
    [utt] = load_corpus(out).utterances
    assert utt.text is None and len(utt.segments) == 2 and utt.words == ()
    assert main(["corpus", "check", str(out), "--vad"]) == 0
    out_text = capsys.readouterr().out
    assert "talk: no reference text: latency only, accuracy cannot be scored (note)" in out_text
    assert out_text.endswith(f"{out}: ok (1 utterances, 1 latency-only)\n")


def test_a_transcript_for_audio_without_speech_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "quiet.pcm"
    src.write_bytes(b"\0\0" * 16000)
    src.with_suffix(".lab").write_text("hello there")  # MFA's sidecar name works too
    out = tmp_path / "out"
    with pytest.raises(UsageError, match="has reference text but the VAD finds no speech"):
        _import([src], out)
    assert not out.exists()


def test_an_import_its_check_would_reject_is_not_written(
    tmp_path: Path, speech_16k: Speech, write_audio: WriteAudio
) -> None:
    src = write_audio(speech_16k[0], "odd.wav")
    src.with_suffix(".txt").write_text("a \x07bell")  # a control character in the text
    out = tmp_path / "out"
    with pytest.raises(UsageError, match="would not pass its check: .*control character"):
        _import([src], out)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["odd.txt", "odd.wav"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_an_interrupted_import_leaves_nothing_behind(tmp_path: Path, signum: int) -> None:
    """The second source is a FIFO nobody writes: the import waits inside its staging
    folder until the signal comes."""
    good = tmp_path / "good.pcm"
    good.write_bytes(b"\0\0" * 16000)
    fifo = tmp_path / "stuck.pcm"
    os.mkfifo(fifo)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli.main",
            "corpus",
            "import",
            str(good),
            str(fifo),
            "--out",
            str(out),
            "--lang",
            "en",
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not list(tmp_path.glob(".out.partial-*/good.pcm")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert err.endswith("asrx corpus: interrupted\n") and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.pcm", "stuck.pcm"]
