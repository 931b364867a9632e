"""The server's bounds, in process: the send queue, the slots, the log masking."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from harness.server.app import AsrxServer
from harness.server.config import ServerConfig
from harness.server.observability import log, setup_logging
from harness.server.outbox import Outbox, SendLimits
from tests.server.conftest import KEY, silence
from tests.server.streaming import Received, open_session, read_all, stream


class StuckConnection:
    """A connection whose client never reads: every send waits forever."""

    def __init__(self) -> None:
        self.sent: list[str | bytes] = []

    async def send(self, payload: str | bytes) -> None:
        self.sent.append(payload)
        await asyncio.Event().wait()

    async def close(self, code: int, reason: str) -> None:
        return None


def overflowing(limits: SendLimits, payloads: list[str]) -> tuple[int, Outbox]:
    async def scenario() -> tuple[int, Outbox]:
        overflows = []
        outbox = Outbox(StuckConnection(), 0.0, limits, on_overflow=lambda: overflows.append(1))  # type: ignore[arg-type]
        writer = asyncio.create_task(outbox.run())
        for payload in payloads:
            outbox.send(payload, "error")
            await asyncio.sleep(0)
        writer.cancel()
        return len(overflows), outbox

    return asyncio.run(scenario())


def test_outbox_count_bound() -> None:
    count, outbox = overflowing(SendLimits(max_messages=5, max_bytes=1 << 20), ["x"] * 20)
    assert count == 1 and outbox.closing and outbox.queued_bytes == 0


def test_outbox_byte_bound() -> None:
    count, outbox = overflowing(SendLimits(max_messages=1000, max_bytes=1000), ["x" * 300] * 6)
    assert count == 1 and outbox.closing


def test_outbox_within_bounds_keeps_everything() -> None:
    count, outbox = overflowing(SendLimits(max_messages=10, max_bytes=1000), ["x" * 50] * 8)
    assert count == 0 and not outbox.closing


def test_a_crashing_session_gives_its_slot_back() -> None:
    """A handler error (here: the engine cannot make a recognizer) closes 1011 and the
    slot is free again, with --max-sessions 1."""

    async def scenario() -> tuple[int | None, int, Received]:
        config = ServerConfig(port=0, engine="synthetic", apikeys=(KEY,), max_sessions=1)
        server = AsrxServer(config)
        url, _ = await server.start()
        make = server.engine.recognizer

        def broken() -> Any:
            raise RuntimeError("no recognizer")

        server.engine.recognizer = broken  # type: ignore[method-assign]
        try:
            ws = await open_session(url, KEY)
            crashed = await read_all(ws, Received())
            server.engine.recognizer = make  # type: ignore[method-assign]
            async with asyncio.timeout(5):
                while server.slots.in_use:  # the server finishes the close after the client
                    await asyncio.sleep(0.01)
            in_use = server.slots.in_use
            fresh = await stream(url, KEY, silence(100))
        finally:
            await server.stop()
        return crashed.close_code, in_use, fresh

    code, in_use, fresh = asyncio.run(scenario())
    assert code == 1011 and in_use == 0 and fresh.close_code == 1000


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The server's logging set up on a buffer; the root logger restored after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, logging.getLogger("websockets").level
    buffer = io.StringIO()
    import sys

    real, sys.stderr = sys.stderr, buffer
    try:
        setup_logging("DEBUG", secrets=[KEY], key_header="apikey")
    finally:
        sys.stderr = real
    yield buffer
    root.handlers[:], level, ws_level = saved
    root.setLevel(level)
    logging.getLogger("websockets").setLevel(ws_level)


def test_logs_mask_the_key_header_and_any_key(json_log: io.StringIO) -> None:
    logging.getLogger("websockets.server").debug("< %s: %s", "ApiKey", "a-wrong-key")
    logging.getLogger("websockets.server").debug("< %s: %s", "Host", "example")
    log("weird", detail=f"invalid HTTP header line: apikey: {KEY}\x01")
    try:
        raise ValueError(f"quoted {KEY}")
    except ValueError:
        logging.getLogger("asrx.server").exception("oops")
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    assert lines[0]["msg"] == "< ApiKey: ***"
    assert lines[1]["msg"] == "< Host: example"
    assert KEY not in json_log.getvalue()
    assert "***" in lines[2]["detail"] and "***" in lines[3]["exc"]


def test_closed_writer_ends_quietly() -> None:
    """The writer ends without error when the client has gone."""

    class Gone(StuckConnection):
        async def send(self, payload: str | bytes) -> None:
            raise ConnectionClosed(None, None)

    async def scenario() -> None:
        outbox = Outbox(Gone(), 0.0, SendLimits(10, 1000))  # type: ignore[arg-type]
        outbox.send("x", "transcript")
        await asyncio.wait_for(outbox.run(), 5)

    asyncio.run(scenario())
