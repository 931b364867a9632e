"""The Locust users: ``AsrxUser``, the base to subclass, and ``ReplayUser``, which replays
corpus utterances back to back.

``AsrxUser`` is abstract (``abstract = True``, as Locust's contrib users are): Locust does
not run it, a locustfile subclasses it with its own tasks and gets ``self.client``, an
``AsrxClient`` that streams one utterance per ``stream`` call and reports what it measured.
Importing this module installs the asrx listeners (options, set-up, statistics between
workers and master); import ``harness.load.gate`` too for the SLO gate and the reports::

    import harness.load.gate  # noqa: F401
    from harness.load.user import AsrxUser

    class FirstUtteranceUser(AsrxUser):
        @task
        def first(self) -> None:
            self.client.stream(self.utterances[0])
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from locust import User, constant, task

import harness.load.lifecycle  # noqa: F401  (installs the listeners)
from harness.corpus.manifest import Utterance
from harness.errors import UsageError
from harness.exitcodes import USAGE
from harness.load.abort import abort
from harness.load.client import AsrxClient
from harness.load.options import LoadOptions
from harness.load.runstate import state


class AsrxUser(User):
    """A simulated asrx client: ``self.client`` streams utterances of the run's corpus."""

    abstract = True
    wait_time = constant(0)
    client: AsrxClient

    def on_start(self) -> None:
        st = state(self.environment)
        # The web UI's host field may be cleared: the run's embedded server still stands.
        embedded = st.server.url if st.server is not None else None
        host = self.host or self.environment.host or embedded
        try:
            if not host:
                raise UsageError("no host: pass --host ws://... or wss://...")
            options = LoadOptions.from_parsed(self.environment.parsed_options)
            self.client = AsrxClient(self.environment, host, options)
        except UsageError as exc:  # a bad host or option typed into the web UI
            abort(self.environment, str(exc), USAGE)
            self.stop()

    @property
    def utterances(self) -> Sequence[Utterance]:
        """The corpus this run replays (``--asrx-corpus``)."""
        return state(self.environment).utterances


class ReplayUser(AsrxUser):
    """Replays corpus utterances back to back at real time (``--asrx-order``)."""

    def next_utterance(self) -> Utterance:
        utterances = self.utterances
        if self.client.options.order == "random":
            return random.choice(utterances)
        return utterances[next(state(self.environment).next_index) % len(utterances)]

    @task
    def stream_utterance(self) -> None:
        self.client.stream(self.next_utterance())
