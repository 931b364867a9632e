"""Handshake policy: auth (401), paths (404), /healthz, /metrics, the session cap (503), TLS."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus

from harness.server.embedded import EmbeddedServer
from tests.server.conftest import KEY, silence
from tests.server.streaming import http_get, metric, open_session, run, stream, wait_metric


def handshake_status(url: str, key: str | None, **kwargs: object) -> int:
    async def attempt() -> int:
        try:
            ws = await open_session(url, key, **kwargs)
        except InvalidStatus as exc:
            return exc.response.status_code
        await ws.close()
        return 101

    return int(run(attempt()))


@pytest.mark.parametrize(
    ("key", "reason"), [(None, "missing_key"), ("", "missing_key"), ("wrong", "bad_key")]
)
def test_bad_key_gets_401(synthetic_server: EmbeddedServer, key: str | None, reason: str) -> None:
    before = metric(synthetic_server.http_url, "asrx_handshakes_refused_total", {"reason": reason})
    assert handshake_status(synthetic_server.url, key) == 401
    after = metric(synthetic_server.http_url, "asrx_handshakes_refused_total", {"reason": reason})
    assert after == before + 1


def test_good_key_gets_101(synthetic_server: EmbeddedServer) -> None:
    assert handshake_status(synthetic_server.url, KEY) == 101


def test_key_prefix_is_not_enough(synthetic_server: EmbeddedServer) -> None:
    assert handshake_status(synthetic_server.url, KEY[:-1]) == 401
    assert handshake_status(synthetic_server.url, KEY + "x") == 401


def test_key_never_logged(one_sentence: bytes) -> None:
    with EmbeddedServer(apikeys=[KEY]) as server:
        run(stream(server.url, KEY, one_sentence))
        handshake_status(server.url, "wrong-" + KEY)
        wait_metric(server.http_url, "asrx_active_sessions", 0)
        server.stop()
        logs = server.stderr_text()
    assert '"session_end"' in logs
    assert KEY not in logs


def test_key_not_on_command_line() -> None:
    with EmbeddedServer(apikeys=[KEY]) as server:
        cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes().decode()
        assert KEY not in cmdline


def test_apikey_file_and_no_auth(tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("# team keys\nfile-key-1\n\nfile-key-2\n")
    with EmbeddedServer(apikeys=[], extra_args=["--apikey-file", str(keys)]) as server:
        assert handshake_status(server.url, "file-key-2") == 101
        assert handshake_status(server.url, "team keys") == 401
    with EmbeddedServer(apikeys=[], no_auth=True) as server:
        assert handshake_status(server.url, None) == 101
        assert "auth_disabled" in server.stderr_text()


def test_other_paths_404(synthetic_server: EmbeddedServer) -> None:
    base = synthetic_server.url.rsplit("/", 1)[0]
    assert handshake_status(base + "/other", KEY) == 404
    assert handshake_status(base + "/", KEY) == 404
    assert http_get(synthetic_server.http_url + "/nope")[0] == 404


def test_configurable_path() -> None:
    with EmbeddedServer(apikeys=[KEY], extra_args=["--path", "/v2/stream"]) as server:
        assert server.url.endswith("/v2/stream")
        assert handshake_status(server.url, KEY) == 101
        assert handshake_status(server.url.replace("/v2/stream", "/asrx"), KEY) == 404


def test_healthz(synthetic_server: EmbeddedServer) -> None:
    status, _, body = http_get(synthetic_server.http_url + "/healthz")
    assert (status, body.strip()) == (200, "ok")


def test_metrics_content(synthetic_server: EmbeddedServer, one_sentence: bytes) -> None:
    run(stream(synthetic_server.url, KEY, one_sentence))
    status, ctype, body = http_get(synthetic_server.http_url + "/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    for name in (
        "asrx_active_sessions",
        "asrx_audio_seconds_total",
        "asrx_decode_real_time_factor",
        "asrx_decoder_lag_seconds_bucket",
        "asrx_handshakes_refused_total",
        "asrx_sessions_total",
    ):
        assert name in body, name
    assert (
        metric(synthetic_server.http_url, "asrx_audio_seconds_total") >= len(one_sentence) / 32000
    )


def test_session_cap_gives_503() -> None:
    async def one_over_the_cap(url: str) -> int:
        held = [await open_session(url, KEY) for _ in range(2)]
        try:
            ws = await open_session(url, KEY)
        except InvalidStatus as exc:
            return exc.response.status_code
        finally:
            for h in held:
                await h.close()
        await ws.close()
        return 101

    with EmbeddedServer(apikeys=[KEY], extra_args=["--max-sessions", "2"]) as server:
        assert run(one_over_the_cap(server.url)) == 503
        assert (
            metric(server.http_url, "asrx_handshakes_refused_total", {"reason": "overloaded"}) == 1
        )
        wait_metric(server.http_url, "asrx_active_sessions", 0)
        assert handshake_status(server.url, KEY) == 101, "slots come back when sessions end"


def test_tls_with_trustme(tmp_path: Path, one_sentence: bytes) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_pem, key_pem = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_pem))
    cert.private_key_pem.write_to_path(str(key_pem))
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    with EmbeddedServer(apikeys=[KEY], tls_cert=str(cert_pem), tls_key=str(key_pem)) as server:
        assert server.url.startswith("wss://") and server.http_url.startswith("https://")
        got = run(stream(server.url, KEY, one_sentence, ssl=client_ctx))
        assert got.confirmed and got.close_code == 1000 and got.texts
        status, _, _ = http_get(server.http_url + "/healthz", context=client_ctx)
        assert status == 200
        untrusted = ssl.create_default_context()  # without the test CA: must fail
        with pytest.raises(ssl.SSLCertVerificationError):
            run(asyncio.wait_for(open_session(server.url, KEY, ssl=untrusted), 10))


def test_ready_line_and_list_faults() -> None:
    import subprocess
    import sys

    from harness.server.faults import FAULTS

    out = subprocess.run(
        [sys.executable, "-m", "harness.server", "--list-faults"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0
    assert [line.split()[0] for line in out.stdout.splitlines()] == list(FAULTS)
    with EmbeddedServer(apikeys=[KEY]) as server:
        assert server.url.startswith("ws://127.0.0.1:") and server.url.endswith("/asrx")
        assert server.process is not None and server.process.pid == server.pid


def test_embedded_server_reports_startup_failure() -> None:
    from harness.server.embedded import EmbeddedServerError

    with pytest.raises(EmbeddedServerError, match="unknown fault"):
        EmbeddedServer(apikeys=[KEY], faults=["no-such-fault"]).start()


def test_silence_session_counts_audio(synthetic_server: EmbeddedServer) -> None:
    before = metric(synthetic_server.http_url, "asrx_audio_seconds_total")
    run(stream(synthetic_server.url, KEY, silence(1000)))
    after = metric(synthetic_server.http_url, "asrx_audio_seconds_total")
    assert after - before == pytest.approx(1.0)


def test_failed_upgrade_gives_its_slot_back() -> None:
    import urllib.request

    with EmbeddedServer(apikeys=[KEY], extra_args=["--max-sessions", "1"]) as server:
        plain = urllib.request.Request(
            server.url.replace("ws://", "http://"), headers={"apikey": KEY}
        )
        assert http_get_request(plain) == 426  # a plain GET on /asrx: no upgrade
        assert handshake_status(server.url, KEY) == 101, "the failed upgrade kept its slot"


def http_get_request(request: object) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(request, timeout=5) as resp:  # type: ignore[arg-type]
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
