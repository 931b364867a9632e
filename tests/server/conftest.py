"""Fixtures for the reference server's tests: speech made with espeak-ng, servers as
real subprocesses on 127.0.0.1 port 0 (``EmbeddedServer``)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.audio.convert import read_pcm16k
from harness.protocol.audio import BYTES_PER_MS
from harness.server.embedded import EmbeddedServer

KEY = "srv-test-key-8c3f1d"  # distinctive, so a leak shows up in any output
SENTENCE_1 = "good morning everyone"
SENTENCE_2 = "please call me tomorrow"
ESPEAK_TIMEOUT_S = 30


def silence(ms: int) -> bytes:
    return b"\0" * (ms * BYTES_PER_MS)


def _speak(text: str, out: Path) -> bytes:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    wav = out / (text.replace(" ", "_") + ".wav")
    subprocess.run(
        ["espeak-ng", "-v", "en-us+f2", "-s", "130", "-w", str(wav), text],
        check=True,
        timeout=ESPEAK_TIMEOUT_S,
        capture_output=True,
    )
    return read_pcm16k(wav)


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("speech")


@pytest.fixture(scope="session")
def one_sentence(speech_dir: Path) -> bytes:
    """~1.5 s of espeak-ng speech between silences: one sentence."""
    return silence(500) + _speak(SENTENCE_1, speech_dir) + silence(300)


@pytest.fixture(scope="session")
def two_sentence_pcm(speech_dir: Path) -> bytes:
    """Two spoken sentences separated by 1.5 s of silence (well above the 600 ms pause)."""
    return (
        silence(500)
        + _speak(SENTENCE_1, speech_dir)
        + silence(1500)
        + _speak(SENTENCE_2, speech_dir)
        + silence(300)
    )


@pytest.fixture(scope="session")
def synthetic_server() -> Iterator[EmbeddedServer]:
    """One shared well-behaved synthetic-engine server."""
    with EmbeddedServer(engine="synthetic", apikeys=[KEY]) as server:
        yield server
