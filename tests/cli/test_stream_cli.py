"""``asrx stream`` end to end, run as the installed command against a real server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from harness.cli.main import build_parser, main
from harness.server.embedded import EmbeddedServer
from tests.conftest import APIKEY, TWO_SENTENCES, asrx_exe, faulty_server, run_asrx

KEY_ENV = {"ASRX_APIKEY": APIKEY}


def one_error_line(stderr: str, *needles: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, f"expected one line on stderr, got: {stderr!r}"
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


def test_two_sentence_file_prints_both_sentences_and_latencies(
    reference_server: EmbeddedServer,
) -> None:
    r = run_asrx(
        "stream", str(TWO_SENTENCES), "--url", reference_server.url, "--speed", "4", env=KEY_ENV
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    sentences = [ln for ln in lines if ln.startswith("word1")]
    assert len(sentences) == 2, r.stdout
    assert "sentences                  2 (speech segments: 2" in r.stdout
    first = next(ln for ln in lines if "first partial latency" in ln)
    final = next(ln for ln in lines if "sentence latency" in ln)
    assert "#1" in first and "#2" in first and "#2" in final and " - " not in final, r.stdout
    assert "close latency" in r.stdout
    assert APIKEY not in r.stdout + r.stderr


def test_json_output_parses_line_by_line(reference_server: EmbeddedServer) -> None:
    r = run_asrx(
        "stream",
        str(TWO_SENTENCES),
        "--url",
        reference_server.url,
        "--speed",
        "4",
        "--json",
        env=KEY_ENV,
    )
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[-3:] == ["confirmed", "closed", "summary"]
    assert {e["sentence"] for e in events if e["event"] == "transcript"} == {0, 1}
    summary = events[-1]
    assert len(summary["sentences"]) == 2
    assert len(summary["sentence_ms"]) == 2 and all(v > 0 for v in summary["sentence_ms"])
    assert summary["harness_saturated"] is False


def test_key_from_option_is_never_printed(reference_server: EmbeddedServer) -> None:
    r = run_asrx(
        "stream",
        str(TWO_SENTENCES),
        "--url",
        reference_server.url,
        "--apikey",
        APIKEY,
        "--speed",
        "8",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    assert APIKEY not in r.stdout + r.stderr


# -- bad input -------------------------------------------------------------------------
URL = "ws://127.0.0.1:9/asrx"  # never contacted: these fail before connecting


def test_missing_file() -> None:
    r = run_asrx("stream", "/nonexistent/a.wav", "--url", URL, env=KEY_ENV)
    assert r.returncode == 2
    one_error_line(r.stderr, "no such file")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "e.pcm").write_bytes(b"")
    r = run_asrx("stream", str(tmp_path / "e.pcm"), "--url", URL, env=KEY_ENV)
    assert r.returncode == 2
    one_error_line(r.stderr, "file is empty")


def test_undecodable_file(tmp_path: Path) -> None:
    (tmp_path / "x.wav").write_bytes(b"RIFF\x00\x00garbage" * 10)
    r = run_asrx("stream", str(tmp_path / "x.wav"), "--url", URL, env=KEY_ENV)
    assert r.returncode == 2
    one_error_line(r.stderr, "cannot decode audio")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    r = run_asrx("stream", str(tmp_path), "--url", URL, env=KEY_ENV)
    assert r.returncode == 2
    one_error_line(r.stderr, "is a directory")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to take another uid for the check")
def test_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "secret.pcm"
    f.write_bytes(b"\0" * 64)
    f.chmod(0)
    build_parser()  # import every module first: 'nobody' cannot read this Python's stdlib
    os.seteuid(65534)  # root reads anything; as 'nobody' the permission bits apply
    try:
        code = main(["stream", str(f), "--url", URL])
    finally:
        os.seteuid(0)
    assert code == 2
    one_error_line(capsys.readouterr().err, "cannot read", "Permission denied")


def test_odd_length_raw_pcm(tmp_path: Path) -> None:
    (tmp_path / "odd.pcm").write_bytes(b"\0" * 5)
    r = run_asrx("stream", str(tmp_path / "odd.pcm"), "--url", URL, env=KEY_ENV)
    assert r.returncode == 2
    one_error_line(r.stderr, "not a whole number")


@pytest.mark.parametrize("url", ["http://127.0.0.1/asrx", "127.0.0.1:8080", "ws://"])
def test_url_that_is_not_ws(url: str) -> None:
    r = run_asrx("stream", str(TWO_SENTENCES), "--url", url, env=KEY_ENV)
    assert r.returncode == 2
    one_error_line(r.stderr, "URL")


def test_no_url() -> None:
    r = run_asrx("stream", str(TWO_SENTENCES), env=KEY_ENV)
    assert r.returncode == 2
    one_error_line(r.stderr, "ASRX_URL")


def test_bad_option_value() -> None:
    r = run_asrx("stream", str(TWO_SENTENCES), "--url", URL, "--frame-bytes", "1023")
    assert r.returncode == 2
    one_error_line(r.stderr, "--frame-bytes")


def test_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: the connect is refused
        r = run_asrx(
            "stream", str(TWO_SENTENCES), "--url", f"ws://127.0.0.1:{port}/asrx", env=KEY_ENV
        )
    assert r.returncode == 1
    one_error_line(r.stderr, "connection refused")


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")
def test_unknown_host() -> None:
    # In an empty network namespace the name lookup fails at once and nothing leaves the machine.
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot create a network namespace here")
    r = run_asrx(
        "stream",
        str(TWO_SENTENCES),
        "--url",
        "ws://no-such-host.invalid/asrx",
        env=KEY_ENV,
        prefix=["unshare", "-n"],
    )
    assert r.returncode == 1
    one_error_line(r.stderr, "unknown host no-such-host.invalid")


def test_handshake_refused_prints_http_status(reference_server: EmbeddedServer) -> None:
    r = run_asrx(
        "stream", str(TWO_SENTENCES), "--url", reference_server.url, env={"ASRX_APIKEY": "wrong"}
    )
    assert r.returncode == 1
    one_error_line(r.stderr, "HTTP 401")
    assert "wrong" not in r.stderr


def test_tls_failure_and_success_with_ca_file(tls_files: tuple[Path, Path, Path]) -> None:
    ca_file, cert_file, key_file = tls_files
    with EmbeddedServer(apikeys=[APIKEY], tls_cert=str(cert_file), tls_key=str(key_file)) as server:
        assert server.url.startswith("wss://")
        bad = run_asrx("stream", str(TWO_SENTENCES), "--url", server.url, env=KEY_ENV)
        good = run_asrx(
            "stream",
            str(TWO_SENTENCES),
            "--url",
            server.url,
            "--ca-file",
            str(ca_file),
            "--speed",
            "8",
            env=KEY_ENV,
        )
    assert bad.returncode == 1
    one_error_line(bad.stderr, "TLS failure", "certificate verify failed")
    assert good.returncode == 0, good.stderr


def test_no_confirmation_within_timeout() -> None:
    with faulty_server("never-confirm") as server:
        r = run_asrx(
            "stream",
            str(TWO_SENTENCES),
            "--url",
            server.url,
            "--speed",
            "8",
            "--timeout-scale",
            "0.1",
            env=KEY_ENV,
        )
    assert r.returncode == 1
    *findings, error = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in r.stderr
    assert error == "asrx stream: error: timed out after 1 s waiting for the close confirmation"
    # The rules the missing confirmation breaks, as every client of the core names them.
    assert [f.split(":")[1].strip() for f in findings] == ["§4.confirm", "§4.close-in-time"]
    assert "summary" in r.stdout  # what arrived is still shown


def test_ctrl_c_stops_cleanly_and_keeps_the_transcript(reference_server: EmbeddedServer) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASRX_")} | KEY_ENV
    proc = subprocess.Popen(
        [*asrx_exe(), "stream", str(TWO_SENTENCES), "--url", reference_server.url],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(3.0)  # into the first sentence
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "asrx stream: interrupted"
    assert "summary" in out and "word1" in out


def test_mic_without_sounddevice_or_portaudio() -> None:
    try:
        import sounddevice  # noqa: F401
    except ImportError:
        hint = "pip install 'asrx-harness[mic]'"
    except OSError:
        hint = "needs PortAudio"
    else:
        pytest.skip("sounddevice and PortAudio are installed: no install hint to show")
    r = run_asrx("stream", "--mic", "--url", URL, env=KEY_ENV)
    assert r.returncode == 2
    one_error_line(r.stderr, hint)


def test_corpus_utterance_uses_manifest_segments_and_scores(
    reference_server: EmbeddedServer,
) -> None:
    corpus = Path(__file__).resolve().parents[2] / "harness" / "corpora" / "en-synth"
    r = run_asrx(
        "stream",
        "en-multi-01",
        "--corpus",
        str(corpus),
        "--url",
        reference_server.url,
        "--speed",
        "8",
        "--json",
        env=KEY_ENV,
    )
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.splitlines()[-1])
    assert summary["segments_from"].startswith("from the manifest")
    assert summary["speech_segments"] == 2
    acc = summary["accuracy"]
    assert acc["metric"] == "wer" and acc["units"] == 8 and acc["rate"] > 0  # placeholder words


def test_ref_text_scores_the_transcript(reference_server: EmbeddedServer) -> None:
    r = run_asrx(
        "stream",
        str(TWO_SENTENCES),
        "--url",
        reference_server.url,
        "--speed",
        "8",
        "--ref",
        "word1 word2 word3",
        env=KEY_ENV,
    )
    assert r.returncode == 0, r.stderr
    assert "accuracy                   WER" in r.stdout


def test_unknown_corpus_utterance(tmp_path: Path) -> None:
    corpus = Path(__file__).resolve().parents[2] / "harness" / "corpora" / "en-synth"
    r = run_asrx("stream", "nope", "--corpus", str(corpus), "--url", URL, env=KEY_ENV)
    assert r.returncode == 2
    one_error_line(r.stderr, "neither an utterance id nor an audio file")
