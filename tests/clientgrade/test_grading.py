"""The client rules graded from hand-made records: every threshold, the chain inside a
scenario and the one-defect-one-failure rule across scenarios, without running anything."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from harness.clientgrade.audio import GradeAudio
from harness.clientgrade.facts import find_in_order, visible_text
from harness.clientgrade.grading import grade_all, grade_scenario
from harness.clientgrade.process import ClientProcess
from harness.clientgrade.runner import ScenarioRun, fill, shown_command
from harness.clientgrade.scenarios import BY_NAME
from harness.clientgrade.verdict import FAILED, NON_STRICT, NOT_GRADED, OK, GradeOptions
from harness.server.clientlog import (
    ClientRecords,
    HandshakeSeen,
    SentSeen,
    SessionSeen,
    TextSeen,
)

PCM = bytes(range(256)) * 125  # 32 000 bytes: one second
AUDIO = GradeAudio(
    "test", Path("a.pcm"), Path("a.wav"), len(PCM), hashlib.sha256(PCM).hexdigest(), "52494646"
)
OPTIONS = GradeOptions(AUDIO)
EOS = '{"data": {"status": "CloseConnection"}}'
T0 = 1000.0
KEY = "grade-test-key-3f9a"


def handshake(
    at: float = T0, status: int = 101, headers: int = 1, valid: bool = True
) -> HandshakeSeen:
    return HandshakeSeen(at, "/asrx", status, headers, False, valid, False, "")


def frames(frame: int = 1024, speed: float = 1.0, start: float = T0 + 0.1) -> list[list[float]]:
    out, pos = [], 0
    while pos < len(PCM):
        size = min(frame, len(PCM) - pos)
        out.append([start + pos / 32000 / speed, float(size)])
        pos += size
    return out


def session(**changes: object) -> SessionSeen:
    """A model session: 1 s of audio at real time, end-of-stream, two finals, the
    confirmation, the server's close answered with 1000."""
    fr = frames()
    eos_at = fr[-1][0] + 0.01
    s = SessionSeen(
        handshake(),
        frames=fr,
        audio_bytes=len(PCM),
        audio_sha256=AUDIO.sha256,
        audio_head=PCM[:12].hex(),
        texts=[TextSeen(eos_at, "end-of-stream", len(EOS), EOS)],
        sent=[
            SentSeen(T0 + 0.5, "final", "word1 word2"),
            SentSeen(T0 + 0.9, "final", "word1 word2 word3"),
            SentSeen(eos_at + 0.01, "confirmation", "Confirm Close Connection"),
        ],
        client_close_at=eos_at + 0.02,
        client_close_code=1000,
        client_closed_first=False,
        server_close_code=1000,
        ended_at=eos_at + 0.03,
    )
    for name, value in changes.items():
        setattr(s, name, value)
    return s


def run(
    scenario: str = "normal",
    sessions: list[SessionSeen] | None = None,
    handshakes: list[HandshakeSeen] | None = None,
    *,
    exit_code: int | None = 0,
    stdout: str = "word1 word2\nword1 word2 word3\n",
    stderr: str = "",
) -> ScenarioRun:
    sessions = [session()] if sessions is None else sessions
    process = ClientProcess(T0, T0 + 2, exit_code, exit_code is None, 31.0, stdout, False, stderr)
    return ScenarioRun(
        BY_NAME[scenario], process, ClientRecords(handshakes or [], sessions), secrets=(KEY,)
    )


def grades(r: ScenarioRun, options: GradeOptions = OPTIONS) -> dict[str, str]:
    return {rule: v.grade for rule, v in grade_scenario(r, options).verdicts.items()}


def test_a_model_session_is_all_ok() -> None:
    assert set(grades(run()).values()) == {OK}


@pytest.mark.parametrize(
    ("speed", "grade"), [(1.0, OK), (1.08, OK), (0.93, OK), (1.6, NON_STRICT), (0.8, FAILED)]
)
def test_pacing_is_measured_against_real_time(speed: float, grade: str) -> None:
    r = run(sessions=[session(frames=frames(speed=speed))])
    assert grades(r)["C.pacing"] == grade


def test_a_pause_mid_stream_is_a_gap() -> None:
    fr = frames()
    for f in fr[10:]:
        f[0] += 0.3  # a 300 ms pause after frame 10
    v = grade_scenario(run(sessions=[session(frames=fr)]), OPTIONS).verdicts
    assert v["C.pacing-gaps"].grade == NON_STRICT
    assert "the longest 300 ms beyond, after 0.32 s of audio" in v["C.pacing-gaps"].findings[0].seen
    jitter = frames()
    for f in jitter[10:]:
        f[0] += 0.2  # what a busy machine may add: not a gap
    assert grades(run(sessions=[session(frames=jitter)]))["C.pacing-gaps"] == OK


