"""Each ``--fault`` is present: the server commits exactly the defect it names."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import pytest
from websockets.exceptions import ConnectionClosed

from harness.server.embedded import EmbeddedServer
from harness.server.faults import FAULTS
from tests.server.conftest import KEY, silence
from tests.server.streaming import CONFIRM, EOS, Received, open_session, run

#: How long a check waits for something a faulty server never does.
NEVER_S = 2.5


async def collect(
    url: str,
    pcm: bytes,
    *,
    key: str = KEY,
    frame_bytes: int = 2048,
    before: tuple[str, ...] = (),
    end: bool = True,
    wait_s: float = NEVER_S,
) -> Received:
    """Send ``before`` text frames, the audio, end-of-stream; read until the server closes
    or ``wait_s`` passes after the last send (``close_code`` None: still open)."""
    got = Received(started=time.monotonic())
    ws = await asyncio.wait_for(open_session(url, key), 10)
    try:
        for frame in before:
            await ws.send(frame)
        for i in range(0, len(pcm), frame_bytes):
            await ws.send(pcm[i : i + frame_bytes])
        if end:
            await ws.send(EOS)
    except ConnectionClosed:
        pass
    try:
        async with asyncio.timeout(wait_s):
            async for frame in ws:
                got.frames.append(frame)
                got.times.append(time.monotonic())
    except TimeoutError:
        await ws.close()
        return got
    except ConnectionClosed:
        pass
    got.close_code = ws.close_code
    got.close_reason = ws.close_reason or ""
    return got


def parsed(got: Received) -> list[object]:
    out: list[object] = []
    for f in got.frames:
        try:
            out.append(json.loads(f))
        except ValueError:
            out.append(f)
    return out


def index_of_confirm(got: Received) -> int:
    return next(i for i, m in enumerate(got.messages) if m.get("text") == CONFIRM)


Check = Callable[[EmbeddedServer, bytes], None]


def check_accept_any_key(server: EmbeddedServer, pcm: bytes) -> None:
    got = run(collect(server.url, pcm, key="not-the-key"))
    assert got.texts and got.confirmed


def check_bad_key_close_late(server: EmbeddedServer, pcm: bytes) -> None:
    t0 = time.monotonic()
    got = run(collect(server.url, silence(200), key="not-the-key", end=False, wait_s=6))
    assert got.close_code == 1008 and time.monotonic() - t0 > 2.0


def check_never_confirm(server: EmbeddedServer, pcm: bytes) -> None:
    got = run(collect(server.url, pcm))
    assert got.texts and not got.confirmed and got.close_code is None


def check_confirm_never_close(server: EmbeddedServer, pcm: bytes) -> None:
    got = run(collect(server.url, pcm))
    assert got.confirmed and got.close_code is None


def check_transcript_after_confirm(server: EmbeddedServer, pcm: bytes) -> None:
    got = run(collect(server.url, pcm))
    assert index_of_confirm(got) < len(got.messages) - 1


def check_final_after_confirm(server: EmbeddedServer, pcm: bytes) -> None:
    got = run(collect(server.url, pcm))
    after = got.messages[index_of_confirm(got) + 1 :]
    assert any(m.get("final") for m in after)


def check_text_not_string(server: EmbeddedServer, pcm: bytes) -> None:
    got = run(collect(server.url, pcm))
    assert any(not isinstance(m.get("text"), str) for m in got.messages)


def check_state_missing(server: EmbeddedServer, pcm: bytes) -> None:
    got = run(collect(server.url, pcm))
    assert any("state" not in m for m in got.messages)


def check_binary_reply(server: EmbeddedServer, pcm: bytes) -> None:
    got = run(collect(server.url, pcm))
    assert any(isinstance(f, bytes) for f in got.frames)


def check_non_json_reply(server: EmbeddedServer, pcm: bytes) -> None:
    got = run(collect(server.url, pcm))
    assert any(isinstance(m, str) for m in parsed(got))


def check_text_in_silence(server: EmbeddedServer, pcm: bytes) -> None:
    got = run(collect(server.url, silence(3000)))
    assert got.texts


def check_never_new_sentence(server: EmbeddedServer, pcm: bytes) -> None:
    got = run(collect(server.url, pcm))
    assert got.texts and all(m["state"] != "NewSentence" for m in got.messages)


def check_odd_frame_1011(server: EmbeddedServer, pcm: bytes) -> None:
    got = run(collect(server.url, pcm, frame_bytes=1023))
    assert got.close_code == 1011


def check_drop_on_malformed_json(server: EmbeddedServer, pcm: bytes) -> None:
    got = run(collect(server.url, pcm, before=("{oops",)))
    assert got.close_code == 1006  # no close frame: the TCP connection was dropped


def check_close_1011(server: EmbeddedServer, pcm: bytes) -> None:
    got = run(collect(server.url, pcm))
    assert got.confirmed and got.close_code == 1011


def check_stall_mid_stream(server: EmbeddedServer, pcm: bytes) -> None:
    got = run(collect(server.url, pcm))
    assert len(got.frames) == 1 and got.close_code is None


def check_shared_state(server: EmbeddedServer, pcm: bytes) -> None:
    first = run(collect(server.url, pcm))
    second = run(collect(server.url, pcm))
    assert len(second.texts[-1].split()) > len(first.texts[-1].split())


CHECKS: dict[str, Check] = {name: globals()["check_" + name.replace("-", "_")] for name in FAULTS}


def test_every_fault_has_a_check() -> None:
    assert set(CHECKS) == set(FAULTS)


@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_is_present(fault: str, two_sentence_pcm: bytes) -> None:
    with EmbeddedServer(apikeys=[KEY], faults=[fault]) as server:
        CHECKS[fault](server, two_sentence_pcm)


@pytest.mark.parametrize("fault", ["never-new-sentence", "close-1011", "final-after-confirm"])
def test_fault_absent_without_flag(
    fault: str, synthetic_server: EmbeddedServer, two_sentence_pcm: bytes
) -> None:
    with pytest.raises(AssertionError):
        CHECKS[fault](synthetic_server, two_sentence_pcm)


def test_every_fault_changes_the_policy_and_only_its_own_way() -> None:
    from dataclasses import fields

    from harness.server.faults import FaultPolicy

    reference = FaultPolicy()
    changed_by: dict[str, set[str]] = {}
    for name in FAULTS:
        policy = FaultPolicy.from_names([name])
        changed = {
            f.name for f in fields(policy) if getattr(policy, f.name) != getattr(reference, f.name)
        }
        assert changed, f"{name} changes nothing"
        changed_by[name] = changed
    # No two faults share a decision: each one is a defect of its own.
    all_changed = [field for changed in changed_by.values() for field in changed]
    assert len(all_changed) == len(set(all_changed))
    both = FaultPolicy.from_names(["never-new-sentence", "close-1011"])
    assert not both.mark_new_sentence and both.close_code == 1011


def test_the_reference_policy_encodes_with_the_core_encoder() -> None:
    from harness.protocol.messages import encode
    from harness.server.faults import FaultPolicy

    message = {"text": "two words", "state": "Sentence", "final": True}
    assert FaultPolicy().encode_transcript(message) == encode(message)
    assert FaultPolicy.from_names(["binary-reply"]).encode_transcript(message) == (
        encode(message).encode()
    )
    assert json.loads(str(FaultPolicy.from_names(["text-not-string"]).encode_transcript(message)))[
        "text"
    ] == ["two", "words"]
