"""Test-side helpers: stream PCM to a server and collect everything it says.

Every network wait is bounded by a named timeout.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from harness.protocol.dialect import DEFAULT_DIALECT

OPEN_TIMEOUT_S = 10.0
SESSION_TIMEOUT_S = 60.0
HTTP_TIMEOUT_S = 5.0
EOS = DEFAULT_DIALECT.end_of_stream_message()
CONFIRM = DEFAULT_DIALECT.confirmation_text


@dataclass
class Received:
    """What a server said in one session, with arrival times (monotonic seconds)."""

    frames: list[str | bytes] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""
    started: float = 0.0

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(f) for f in self.frames if isinstance(f, str)]

    @property
    def transcripts(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("text") != CONFIRM and m.get("state") != "Error"]

    @property
    def texts(self) -> list[str]:
        return [m["text"] for m in self.transcripts if m["text"]]

    def sentences(self) -> list[str]:
        """The final text of each sentence (the last message before a NewSentence)."""
        out: list[str] = []
        for m in self.transcripts:
            if m.get("state") == "NewSentence" or not out:
                out.append(m["text"])
            else:
                out[-1] = m["text"]
        return out

    @property
    def confirmed(self) -> bool:
        return any(m.get("text") == CONFIRM for m in self.messages)


async def open_session(url: str, key: str | None, **kwargs: Any) -> ClientConnection:
    headers = {"apikey": key} if key is not None else {}
    return await connect(
        url, additional_headers=headers, open_timeout=OPEN_TIMEOUT_S, max_size=None, **kwargs
    )


async def stream(
    url: str,
    key: str | None,
    pcm: bytes,
    *,
    frame_bytes: int = 1024,
    realtime: bool = False,
    end: bool = True,
    timeout: float = SESSION_TIMEOUT_S,
    **kwargs: Any,
) -> Received:
    """Send ``pcm`` (fast unless ``realtime``), then end-of-stream; read until closed."""
    got = Received(started=time.monotonic())
    async with asyncio.timeout(timeout):
        ws = await open_session(url, key, **kwargs)
        try:

            async def send() -> None:
                for i in range(0, len(pcm), frame_bytes):
                    await ws.send(pcm[i : i + frame_bytes])
                    if realtime:
                        await asyncio.sleep(frame_bytes / 32000)
                if end:
                    await ws.send(EOS)

            sender = asyncio.create_task(send())
            await read_all(ws, got)
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
        finally:
            await ws.close()
    return got


async def read_all(ws: ClientConnection, got: Received) -> Received:
    try:
        async for frame in ws:
            got.frames.append(frame)
            got.times.append(time.monotonic())
    except ConnectionClosed:
        pass
    got.close_code = ws.close_code
    got.close_reason = ws.close_reason or ""
    return got


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def http_get(url: str, **kwargs: Any) -> tuple[int, str, str]:
    """(status, content type, body) of a GET, HTTP errors included."""
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S, **kwargs) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()


def metric(http_url: str, name: str, labels: dict[str, str] | None = None) -> float:
    """One sample's value from ``/metrics`` (0 when absent)."""
    _, _, body = http_get(http_url + "/metrics")
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == name and all(
                sample.labels.get(k) == v for k, v in (labels or {}).items()
            ):
                return float(sample.value)
    return 0.0


def wait_metric(http_url: str, name: str, value: float, timeout: float = 5.0) -> float:
    """Poll ``/metrics`` until ``name`` equals ``value``; return the last value seen."""
    deadline = time.monotonic() + timeout
    current = metric(http_url, name)
    while current != value and time.monotonic() < deadline:
        time.sleep(0.05)
        current = metric(http_url, name)
    return current
