"""Drive the Locust user's client against servers, one session each, and print what it saw.

    python -m tests.load.user_driver URL [URL ...]

Runs as a Locust process does (``import locust`` patches the standard library with gevent),
so it runs in a subprocess of the test, never inside pytest. For each URL it streams one
corpus utterance through ``AsrxClient`` (the code a ``ReplayUser`` runs), and prints one JSON
line: the failure kind (or null), the rules broken, the NON-STRICT ones, the latency
samples recorded and the Locust requests fired.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from locust import events
from locust.argument_parser import parse_options
from locust.env import Environment

from harness.load.client import AsrxClient
from harness.load.options import LoadOptions
from harness.load.runstate import state
from harness.load.user import ReplayUser

UTTERANCE = "en-single-01"
#: Faster than real time and short waits: a hostile server that never confirms costs 1 s.
OPTIONS = ["--asrx-speed", "4", "--asrx-timeout-scale", "0.1", "--asrx-apikey", "k"]


def drive(urls: list[str]) -> list[dict[str, Any]]:
    parsed = parse_options(args=[*OPTIONS, "--host", urls[0]])
    env = Environment(user_classes=[ReplayUser], events=events, parsed_options=parsed)
    env.host = urls[0]
    env.create_local_runner()
    events.init.fire(environment=env, runner=env.runner, web_ui=None)
    fired: list[tuple[str, bool]] = []
    events.request.add_listener(
        lambda name, exception, **_: fired.append((name, exception is not None))
    )
    utt = next(u for u in state(env).utterances if u.id == UTTERANCE)
    out = []
    for url in urls:
        st = state(env)
        st.reset()
        fired.clear()
        failure = AsrxClient(env, url, LoadOptions.from_parsed(parsed)).stream(utt)
        stats = st.stats
        out.append(
            {
                "url": url,
                "failure": failure.kind.value if failure is not None else None,
                "message": str(failure) if failure is not None else None,
                "findings": sorted(stats.findings),
                "non_strict": sorted(stats.non_strict),
                "samples": {n: h.count for n, h in stats.histograms.items() if h.count},
                "fired": fired[:],
            }
        )
    return out


if __name__ == "__main__":
    for line in drive(sys.argv[1:]):
        print(json.dumps(line))
