"""Manifests written by an adversary: every line however malformed is one problem, never a
crash, for ``asrx corpus check`` and for everything that loads a corpus (``asrx stream
--corpus``, the conformance suite's collection and the Locust user all call
``load_corpus``, whose only error is a one-line ``UsageError``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli.main import main
from harness.corpus import MANIFEST_NAME, ManifestError, load_corpus
from harness.corpus.check import check_corpus
from harness.corpus.manifest import MAX_LINE_BYTES, iter_manifest
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

#: (what, the raw line) — each must be exactly one problem on its own line number.
HOSTILE: list[tuple[str, bytes]] = [
    ("NUL in audio", json.dumps({**GOOD, "id": "a", "audio": "u1\u0000.pcm"}).encode()),
    ("5,000-digit number", b'{"id": "b", "duration_ms": ' + b"9" * 5000 + b"}"),
    ("4,000-digit integer", json.dumps({**GOOD, "id": "c", "duration_ms": 10**4000}).encode()),
    ("100,000 [", b"[" * 100_000),
    (
        "deep object in words",
        json.dumps({**GOOD, "id": "d"})[:-1].encode()
        + b', "words": '
        + b'{"a": ' * 50_000
        + b"1"
        + b"}" * 50_000
        + b"}",
    ),
    ("a list, not an object", b"[1, 2, 3]"),
    ("numbers as strings", json.dumps({**GOOD, "id": "e", "segments": [["1", "2"]]}).encode()),
    (
        "infinity",
        b'{"id": "f", "audio": "u1.pcm", "lang": "en", "text": "", '
        b'"duration_ms": 1e999, "segments": [], "source": "s"}',
    ),
    ("NaN", json.dumps({**GOOD, "id": "g", "duration_ms": float("nan")}).encode()),
    ("huge id", json.dumps({**GOOD, "id": "x" * 500_000}).encode()),
    (
        "escape codes in lang",
        json.dumps({**GOOD, "id": "h", "lang": "\x1b[2J\x1b]0;x\x07"}).encode(),
    ),
    ("invalid UTF-8", json.dumps({**GOOD, "id": "i"}).encode().replace(b"hello", b"he\xffo")),
    ("overlong line", json.dumps({**GOOD, "id": "j", "text": "a" * MAX_LINE_BYTES}).encode()),
    ("booleans as numbers", json.dumps({**GOOD, "id": "k", "segments": [[True, 2]]}).encode()),
    ("a huge unknown key", json.dumps({**GOOD, "id": "l", "k" * 100_000: 1}).encode()),
]


def _write(folder: Path, lines: list[bytes]) -> Path:
    (folder / "u1.pcm").write_bytes(b"\0\0" * 1600)
    (folder / MANIFEST_NAME).write_bytes(b"".join(line + b"\n" for line in lines))
    return folder


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    good = json.dumps(GOOD).encode()
    return _write(tmp_path, [good] + [line for _, line in HOSTILE] + [good.replace(b"u1", b"u9")])


def test_every_hostile_line_is_one_short_problem(hostile: Path) -> None:
    problems = check_corpus(hostile)
    bad_lines = list(range(2, 2 + len(HOSTILE)))
    # Line 1 is good; the last line is well formed but its audio u9.pcm is missing.
    assert [p.line for p in problems] == [*bad_lines, len(HOSTILE) + 2], [str(p) for p in problems]
    for (what, _), problem in zip(HOSTILE, problems, strict=False):
        shown = str(problem)
        assert len(shown) < 400, f"{what}: {len(shown)} characters"
        assert shown.isprintable(), f"{what}: control characters in {shown!r}"
    by_line = {p.line: p.message for p in problems}
    assert "inside the corpus" in by_line[2]
    assert "digits" in by_line[3]
    assert "duration_ms must be a number" in by_line[4]
    assert "nested too deeply" in by_line[5] and "nested too deeply" in by_line[6]
    assert "not UTF-8 text (byte 0xff" in by_line[13]
    assert "line longer than 1024 KiB" in by_line[14]


def test_cli_check_lists_them_all_and_exits_1(
    hostile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["corpus", "check", str(hostile)]) == 1
    out, err = capsys.readouterr()
    assert out.count("\n") == len(HOSTILE) + 1 and "Traceback" not in out + err
    assert err == f"asrx corpus check: {len(HOSTILE) + 1} problem(s) in {hostile}\n"


def test_a_crash_inside_the_check_has_its_own_exit_code(
    hostile: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("\x1b[31mred")

    monkeypatch.setattr("harness.cli.corpus.inspect_corpus", boom)
    assert main(["corpus", "check", str(hostile)]) == 70
    err = capsys.readouterr().err
    assert err.startswith("asrx corpus check: internal error (ZeroDivisionError")
    assert err.count("\n") == 1 and "\x1b" not in err


@pytest.mark.parametrize("index", range(len(HOSTILE)), ids=[w for w, _ in HOSTILE])
def test_load_corpus_names_the_line(tmp_path: Path, index: int) -> None:
    root = _write(tmp_path, [json.dumps(GOOD).encode(), HOSTILE[index][1]])
    with pytest.raises(ManifestError) as info:
        load_corpus(root)
    assert info.value.line == 2 and "\n" not in str(info.value)


def test_stream_corpus_is_a_one_line_usage_error(
    hostile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["stream", "u1", "--corpus", str(hostile), "--url", "ws://127.0.0.1:9/asrx"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and f"{MANIFEST_NAME}:2: " in err


def test_suite_collection_is_a_one_line_usage_error(hostile: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            "harness.conformance",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--asrx-corpus={hostile}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    output = proc.stdout + proc.stderr
    # The plugin turns the UsageError into collection errors (pytest exits 2): what matters
    # here is that the manifest's line is named and nothing crashed on the way.
    assert proc.returncode in (2, 4), output[-2000:]
    assert f"{MANIFEST_NAME}:2: a: audio must be a relative path" in output
    for crash in ("Traceback", "ValueError", "RecursionError", "INTERNALERROR"):
        assert crash not in output, output[-2000:]


# -- fuzzing: any line, any bytes -----------------------------------------------------------

FIELDS = ["id", "audio", "lang", "text", "duration_ms", "segments", "source", "sentences", "words"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
lines = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=9).map(
        lambda d: json.dumps({**GOOD, **d}, allow_nan=True).encode()
    ),
    json_values.map(lambda v: json.dumps(v, allow_nan=True).encode()),
    st.binary(max_size=200).filter(lambda b: b"\n" not in b),
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(lines, min_size=1, max_size=6))
def test_any_manifest_is_utterances_or_problems(tmp_path: Path, manifest: list[bytes]) -> None:
    root = _write(tmp_path, manifest)
    items = list(iter_manifest(root))  # never raises: one item per non-blank line
    assert len(items) == sum(1 for line in manifest if line.strip())
    try:
        corpus = load_corpus(root)
    except UsageError as exc:
        assert "\n" not in str(exc)
    else:
        assert all(u.audio.is_relative_to(root.resolve()) for u in corpus)
    for problem in check_corpus(root):
        assert str(problem).isprintable()
