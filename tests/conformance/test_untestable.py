"""A run that cannot test is an ERROR in every artefact, never an empty green report.

Against an unreachable port, a refused key (401), a plain HTTP server (not a WebSocket) and
a TLS failure, the suite exits 2 at once; the console, the JUnit XML (a test case with an
``<error>`` element, not ``tests="0"``), the HTML banner and the JSON result all say ERROR
with the cause, and the console says where each report was written.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from harness.server.embedded import EmbeddedServer
from tests.conformance.suiterun import run_with_artefacts

KEY = "untestable-key-5e81a2"


class _Hello(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = b"hello, this is not a WebSocket\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def plain_http() -> Iterator[int]:
    """A plain HTTP server on a free loopback port; yields the port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def assert_error_everywhere(out_dir: Path, url: str, key: str, cause: str) -> None:
    started = time.monotonic()
    out = run_with_artefacts(out_dir, "--asrx-url", url, env={"ASRX_APIKEY": key}, cwd=out_dir)
    assert time.monotonic() - started < 60
    console = out.console
    assert out.proc.returncode == 2, console[-3000:]
    assert f"cannot test {url}" in console and cause in console, console[-3000:]
    assert "verdict: ERROR" in console and "Traceback" not in console
    assert "During handling" not in console
    for kind in ("HTML report", "JSON result", "JUnit XML"):
        assert f"{kind}: {out_dir}" in console, kind
    errors = [c.find("error") for c in out.junit_cases()]
    assert len(errors) == 1 and errors[0] is not None, out.junit
    assert cause in (errors[0].get("message") or "")
    assert 'tests="0"' not in out.junit
    assert '<div class="v">ERROR</div>' in out.html and cause in out.html
    assert out.result["verdict"] == "ERROR" and cause in out.result["error"]
    assert key not in out.everything()


def test_unreachable(tmp_path: Path) -> None:
    port = closed_port()
    assert_error_everywhere(tmp_path, f"ws://127.0.0.1:{port}/asrx", KEY, "connection refused")


def test_wrong_key(tmp_path: Path) -> None:
    with EmbeddedServer(engine="synthetic", apikeys=(KEY,)) as server:
        assert_error_everywhere(tmp_path, server.url, "not-the-key-9f3c", "HTTP 401")


def test_not_a_websocket(tmp_path: Path) -> None:
    with plain_http() as port:
        assert_error_everywhere(tmp_path, f"ws://127.0.0.1:{port}/asrx", KEY, "HTTP 200")


def test_tls_failure(tmp_path: Path) -> None:
    with plain_http() as port:
        assert_error_everywhere(tmp_path, f"wss://127.0.0.1:{port}/asrx", KEY, "TLS failure")


def test_nothing_run_is_not_green(tmp_path: Path) -> None:
    """Every selected check skipped (wss asked of a ws:// target): nothing was tested, so
    the verdict is ERROR and the exit code 2, not a pass."""
    with EmbeddedServer(engine="synthetic", apikeys=(KEY,)) as server:
        out = run_with_artefacts(
            tmp_path,
            "--asrx-url",
            server.url,
            "-k",
            "test_handshake_wss",
            env={"ASRX_APIKEY": KEY},
        )
    assert out.proc.returncode == 2, out.console[-2000:]
    assert out.result["verdict"] == "ERROR" and "no check" in out.result["error"]
