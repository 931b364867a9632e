"""Known deviations (``--asrx-known``) and ``asrx conformance-diff``.

A listed deviation is reported as KNOWN and does not fail the run; a new failure does; an
expired entry fails like a new one, saying so; an entry that no longer matches anything is
reported as fixed. JUnit (xfail, ``asrx-known``), HTML and JSON tell the kinds apart, and
``conformance-diff`` compares two runs from either artefact.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from harness.cli.main import main as asrx
from harness.conformance.known import load_known
from harness.errors import UsageError
from harness.server.embedded import EmbeddedServer
from tests.conformance.suiterun import Outputs, run_with_artefacts

KEY = "known-deviation-key-d00d"
SELECT = "test_close_code_1000 or test_silence_gives_no_text"


def known_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "known.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[deviation]]\nrule = "9.nope"\nreason = "x"\n', "unknown rule '9.nope'"),
        ('[[deviation]]\nrule = "3.state"\n', "needs a 'reason'"),
        ('[[deviation]]\nreason = "x"\n', "needs a 'rule' or a 'check'"),
        ('[[deviation]]\ncheck = "close"\nreason = "x"\n', "'check' must name a check"),
        ('[[deviation]]\nrule = "3.state"\nreason = "x"\nexpires = "soon"\n', "must be a date"),
        ('[[deviation]]\nrule = "3.state"\nreason = "x"\nowner = "me"\n', "unknown field(s) owner"),
        ("[[deviation]\n", "not valid TOML"),
        ("[other]\nx = 1\n", "unknown table(s) other"),
    ],
)
def test_a_bad_file_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UsageError) as err:
        load_known(known_file(tmp_path, text))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_live_entry_wins_over_an_expired_one(tmp_path: Path) -> None:
    known = load_known(
        known_file(
            tmp_path,
            '[[deviation]]\nrule = "3.state"\nreason = "old"\nexpires = 2020-01-01\n'
            '[[deviation]]\ncheck = "test_message_schema"\nreason = "new"\n',
        )
    )
    today = date(2024, 6, 1)
    dev = known.match("3.state", "test_message_schema[en-single-01]", today)
    assert dev is not None and dev.reason == "new"
    old = known.match("3.state", "test_sentence_count[x]", today)
    assert old is not None and old.expired(today)
    assert known.match("3.json", "test_sentence_count[x]", today) is None


def _run(tmp_path: Path, server: EmbeddedServer, known: Path, name: str) -> Outputs:
    return run_with_artefacts(
        tmp_path / name,
        "--asrx-url",
        server.url,
        "-k",
        SELECT,
        env={"ASRX_APIKEY": KEY, "ASRX_KNOWN": str(known)},
    )


def test_known_new_expired_and_fixed_deviations(tmp_path: Path) -> None:
    mixed = known_file(
        tmp_path,
        '[[deviation]]\nrule = "4.close-1000"\ncheck = "test_close_code_1000[speech]"\n'
        'reason = "the gateway closes 1011; vendor ticket 123"\n'
        '[[deviation]]\nrule = "4.close-1000"\ncheck = "test_close_code_1000[no-audio]"\n'
        'reason = "was to be fixed in 2019"\nexpires = 2020-01-01\n'
        '[[deviation]]\nrule = "3.silence"\nreason = "phantom text, fixed since"\n',
    )
    all_known = tmp_path / "all.toml"
    all_known.write_text('[[deviation]]\nrule = "4.close-1000"\nreason = "by design"\n')
    with EmbeddedServer(engine="synthetic", apikeys=(KEY,), faults=("close-1011",)) as server:
        run = _run(tmp_path, server, mixed, "mixed")
        ok = _run(tmp_path, server, all_known, "ok")

    # One known, one expired (fails, saying so), one new failure, one fixed entry.
    assert run.proc.returncode == 1, run.console[-3000:]
    grades = run.grades()
    assert grades["test_close_code_1000[speech]"] == "KNOWN"
    assert grades["test_close_code_1000[no-audio]"] == "FAILED"
    assert grades["test_close_code_1000[mid-sentence]"] == "FAILED"
    assert "expired on 2020-01-01" in run.console
    status = {d["index"]: d["status"] for d in run.result["deviations"]}
    assert status == {1: "known", 2: "expired", 3: "fixed"}
    assert f"known deviation 3 (§3.silence) fixed: remove it from {mixed}" in run.console
    speech = next(c for c in run.junit_cases() if c.get("name") == "test_close_code_1000[speech]")
    skipped = speech.find("skipped")
    assert skipped is not None and skipped.get("type") == "pytest.xfail"
    assert "vendor ticket 123" in (skipped.get("message") or "")
    props = {p.get("name") for p in speech.iter("property")}
    assert "asrx-known" in props
    for text in ("Known deviations, by rule", "FIXED: remove it from the file", "EXPIRED"):
        assert text in run.html, text

    # Every failure listed: a pass, the deviations shown.
    assert ok.proc.returncode == 0, ok.console[-3000:]
    assert ok.result["verdict"] == "PASS"
    assert list(ok.grades().values()).count("KNOWN") == 3

    # conformance-diff, from JSON and JUnit alike.
    ok_json, run_json = tmp_path / "ok" / "c.json", tmp_path / "mixed" / "c.json"
    assert asrx(["conformance-diff", str(ok_json), str(run_json)]) == 1
    assert asrx(["conformance-diff", str(run_json), str(ok_json)]) == 0
    assert asrx(["conformance-diff", str(tmp_path / "ok" / "c.xml"), str(run_json)]) == 1


def test_conformance_diff_lists_the_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = tmp_path / "old.xml", tmp_path / "new.xml"
    old.write_text(
        '<testsuites><testsuite><testcase classname="m" name="test_a[x]"/>'
        '<testcase classname="m" name="test_b"><failure message="f"/></testcase>'
        "</testsuite></testsuites>"
    )
    new.write_text(
        '<testsuites><testsuite><testcase classname="m" name="test_a[x]"><error message="e"/>'
        '</testcase><testcase classname="m" name="test_b"/>'
        '<testcase classname="m" name="test_c"><failure message="f"/></testcase>'
        "</testsuite></testsuites>"
    )
    assert asrx(["conformance-diff", str(old), str(new)]) == 1
    out = capsys.readouterr().out
    assert "newly failing: 2" in out and "test_a[x] (OK -> ERROR)" in out
    assert "test_c (absent -> FAILED)" in out
    assert "newly passing: 1" in out and "test_b (FAILED -> OK)" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), ("{}", "neither JUnit XML nor"), ("<html/>", "not a JUnit XML")],
)
def test_conformance_diff_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    bad = tmp_path / "bad"
    if content is not None:
        bad.write_text(content)
    good = tmp_path / "good.xml"
    good.write_text("<testsuites/>")
    assert asrx(["conformance-diff", str(bad), str(good)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
