"""The reference server's side of client grading: ``--record-clients`` writes what clients
did (and never their key), and each ``--hazard`` behaves as it says, lawfully."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from harness.corpus import default_corpus_dir, load_corpus
from harness.protocol.dialect import DEFAULT_DIALECT
from harness.protocol.events import Finding, Transcript
from harness.protocol.messages import parse_server_message
from harness.server import faults as F
from harness.server.clientlog import ClientRecords, read_log
from harness.server.embedded import EmbeddedServer
from tests.server.streaming import EOS, Received, open_session, read_all, run

KEY = "record-test-key-a71c9e"  # distinctive, so a leak shows up in the records
SESSION_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def speech() -> bytes:
    return load_corpus(default_corpus_dir("en")).get("en-single-04").pcm()


def recorded(tmp_path: Path, *extra: str) -> tuple[EmbeddedServer, Path]:
    log = tmp_path / "clients.jsonl"
    server = EmbeddedServer(apikeys=[KEY], extra_args=["--record-clients", str(log), *extra])
    return server, log


async def refused(url: str, headers: list[tuple[str, str]]) -> int:
    with pytest.raises(InvalidStatus) as info:
        await connect(url, additional_headers=headers, open_timeout=10)
    return info.value.response.status_code


def records_of(server: EmbeddedServer, log: Path) -> ClientRecords:
    server.close()  # the records are complete once the server has stopped
    assert KEY not in log.read_text(encoding="utf-8")
    return read_log(log)


def test_a_session_and_refused_handshakes_are_recorded(tmp_path: Path, speech: bytes) -> None:
    server, log = recorded(tmp_path)
    with server:

        async def session() -> Received:
            async with asyncio.timeout(SESSION_TIMEOUT_S):
                ws = await open_session(server.url, KEY, user_agent_header="grader-test/1")
                for size in (1024, 1023, 2048):
                    await ws.send(speech[:size])
                await ws.send("not json")
                await ws.send('{"hello": 1}')
                await ws.send(EOS)
                await ws.send(b"\0\0")  # audio after the end-of-stream
                got = await read_all(ws, Received())
                await ws.close()
                return got

        got = run(session())
        assert got.confirmed and got.close_code == 1000
        assert run(refused(server.url + "?apikey=x", [])) == 401
        assert run(refused(server.url, [("apikey", KEY), ("apikey", KEY)])) == 401
        records = records_of(server, log)

    query, twice = records.handshakes
    assert (query.status, query.key_headers, query.key_in_query) == (401, 0, True)
    assert (twice.key_headers, twice.key_valid, twice.key_in_query) == (2, False, False)
    (s,) = records.sessions
    assert (s.handshake.status, s.handshake.key_valid) == (101, True)
    assert s.handshake.user_agent == "grader-test/1"
    sent = speech[:1024] + speech[:1023] + speech[:2048] + b"\0\0"
    assert [int(size) for _, size in s.frames] == [1024, 1023, 2048, 2]
    assert s.audio_bytes == len(sent) and s.audio_sha256 == hashlib.sha256(sent).hexdigest()
    assert [t.kind for t in s.texts] == ["not-json", "json", "end-of-stream"]
    assert s.audio_after_eos == 1
    assert [x.kind for x in s.sent][-1] == "confirmation"
    assert s.confirmed_at is not None and s.end_of_stream_at is not None
    assert s.confirmed_at > s.end_of_stream_at
    # The server closed first after confirming; the client answered 1000.
    assert (s.client_close_code, s.client_closed_first, s.server_close_code) == (1000, False, 1000)
    assert s.client_close_at is not None and s.ended_at >= s.client_close_at
    assert records.attempts == sorted([query, twice, s.handshake], key=lambda h: h.at)


def test_who_closed_first_and_a_dropped_connection(tmp_path: Path, speech: bytes) -> None:
    server, log = recorded(tmp_path)
    with server:

        async def leave(drop: bool) -> None:
            ws = await open_session(server.url, KEY)
            await ws.send(speech[:1024])
            await asyncio.sleep(0.2)  # the server has read the frame
            if drop:
                ws.transport.abort()
            else:
                await ws.close(1001, "going away")

        run(leave(drop=False))
        run(leave(drop=True))
        records = records_of(server, log)
    closed, dropped = records.sessions
    assert (closed.client_close_code, closed.client_close_reason) == (1001, "going away")
    assert closed.client_closed_first
    assert dropped.client_close_code is None and dropped.server_close_code is None
    assert dropped.ended_at > dropped.handshake.at


def test_unexpected_fields_are_lawful_and_unexpected(speech: bytes) -> None:
    with EmbeddedServer(apikeys=[KEY], extra_args=["--hazard", "unexpected-fields"]) as server:
        got = run(asyncio.wait_for(_stream(server.url, speech), SESSION_TIMEOUT_S))
    assert got.confirmed and got.close_code == 1000
    transcripts = [m for m in got.messages if m["text"] != DEFAULT_DIALECT.confirmation_text]
    assert {m["state"] for m in transcripts} == {"NewSentence", F.PARTIAL_STATE, F.FINAL_STATE}
    assert all(m["meta"] == F.EXTRA_FIELDS["meta"] for m in transcripts)
    events = [e for frame in got.frames for e in parse_server_message(frame, DEFAULT_DIALECT)]
    assert not [e for e in events if isinstance(e, Finding)]  # the schema allows all of it
    assert any(isinstance(e, Transcript) and e.new_sentence for e in events)


def test_error_close_mid_stream(speech: bytes) -> None:
    with EmbeddedServer(apikeys=[KEY], extra_args=["--hazard", "error-close-mid-stream"]) as s:
        got = run(asyncio.wait_for(_stream(s.url, speech), SESSION_TIMEOUT_S))
    assert (got.close_code, got.close_reason) == (F.ERROR_CLOSE_CODE, F.ERROR_CLOSE_REASON)
    assert len(got.transcripts) == 1 and not got.confirmed


async def _stream(url: str, pcm: bytes) -> Received:
    """Real-time audio, so the close comes mid-stream; end-of-stream; read to the close."""
    ws = await open_session(url, KEY)

    async def send() -> None:
        for i in range(0, len(pcm), 2048):
            await ws.send(pcm[i : i + 2048])
            await asyncio.sleep(0.064)
        await ws.send(EOS)

    sender = asyncio.create_task(send())
    got = await read_all(ws, Received())
    sender.cancel()
    await asyncio.gather(sender, return_exceptions=True)
    return got


def test_each_hazard_changes_the_policy_its_own_way_only() -> None:
    reference = F.FaultPolicy()
    by_fault = {
        f.name
        for name in F.FAULTS
        for f in fields(reference)
        if getattr(F.FaultPolicy.from_names([name]), f.name) != getattr(reference, f.name)
    }
    for name in F.HAZARDS:
        policy = F.FaultPolicy.from_names([name])
        changed = {
            f.name for f in fields(policy) if getattr(policy, f.name) != getattr(reference, f.name)
        }
        assert len(changed) == 1 and not changed & by_fault, (name, changed)
    assert not set(F.HAZARDS) & set(F.FAULTS)


def test_list_hazards_and_a_bad_name() -> None:
    cmd = [sys.executable, "-m", "harness.server"]
    out = subprocess.run([*cmd, "--list-hazards"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    assert [line.split()[0] for line in out.stdout.splitlines()] == list(F.HAZARDS)
    bad = subprocess.run(
        [*cmd, "--hazard", "nope", "--no-auth"], capture_output=True, text=True, timeout=30
    )
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "asrx serve: error: unknown hazard(s): nope (see 'asrx serve --list-hazards')"
    )


def test_the_records_read_back_whatever_the_last_line(tmp_path: Path) -> None:
    log = tmp_path / "cut.jsonl"
    log.write_text(json.dumps({"kind": "handshakes-not-kept", "count": 3}) + '\n{"kind": "ses')
    records = read_log(log)
    assert (records.handshakes_not_kept, records.unreadable) == (3, 1)
