"""The pocketsphinx engine: real (en-us) recognition in worker processes.

One single-process executor per worker, sized to the cores, so that one session's calls
stay ordered on one worker while the event loop keeps serving. A session is routed to the
worker with the fewest open recognizers. pocketsphinx's wheel ships the en-us model;
nothing is downloaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from harness.server.engines import sphinx_worker
from harness.server.engines.base import Decoded, EngineError

#: Waiting for the workers to load their models at start-up.
START_TIMEOUT_S = 60.0


class _Worker:
    def __init__(self) -> None:
        self.executor = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=sphinx_worker.init,
        )
        self.load = 0


class PocketsphinxRecognizer:
    def __init__(self, engine: PocketsphinxEngine, worker: _Worker, sid: int) -> None:
        self._engine = engine
        self._worker = worker
        self._sid = sid
        self._open = False
        worker.load += 1

    async def _call(self, fn: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._worker.executor, fn, *args)
        except BrokenProcessPool as exc:
            self._engine.replace(self._worker)
            raise EngineError("pocketsphinx worker died") from exc

    async def begin(self) -> None:
        await self._call(sphinx_worker.begin, self._sid)
        self._open = True

    async def accept(self, pcm: bytes, hypothesis: bool) -> Decoded:
        text, cpu = await self._call(sphinx_worker.accept, self._sid, pcm, hypothesis)
        return Decoded(text, cpu)

    async def end(self, pcm: bytes) -> Decoded:
        self._open = False
        text, cpu = await self._call(sphinx_worker.end, self._sid, pcm)
        return Decoded(text, cpu)

    async def close(self) -> None:
        self._worker.load -= 1
        if self._open:
            self._open = False
            # Queued behind any call still running for this session; nobody waits for it.
            with contextlib.suppress(BrokenProcessPool, RuntimeError):
                self._worker.executor.submit(sphinx_worker.abort, self._sid)


class PocketsphinxEngine:
    name = "pocketsphinx"

    def __init__(self, workers: int) -> None:
        self._count = max(1, workers)
        self._workers: list[_Worker] = []
        self._ids = itertools.count(1)

    async def start(self) -> None:
        self._workers = [_Worker() for _ in range(self._count)]
        loop = asyncio.get_running_loop()
        pings = [loop.run_in_executor(w.executor, sphinx_worker.ping) for w in self._workers]
        await asyncio.wait_for(asyncio.gather(*pings), START_TIMEOUT_S)

    def recognizer(self) -> PocketsphinxRecognizer:
        worker = min(self._workers, key=lambda w: w.load)
        return PocketsphinxRecognizer(self, worker, next(self._ids))

    def replace(self, worker: _Worker) -> None:
        """A worker died: its sessions fail, new ones go to a fresh process."""
        if worker in self._workers:
            self._workers[self._workers.index(worker)] = _Worker()
            worker.executor.shutdown(wait=False, cancel_futures=True)

    async def stop(self) -> None:
        for w in self._workers:
            w.executor.shutdown(wait=False, cancel_futures=True)
        self._workers = []
