"""A re-creation of the public API documentation's "stream from file" example client.

The documentation carries no licence, so this is not a copy: it is written anew to behave
as that example does, adapted only in where the URL, key and audio come from (the
environment: ``ASRX_URL``, ``ASRX_APIKEY``, ``ASRX_AUDIO``). What it reproduces, and what
``asrx grade-client`` finds in it (docs/grade-client.md):

- 1024-byte frames (32 ms of audio), each followed by a 20 ms sleep: about 1.6 x real time;
- the end-of-stream message once the file is read, then the sender stops;
- a receiver that prints each transcript over the current sentence (``\\r``, and the
  terminal's save/restore cursor sequences at a ``NewSentence``), stops at the confirmation,
  prints a closed connection's exception and then "Connection closed gracfully" in cyan;
- no timeout anywhere (``ping_timeout=None``, a bare ``recv``): it waits for the server
  forever.

The example passes the key with ``extra_headers``, the legacy websockets API; this uses
``additional_headers``, the same header with the current API.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

import websockets
from websockets.asyncio.client import ClientConnection

CYAN, RESET = "\x1b[36m", "\x1b[39m"


async def send_audio_data(ws: ClientConnection) -> None:
    with open(os.environ["ASRX_AUDIO"], "rb") as audio:
        while True:
            chunk = audio.read(1024)
            if not chunk:
                await ws.send(json.dumps({"data": {"status": "CloseConnection"}}))
                break
            await ws.send(chunk)
            await asyncio.sleep(0.02)


async def receive_message(ws: ClientConnection) -> None:
    try:
        first_sentence = True
        while True:
            data = json.loads(await ws.recv())
            text, state = data.get("text"), data.get("state")
            if text == "Confirm Close Connection":
                break
            if state == "NewSentence":
                sys.stdout.write("\x1b[s")
                sys.stdout.flush()
                first_sentence = False
            if first_sentence:
                print(f"\r{text}", end="", flush=True)
            else:
                sys.stdout.write("\x1b[u")
                print(f"{text}", end="", flush=True)
    except websockets.exceptions.ConnectionClosed as exc:
        print(exc)
    finally:
        print(CYAN + "Connection closed gracfully" + RESET)


async def client() -> None:
    headers = {"apikey": os.environ["ASRX_APIKEY"]}
    async with websockets.connect(
        os.environ["ASRX_URL"], ping_timeout=None, additional_headers=headers
    ) as ws:
        sender = asyncio.create_task(send_audio_data(ws))
        receiver = asyncio.create_task(receive_message(ws))
        await sender
        await receiver


if __name__ == "__main__":
    asyncio.run(client())
