"""Code that runs inside a pocketsphinx worker process.

Each worker holds the decoders of the sentences currently routed to it (one per session
with an open sentence) plus a few idle ones for reuse: loading a decoder costs ~0.5 s.
Calls for one session arrive in order because each worker is a one-process executor.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

_MAX_IDLE = 4
_idle: list[Any] = []
_open: dict[int, Any] = {}


def _new_decoder() -> Any:
    from pocketsphinx import Decoder

    return Decoder(samprate=16000, loglevel="FATAL")


def init() -> None:
    _idle.append(_new_decoder())


def ping() -> int:
    return os.getpid()


def _hyp(decoder: Any) -> str:
    hyp = decoder.hyp()
    return hyp.hypstr.strip() if hyp is not None else ""


def begin(sid: int) -> None:
    old = _open.pop(sid, None)
    if old is not None:
        _release(old)
    decoder = _idle.pop() if _idle else _new_decoder()
    decoder.start_utt()
    _open[sid] = decoder


def accept(sid: int, pcm: bytes, hypothesis: bool) -> tuple[str, float]:
    t0 = time.process_time()
    decoder = _open[sid]
    if pcm:
        decoder.process_raw(pcm, False, False)
    text = _hyp(decoder) if hypothesis else ""
    return text, time.process_time() - t0


def end(sid: int, pcm: bytes) -> tuple[str, float]:
    t0 = time.process_time()
    decoder = _open.pop(sid)
    if pcm:
        decoder.process_raw(pcm, False, False)
    decoder.end_utt()
    text = _hyp(decoder)
    _keep(decoder)
    return text, time.process_time() - t0


def abort(sid: int) -> None:
    decoder = _open.pop(sid, None)
    if decoder is not None:
        _release(decoder)


def _release(decoder: Any) -> None:
    with contextlib.suppress(Exception):  # an utterance not started: nothing to end
        decoder.end_utt()
    _keep(decoder)


def _keep(decoder: Any) -> None:
    if len(_idle) < _MAX_IDLE:
        _idle.append(decoder)
