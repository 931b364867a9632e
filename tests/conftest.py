from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.server.embedded import EmbeddedServer

DATA = Path(__file__).parent / "data"
TWO_SENTENCES = DATA / "two-sentences.flac"
APIKEY = "test-key-5b1e"  # distinctive, so a leak shows up in any output


@pytest.fixture(scope="session")
def reference_server() -> Iterator[EmbeddedServer]:
    """One well-behaved reference server (synthetic engine) shared by the client tests."""
    with EmbeddedServer(engine="synthetic", apikeys=[APIKEY]) as server:
        yield server


def faulty_server(*faults: str, **kwargs: object) -> EmbeddedServer:
    """A reference server with deliberate protocol defects (``asrx serve --list-faults``)."""
    return EmbeddedServer(engine="synthetic", apikeys=[APIKEY], faults=faults, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def two_sentences() -> Path:
    return TWO_SENTENCES


def asrx_exe() -> list[str]:
    exe = shutil.which("asrx", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "harness.cli.main"]


def run_asrx(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    prefix: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``asrx`` command as a user would, with a timeout."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ASRX_")}
    full_env.update(env or {})
    return subprocess.run(
        [*(prefix or []), *asrx_exe(), *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for localhost / 127.0.0.1 (trustme):
    ``(ca_file, cert_chain_file, key_file)``."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    return ca_file, cert_file, key_file