@pytest.mark.parametrize(
    ("frame", "grade"), [(1024, OK), (1023, NON_STRICT), (160, NON_STRICT), (32000, OK)]
)
def test_frame_sizes(frame: int, grade: str) -> None:
    assert grades(run(sessions=[session(frames=frames(frame))]))["C.frame-size"] == grade


def test_audio_must_be_the_pcm_given() -> None:
    wav = session(audio_head="52494646" + "00" * 8, audio_sha256="0" * 64, audio_bytes=32044)
    v = grade_scenario(run(sessions=[wav]), OPTIONS).verdicts["C.audio-format"]
    assert v.grade == FAILED and "WAV header" in v.findings[0].seen
    eight_khz = session(audio_bytes=16000, audio_sha256="0" * 64)
    v = grade_scenario(run(sessions=[eight_khz]), OPTIONS).verdicts["C.audio-format"]
    assert v.grade == FAILED and "8 kHz" in v.findings[0].seen
    swapped = session(audio_sha256="0" * 64)
    v = grade_scenario(run(sessions=[swapped]), OPTIONS).verdicts["C.audio-format"]
    assert "byte order" in v.findings[0].seen


@pytest.mark.parametrize(
    ("headers", "valid", "seen"),
    [
        (0, False, "no apikey header"),
        (2, True, "2 apikey headers"),
        (1, False, "a key other than the one given"),
    ],
)
def test_apikey(headers: int, valid: bool, seen: str) -> None:
    bad = handshake(status=401, headers=headers, valid=valid)
    v = grade_scenario(run(sessions=[], handshakes=[bad], exit_code=1), OPTIONS).verdicts
    assert v["C.apikey"].grade == FAILED
    assert (
        seen.replace("another", "a key other than the one given") in v["C.apikey"].findings[0].seen
    )
    # No session: the session rules say so instead of failing.
    assert v["C.end-of-stream"].grade == NOT_GRADED
    assert v["C.exit-0"].grade == NOT_GRADED


def test_no_end_of_stream_fails_once() -> None:
    s = session(texts=[], sent=[], client_closed_first=True, server_close_code=None)
    g = grades(run(sessions=[s], exit_code=1))
    assert [r for r, grade in g.items() if grade == FAILED] == ["C.end-of-stream"]
    assert g["C.waits-for-confirm"] == g["C.exit-0"] == g["C.shows-text"] == NOT_GRADED


@pytest.mark.parametrize(
    "texts",
    [
        [TextSeen(T0 + 2, "end-of-stream", 39, EOS)] * 2,
        [TextSeen(T0 + 2, "json", 10, '{"data": {"status": "end of stream"}}')],
    ],
)
def test_end_of_stream_exactly_once_and_nothing_else(texts: list[TextSeen]) -> None:
    assert grades(run(sessions=[session(texts=texts)]))["C.end-of-stream"] == FAILED


def test_a_key_a_client_sends_is_never_quoted() -> None:
    texts = [TextSeen(T0 + 2, "json", 40, f'{{"apikey": "{KEY}"}}'), *session().texts]
    v = grade_scenario(run(sessions=[session(texts=texts)]), OPTIONS).verdicts["C.end-of-stream"]
    assert v.grade == FAILED and KEY not in str(v.findings) and "apikey" in str(v.findings)


def test_closing_before_the_confirmation_fails_only_that() -> None:
    s = session()
    s.client_close_at = s.texts[0].at + 0.001
    s.client_closed_first = True
    g = grades(run(sessions=[s], stdout=""))
    assert [r for r, grade in g.items() if grade == FAILED] == ["C.waits-for-confirm"]
    assert g["C.close-1000"] == g["C.shows-text"] == g["C.exit-0"] == NOT_GRADED


@pytest.mark.parametrize(("code", "grade"), [(1000, OK), (1001, NON_STRICT), (1011, FAILED)])
def test_close_codes(code: int, grade: str) -> None:
    assert grades(run(sessions=[session(client_close_code=code)]))["C.close-1000"] == grade


def test_no_close_frame_fails() -> None:
    s = session(client_close_at=None, client_close_code=None)
    v = grade_scenario(run(sessions=[s]), OPTIONS).verdicts["C.close-1000"]
    assert v.grade == FAILED and "in answer to the server's" in v.findings[0].seen


