"""The asrx client of a Locust user: one session per call, and what it measured fired as
Locust requests (the way Locust's contrib users wrap other protocols).

Each ``AsrxClient.stream`` streams one utterance at real time through
``harness.client.gevent_client`` and judges it (``harness.load.outcome``). What Locust sees
(``request_type="ASRX"``):

=============== =====================================================================
name            response time
=============== =====================================================================
session         none (``None``: counted, never in a percentile): one per session tried,
                a failure named ``<kind>: <what happened>`` when it failed
connect         TCP + TLS + WebSocket handshake
first_partial   one per sentence: first non-empty text minus W(speech onset)
sentence        one per sentence: final text minus W(speech end)
close           confirmation minus end-of-stream send time
word_upl        one per timed reference word held by some message: the first arrival
                holding it minus W(word end) (user-perceived latency)
word_final      one per timed word held at the end: the arrival after which it no longer
                changed minus W(word end)
=============== =====================================================================

Word latencies need the utterance's word timings (manifest ``words``) and are computed
once the session has ended, never while frames are due (``--asrx-word-latency off`` skips
them). Only a session that completed without failing fires latencies (docs/protocol.md §5), and
the session's length is not a request at all: Locust's charts pool every request's
response time, and seconds-long sessions would drown the millisecond latencies. The same
figures go, at full resolution, into the process's ``RunStats``.
"""

from __future__ import annotations

import logging

import gevent
from locust.env import Environment

from harness.client import gevent_client
from harness.client.pacer import catch_up
from harness.client.target import Target
from harness.corpus import score
from harness.corpus.manifest import Utterance
from harness.errors import TargetError, UsageError
from harness.exitcodes import USAGE
from harness.load.abort import abort
from harness.load.backoff import next_backoff
from harness.load.options import LoadOptions
from harness.load.outcome import AsrxFailure, FailureKind, classify, refusal
from harness.load.runstate import state
from harness.protocol.audio import split_frames
from harness.protocol.metrics import session_metrics
from harness.protocol.result import StreamResult, latency_samples
from harness.protocol.session import ClientSession
from harness.protocol.words import WordLatencies, word_latencies

log = logging.getLogger("asrx.load")

REQUEST_TYPE = "ASRX"
SESSION = "session"


class AsrxClient:
    """Streams one utterance per call and fires what it measured."""

    def __init__(self, environment: Environment, host: str, options: LoadOptions) -> None:
        self.environment = environment
        self.state = state(environment)
        self.options = options
        self.target = self._target(host)
        self.backoff_ceiling = 0.0

    def _target(self, host: str) -> Target:
        opts = self.options
        cache = f"{host}|{opts.apikey}|{opts.ca_file}|{opts.timeout_scale}|{opts.max_message_bytes}"
        target = self.state.targets.get(cache)
        if target is None:
            target = self.state.targets[cache] = opts.target(host)
        return target

    def frames(self, utt: Utterance) -> list[bytes]:
        frames = self.state.frames.get(utt.id)
        if frames is None:
            frames = self.state.frames[utt.id] = split_frames(utt.pcm(), self.options.frame_bytes)
        return frames

    def fire(
        self, name: str, ms: float | None, length: int = 0, exc: Exception | None = None
    ) -> None:
        self.environment.events.request.fire(
            request_type=REQUEST_TYPE,
            name=name,
            response_time=ms,
            response_length=length,
            exception=exc,
            context={},
        )

    def stream(self, utt: Utterance) -> AsrxFailure | None:
        """Stream ``utt`` as one session; returns its failure, or None when it completed."""
        session = ClientSession(self.target.dialect, self.target.limits)
        try:
            result = gevent_client.stream(
                self.target, self.frames(utt), speed=self.options.speed, session=session
            )
        except UsageError as exc:  # a URL the client cannot use: no session ever will
            abort(self.environment, str(exc), USAGE)
            return None
        except TargetError as exc:
            failure = refusal(exc)
            self._failed(failure, 0)
            self._refused(failure)
            self._back_off()
            return failure
        self.backoff_ceiling = 0.0
        if result.interrupted:  # the run is stopping: neither a failure nor a sample
            return None
        return self._judge(utt, result)

    def _judge(self, utt: Utterance, result: StreamResult) -> AsrxFailure | None:
        catch_up()  # other sessions' frames first: sessions often end together
        stats = self.state.stats
        tl = result.session.timeline
        metrics = session_metrics(tl, utt.segments)
        stats.sessions += 1
        stats.record({"send_lateness": metrics.lateness_ms})
        findings = result.findings
        stats.record_findings(
            (f.rule for f in findings if not f.strict_only),
            (f.rule for f in findings if f.strict_only),
        )
        failure = classify(result)
        if failure is not None and failure.kind is FailureKind.REJECTED:
            self._failed(failure, tl.audio_bytes)
            self._refused(failure)  # accepted, then closed as unauthenticated
            return failure
        self.state.sessions_opened += 1
        self.state.refusals_in_a_row = 0
        if failure is not None:
            self._failed(failure, tl.audio_bytes)
            return failure
        words = self._word_latencies(utt, result)
        catch_up()
        samples = latency_samples(result, metrics, words)
        for name, values in samples.items():
            for v in values:
                self.fire(name, v)
        stats.record(samples)
        if samples and words is not None:
            stats.record_words(words)
        if samples:
            stats.record_sample(utt, tl)
        stats.sessions_ok += 1
        if metrics.segmentation_mismatch:  # lawful, but its sentence latency is undefined
            stats.segmentation_mismatches += 1
        self.fire(SESSION, None, tl.audio_bytes)
        if utt.text is not None:  # a latency-only utterance has no reference
            hyp = " ".join(t for t in metrics.sentences if t)
            sc = score(utt.text, hyp, utt.lang)
            stats.record_accuracy(
                utt.id, utt.lang, sc.metric, utt.text, hyp, sc.errors, sc.ref_units
            )
        return None

    def _word_latencies(self, utt: Utterance, result: StreamResult) -> WordLatencies | None:
        """The latencies of the utterance's reference words (None: it has none, or off)."""
        if self.options.word_latency == "off" or not utt.words:
            return None
        return word_latencies(result.session.timeline, utt.words, utt.lang)

    def _failed(self, failure: AsrxFailure, audio_bytes: int) -> None:
        message = self.state.redactor.text(failure.detail)
        self.state.stats.record_failure(failure.kind, message)
        self.fire(SESSION, None, audio_bytes, AsrxFailure(failure.kind, message))

    def _back_off(self) -> None:
        self.backoff_ceiling, wait = next_backoff(self.backoff_ceiling)
        gevent.sleep(wait)

    def _refused(self, failure: AsrxFailure) -> None:
        st = self.state
        st.refusals_in_a_row += 1
        if st.sessions_opened == 0 and st.refusals_in_a_row >= self.options.max_refusals:
            abort(
                self.environment,
                f"{st.refusals_in_a_row} sessions in a row failed and none opened "
                f"(last: {self.state.redactor.text(str(failure))}); check --host and "
                "--asrx-apikey / ASRX_APIKEY",
            )
