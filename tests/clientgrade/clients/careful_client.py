"""A small asrx file client that follows every client rule, and breaks exactly one on request.

    python careful_client.py URL AUDIO.pcm [--defect NAME ...]

The key comes from ``ASRX_APIKEY``. It streams 1024-byte frames on absolute real-time
deadlines while a second task reads, prints each sentence's final text on its own line,
sends the end-of-stream message, waits (bounded) for the confirmation, closes 1000 and
exits 0, or 1 when the session failed. Each ``--defect`` is one mistake real clients make,
for the grader's tests: each must fail exactly its own rule.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

EOS = json.dumps({"data": {"status": "CloseConnection"}})
CONFIRM = "Confirm Close Connection"
FRAME = 1024
KNOWN_STATES = {"NewSentence", "Sentence", ""}

DEFECTS = {
    "no-key": "no apikey header",
    "odd-frames": "1023-byte frames",
    "fast": "4 x real time",
    "slow": "0.7 x real time",
    "burst": "a 600 ms pause after the first second, then catches up",
    "no-eos": "never sends the end-of-stream message",
    "two-eos": "sends the end-of-stream message twice",
    "early-close": "closes right after its end-of-stream, without waiting",
    "no-close-frame": "exits the moment the confirmation arrives, before the server's close",
    "hide-last": "prints a sentence only when the next one starts: the last is never shown",
    "exit-1": "exits 1 after a good session",
    "exit-0": "exits 0 even when the session failed",
    "no-timeout": "waits for the confirmation forever",
    "retry-loop": "retries a refused key at once, 30 times",
    "strict-states": "crashes on a state it does not know",
}


async def send_audio(ws: ClientConnection, pcm: bytes, defects: set[str]) -> None:
    frame = 1023 if "odd-frames" in defects else FRAME
    speed = 4.0 if "fast" in defects else 0.7 if "slow" in defects else 1.0
    start = time.monotonic()
    sent = 0
    paused = False
    for i in range(0, len(pcm), frame):
        chunk = pcm[i : i + frame]
        due = start + sent / 32000 / speed
        if "burst" in defects and not paused and sent >= 32000:
            paused = True
            await asyncio.sleep(0.6)  # the schedule stays: it catches up in a burst
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        await ws.send(chunk)
        sent += len(chunk)
    if "no-eos" not in defects:
        await ws.send(EOS)
        if "two-eos" in defects:
            await ws.send(EOS)


#: The current sentence's text, printed when the next one starts or at the confirmation.
shown = {"current": ""}


def print_last(defects: set[str]) -> None:
    if shown["current"] and "hide-last" not in defects:
        print(shown["current"], flush=True)


async def receive(ws: ClientConnection, defects: set[str]) -> bool:
    """Print each sentence's final text; True once the confirmation arrived."""
    async for message in ws:
        data = json.loads(message)
        text, state = data.get("text"), data.get("state")
        if "strict-states" in defects and state not in KNOWN_STATES:
            raise ValueError(f"unknown state {state!r}")
        if text == CONFIRM:
            print_last(defects)
            return True
        if state == "NewSentence" and shown["current"]:
            print(shown["current"], flush=True)
        shown["current"] = text
    return False


def exit_at_confirmation(ws: ClientConnection, defects: set[str]) -> None:
    """``no-close-frame``: leave the moment the confirmation's bytes arrive, before the
    library can answer the server's close frame that follows it."""
    data_received = ws.data_received

    def watch(data: bytes) -> None:
        if CONFIRM.encode() in data:
            print_last(defects)
            os._exit(0)
        data_received(data)

    ws.data_received = watch  # type: ignore[method-assign]


async def session(url: str, key: str | None, pcm: bytes, defects: set[str], wait: float) -> bool:
    headers = {} if "no-key" in defects or key is None else {"apikey": key}
    async with connect(url, additional_headers=headers, open_timeout=10) as ws:
        if "no-close-frame" in defects:
            exit_at_confirmation(ws, defects)
        receiver = asyncio.create_task(receive(ws, defects))
        await send_audio(ws, pcm, defects)
        if "early-close" in defects:
            await ws.close()
            receiver.cancel()
            return True
        try:
            confirmed = await asyncio.wait_for(receiver, None if "no-timeout" in defects else wait)
        except TimeoutError:
            print("no confirmation in time", file=sys.stderr)
            return False
        return confirmed


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("audio")
    parser.add_argument("--defect", action="append", default=[], choices=sorted(DEFECTS))
    parser.add_argument("--wait", type=float, default=5.0, help="seconds to wait to confirm")
    args = parser.parse_args()
    defects = set(args.defect)
    with open(args.audio, "rb") as fh:
        pcm = fh.read()
    key = os.environ.get("ASRX_APIKEY")
    attempts = 30 if "retry-loop" in defects else 1
    ok = False
    for attempt in range(attempts):
        try:
            ok = await session(args.url, key, pcm, defects, args.wait)
            break
        except InvalidStatus as exc:
            print(f"refused: {exc}", file=sys.stderr)
            if attempt == attempts - 1:
                ok = False
        except ConnectionClosed as exc:
            print(f"connection closed: {exc}", file=sys.stderr)
            ok = False
            break
    if "exit-0" in defects:
        return 0
    if "exit-1" in defects:
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
