"""Capacity of the reference server: concurrent real-time sessions it keeps up with.

Ramps the number of concurrent sessions, each streaming espeak-ng speech (one sentence and
a second of silence, looped) at real time over loopback, against a fresh server per engine.
A level *keeps up* when the p95 decoder lag (``asrx_decoder_lag_seconds`` from /metrics:
audio handed to the session to the decoder's result for it) and the p95 close latency
(end-of-stream to confirmation, which also catches an overloaded event loop, which the
server-side lag cannot see) are both under ``--max-lag``, and every session is confirmed.
A level where the client's own p99 send lateness exceeds 50 ms measured the harness, not
the server: it counts as not keeping up (``harness_saturated``).

    python benchmarks/server_capacity.py --engine pocketsphinx --levels 1,2,3,4,6,8
    python benchmarks/server_capacity.py --engine synthetic --levels 50,100,200,400

Measured on the 2-core CI machine (``--seconds 15``, 2048-byte frames, 2 decoder workers):
pocketsphinx keeps up with 3 sessions (RTF ~0.35 per stream; at 4: p95 lag 1.5 s, p95
close latency 2.2 s); synthetic with ~400 (p95 close latency 0.3 s; one earlier run
already saw 4.3 s at 400; at 600 close latency 11.9 s and the client itself saturated).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from harness.audio.convert import read_pcm16k
from harness.protocol.audio import BYTES_PER_SECOND
from harness.server.embedded import EmbeddedServer

KEY = "bench-key"
EOS = json.dumps({"data": {"status": "CloseConnection"}})
CONFIRM = "Confirm Close Connection"
SENTENCE = "please call me tomorrow about the meeting"
#: Waiting for the confirmation after end-of-stream, per session.
CONFIRM_TIMEOUT_S = 30.0
LATENESS_BOUND_S = 0.05


@dataclass
class LevelResult:
    engine: str
    sessions: int
    confirmed: int
    lag_p50_s: float
    lag_p95_s: float
    lag_max_bucket_s: float
    close_latency_p95_s: float
    send_lateness_p99_s: float
    rtf: float
    keeps_up: bool
    harness_saturated: bool


def speech_loop(seconds: float) -> bytes:
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng is needed to make the benchmark's speech")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        subprocess.run(
            ["espeak-ng", "-v", "en-us+f2", "-s", "130", "-w", str(wav), SENTENCE],
            check=True,
            capture_output=True,
            timeout=30,
        )
        unit = read_pcm16k(wav) + b"\0" * BYTES_PER_SECOND
    reps = math.ceil(seconds * BYTES_PER_SECOND / len(unit))
    return (unit * reps)[: int(seconds * BYTES_PER_SECOND) // 2 * 2]


def scrape(http_url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    with urllib.request.urlopen(http_url + "/metrics", timeout=10) as resp:
        body = resp.read().decode()
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def lag_quantiles(before: dict, after: dict, qs: tuple[float, ...]) -> list[float]:
    """Quantiles of the lag histogram over the interval (bucket upper bounds)."""
    b0, b1 = (
        before.get("asrx_decoder_lag_seconds_bucket", {}),
        after["asrx_decoder_lag_seconds_bucket"],
    )
    buckets = sorted(
        ((float(dict(k)["le"]), v - b0.get(k, 0.0)) for k, v in b1.items()), key=lambda x: x[0]
    )
    total = buckets[-1][1] if buckets else 0
    out = []
    for q in qs:
        bound = math.nan
        for le, cum in buckets:
            if total and cum >= q * total:
                bound = le
                break
        out.append(bound)
    return out


def pct(values: list[float], p: float) -> float:
    if not values:
        return math.nan
    s = sorted(values)
    return s[min(len(s) - 1, int(math.ceil(p * len(s))) - 1)]


async def session(
    url: str,
    pcm: bytes,
    frame_bytes: int,
    start_at: float,
    lateness: list[float],
    closes: list[float],
) -> bool:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, start_at - loop.time()))
    async with connect(
        url, additional_headers={"apikey": KEY}, open_timeout=30, ping_interval=None
    ) as ws:
        confirmed = asyncio.get_running_loop().create_future()

        async def reader() -> None:
            async for m in ws:
                if isinstance(m, str) and json.loads(m).get("text") == CONFIRM:
                    confirmed.set_result(loop.time())
                    return

        rtask = asyncio.create_task(reader())
        t0 = loop.time()
        frame_s = frame_bytes / BYTES_PER_SECOND
        for k, i in enumerate(range(0, len(pcm), frame_bytes)):
            due = t0 + k * frame_s
            now = loop.time()
            if due > now:
                await asyncio.sleep(due - now)
            lateness.append(max(0.0, loop.time() - due))
            await ws.send(pcm[i : i + frame_bytes])
        sent_eos = loop.time()
        await ws.send(EOS)
        try:
            done = await asyncio.wait_for(asyncio.shield(confirmed), CONFIRM_TIMEOUT_S)
        except TimeoutError:
            rtask.cancel()
            return False
        closes.append(done - sent_eos)
        await asyncio.gather(rtask, return_exceptions=True)
        return True


async def run_level(
    server: EmbeddedServer,
    engine: str,
    n: int,
    pcm: bytes,
    frame_bytes: int,
    ramp_s: float,
    max_lag: float,
) -> LevelResult:
    before = scrape(server.http_url)
    lateness: list[float] = []
    closes: list[float] = []
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.5
    results = await asyncio.gather(
        *(
            session(server.url, pcm, frame_bytes, start + ramp_s * i / n, lateness, closes)
            for i in range(n)
        ),
        return_exceptions=True,
    )
    after = scrape(server.http_url)
    p50, p95, p100 = lag_quantiles(before, after, (0.5, 0.95, 1.0))
    confirmed = sum(r is True for r in results)
    decoded = sum(after["asrx_decoded_audio_seconds_total"].values()) - sum(
        before.get("asrx_decoded_audio_seconds_total", {}).values()
    )
    compute = sum(after["asrx_decode_seconds_total"].values()) - sum(
        before.get("asrx_decode_seconds_total", {}).values()
    )
    return LevelResult(
        engine=engine,
        sessions=n,
        confirmed=confirmed,
        lag_p50_s=p50,
        lag_p95_s=p95,
        lag_max_bucket_s=p100,
        close_latency_p95_s=round(pct(closes, 0.95), 3),
        send_lateness_p99_s=round(pct(lateness, 0.99), 4),
        rtf=round(compute / decoded, 3) if decoded else math.nan,
        keeps_up=(
            confirmed == n
            and p95 <= max_lag
            and pct(closes, 0.95) <= max_lag
            and pct(lateness, 0.99) <= LATENESS_BOUND_S
        ),
        harness_saturated=pct(lateness, 0.99) > LATENESS_BOUND_S,
    )


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--engine", choices=["pocketsphinx", "synthetic"], action="append")
    ap.add_argument("--levels", default=None, help="comma list of concurrency levels")
    ap.add_argument("--seconds", type=float, default=15.0, help="audio per session per level")
    ap.add_argument("--frame-bytes", type=int, default=2048)
    ap.add_argument("--ramp-seconds", type=float, default=2.0, help="spread of session starts")
    ap.add_argument("--max-lag", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=0, help="server decoder processes (0: cores)")
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args()
    engines = args.engine or ["pocketsphinx", "synthetic"]
    defaults = {"pocketsphinx": "1,2,3,4,5,6,8", "synthetic": "50,100,200,300,400,600"}
    pcm = speech_loop(args.seconds)
    all_results: list[LevelResult] = []
    for engine in engines:
        levels = [int(x) for x in (args.levels or defaults[engine]).split(",")]
        extra = ["--max-sessions", "5000", "--workers", str(args.workers)]
        with EmbeddedServer(
            engine=engine, apikeys=[KEY], extra_args=extra, ready_timeout=120
        ) as srv:
            best = 0
            for n in levels:
                t0 = time.monotonic()
                res = asyncio.run(
                    run_level(
                        srv, engine, n, pcm, args.frame_bytes, args.ramp_seconds, args.max_lag
                    )
                )
                all_results.append(res)
                print(
                    json.dumps({**asdict(res), "wall_s": round(time.monotonic() - t0, 1)}),
                    flush=True,
                )
                if not res.keeps_up:
                    break
                best = n
            summary = {
                "engine": engine,
                "max_sessions_keeping_up": best,
                "criterion": f"p95 decoder lag and close latency <= {args.max_lag} s, "
                "all confirmed, client p99 lateness <= 50 ms",
            }
            print(json.dumps(summary), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in all_results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