def test_shows_text_through_terminal_rewrites() -> None:
    out = "\rword1\x1b[s\x1b[uword1 word2\n\x1b[s\x1b[u\x1b[36mword1 word2 word3\x1b[39m"
    assert find_in_order(out, ["word1 word2", "word1 word2 word3"]) is None
    assert find_in_order("word1 word2", ["word1 word2", "word1 word2 word3"]) == 1
    assert find_in_order("word1 word22", ["word1 word2"]) == 0  # whole words only
    assert visible_text("a\r\nb\x1b]0;title\x07c") == "a b c"


def test_shows_text_modes() -> None:
    missing = run(stdout="word1 word2\n")
    v = grade_scenario(missing, OPTIONS).verdicts["C.shows-text"]
    assert v.grade == FAILED and "final 2 of 2" in v.findings[0].seen
    assert grades(run(stdout=""))["C.shows-text"] == NOT_GRADED
    yes = GradeOptions(AUDIO, shows_text="yes")
    assert grades(run(stdout=""), yes)["C.shows-text"] == FAILED
    assert grades(run(stdout="", stderr="word1 word2 word1 word2 word3"), yes)["C.shows-text"] == OK


def test_a_killed_client_fails_only_ends_in_time() -> None:
    s = session(client_close_at=None, client_close_code=None, server_close_code=None)
    s.sent = s.sent[:2]  # never confirmed
    g = grades(run("never-confirm", sessions=[s], exit_code=None))
    assert g == {"C.ends-in-time": FAILED, "C.exit-nonzero": NOT_GRADED}


def test_exit_codes() -> None:
    assert grades(run(exit_code=1))["C.exit-0"] == FAILED
    assert grades(run("error-close", exit_code=0))["C.exit-nonzero"] == FAILED
    assert grades(run("error-close", exit_code=1))["C.exit-nonzero"] == OK


def test_retries_of_a_refused_key() -> None:
    def tries(*times: float) -> dict[str, str]:
        hs = [handshake(at=t, status=401, valid=False) for t in times]
        return grades(run("refused-key", sessions=[], handshakes=hs, exit_code=1))

    assert tries(T0)["C.no-tight-retry"] == OK
    assert tries(T0, T0 + 2)["C.no-tight-retry"] == NON_STRICT
    assert tries(T0, T0 + 0.1, T0 + 0.2)["C.no-tight-retry"] == FAILED


def test_a_client_that_never_connects_cannot_be_graded() -> None:
    g = grade_scenario(run(sessions=[], exit_code=127, stderr=f"no such file {KEY}"), OPTIONS)
    assert not g.verdicts and "never connected" in g.error
    assert "no such file" in g.error and KEY not in g.error
    wrong_path = grade_scenario(run(sessions=[], handshakes=[handshake(status=404)]), OPTIONS)
    assert "HTTP 404" in wrong_path.error


def test_a_rule_counts_in_the_first_scenario_that_fails_it() -> None:
    runs = {
        "stall-mid-stream": run("stall-mid-stream", exit_code=None),
        "never-confirm": run("never-confirm", exit_code=None),
    }
    scenarios = [BY_NAME[n] for n in runs]
    g = grade_all(runs, scenarios, OPTIONS)
    assert g["stall-mid-stream"].verdicts["C.ends-in-time"].grade == FAILED
    assert (
        "also fails in the never-confirm scenario"
        in g["stall-mid-stream"].verdicts["C.ends-in-time"].context
    )
    assert g["never-confirm"].verdicts["C.ends-in-time"].grade == NOT_GRADED


def test_tolerant_is_graded_against_the_normal_session() -> None:
    crash = run("unexpected-fields", exit_code=1)
    alone = grade_all({"unexpected-fields": crash}, [BY_NAME["unexpected-fields"]], OPTIONS)
    tolerant = alone["unexpected-fields"].verdicts["C.tolerant"]
    assert tolerant.grade == FAILED and tolerant.findings[0].seen.startswith("C.exit-0")
    both = {"normal": run(exit_code=1), "unexpected-fields": crash}
    g = grade_all(both, [BY_NAME["normal"], BY_NAME["unexpected-fields"]], OPTIONS)
    assert g["normal"].verdicts["C.exit-0"].grade == FAILED
    assert g["unexpected-fields"].verdicts["C.tolerant"].grade == NOT_GRADED


def test_placeholders_are_filled_as_plain_text() -> None:
    values = {"{url}": "ws://h/asrx", "{apikey}": "k"}
    assert fill(["c", "--url={url}", '{"a": 1}', "{apikey}"], values) == [
        "c",
        "--url=ws://h/asrx",
        '{"a": 1}',
        "k",
    ]
    assert shown_command(["asrx", "stream", "{audio}", "two words"]) == (
        "asrx stream {audio} 'two words'"
    )
