"""The client rules (``C.*`` in ``harness.protocol.rules``), one function each: the facts
of one scenario run in, a ``Verdict`` out. docs/protocol.md explains each rule and its
grading; the thresholds are named here. ``grading.py`` puts them together.
"""

from __future__ import annotations

from harness.clientgrade.facts import Facts, find_in_order
from harness.clientgrade.verdict import GradeOptions, Verdict, failed, lenient, not_graded, ok
from harness.protocol.audio import BYTES_PER_MS, BYTES_PER_SECOND

#: A pause between frames this much longer than a frame's duration is a gap: a quarter
#: second, a burst a server notices, and well above the up to 140 ms a loaded 2-core
#: machine was measured to add to a client on absolute deadlines.
GAP_TOLERANCE_MS = 250.0
#: Sane audio frames: 10 ms to 1 s of audio.
MIN_FRAME_BYTES = 10 * BYTES_PER_MS
MAX_FRAME_BYTES = BYTES_PER_SECOND
#: A refused key retried this many times within one second is a tight loop, as is any
#: number of attempts past ``MAX_RETRIES``.
TIGHT_RETRIES_PER_S = 3
MAX_RETRIES = 10
#: Close codes that end a completed session lawfully but say less than 1000.
LENIENT_CLOSE_CODES = (1001, 1005)


def stderr_context(f: Facts) -> str:
    tail = f.stderr_tail()
    return f"its stderr ends: {tail}" if tail else ""


# -- the rules ---------------------------------------------------------------------------


def apikey(f: Facts, o: GradeOptions) -> Verdict:
    rule, header = "C.apikey", o.dialect.key_header
    for n, h in enumerate(f.attempts, 1):
        problem = ""
        if h.key_headers == 0:
            problem = f"no {header} header" + (
                " (the key was in the URL query: URLs end up in logs)" if h.key_in_query else ""
            )
        elif h.key_headers > 1:
            problem = f"{h.key_headers} {header} headers"
        elif h.key_empty:
            problem = f"an empty {header} header"
        elif not h.key_valid:
            problem = "a key other than the one given"
        if problem:
            return failed(
                rule,
                f"one {header} header holding the key given ({{apikey}} / ASRX_APIKEY)",
                f"handshake {n} of {len(f.attempts)}: {problem}; answered HTTP {h.status}",
            )
    return ok(rule)


def audio_format(f: Facts, o: GradeOptions) -> Verdict:
    rule, s, a = "C.audio-format", f.session, o.audio
    if s is None:
        return not_graded(rule, "no session")
    expected = f"the {a.pcm_bytes} bytes of 16 kHz s16le mono PCM given, in binary frames"
    if s.audio_bytes == 0:
        texts = f" ({len(s.texts)} text frames)" if s.texts else ""
        return failed(rule, expected, f"no binary frame{texts}")
    if s.audio_bytes == a.pcm_bytes and s.audio_sha256 == a.sha256:
        return ok(rule)
    if s.audio_head.startswith(a.wav_head[:8]):
        return failed(rule, expected, "a WAV header sent as audio: send the samples only")
    if s.audio_bytes < a.pcm_bytes and not f.end_of_stream_sent:
        return not_graded(
            rule,
            f"the client stopped after {s.audio_bytes} of {a.pcm_bytes} bytes without "
            "end-of-stream (see C.end-of-stream)",
        )
    ratio = s.audio_bytes / a.pcm_bytes
    hints = {0.5: "8 kHz or 8-bit?", 2.0: "stereo, 32 kHz or 32-bit?", 2.76: "44.1 kHz?"}
    hint = next((h for r, h in hints.items() if abs(ratio - r) < 0.02), "")
    if s.audio_bytes == a.pcm_bytes:
        hint = "the same length, other bytes: byte order or sample format?"
    return failed(rule, expected, f"{s.audio_bytes} bytes ({ratio:.2f}×) {hint}".strip())


def frame_size(f: Facts, o: GradeOptions) -> Verdict:
    rule = "C.frame-size"
    sizes = [int(size) for _, size in f.frames]
    if not sizes:
        return not_graded(rule, "no audio frame (see C.audio-format)")
    body = sizes[:-1]  # the last frame holds what is left: any size
    common = max(set(sizes), key=sizes.count)
    context = f"{len(sizes)} frames, most of {common} bytes ({common / BYTES_PER_MS:g} ms)"
    expected = (
        f"whole samples, {MIN_FRAME_BYTES}-{MAX_FRAME_BYTES} bytes (10 ms-1 s) a frame "
        "(the last may be shorter)"
    )
    odd = [n for n in body if n % 2]
    small = [n for n in body if n < MIN_FRAME_BYTES]
    large = [n for n in body if n > MAX_FRAME_BYTES]
    findings = []
    if odd:
        findings.append(f"{len(odd)} odd-length frames (e.g. {odd[0]} bytes) split samples")
    if small:
        findings.append(f"{len(small)} frames under 10 ms (e.g. {small[0]} bytes)")
    if large:
        findings.append(f"{len(large)} frames over 1 s (e.g. {large[0]} bytes)")
    if findings:
        return lenient(rule, expected, "; ".join(findings), context)
    return ok(rule, context)


def pacing(f: Facts, o: GradeOptions) -> Verdict:
    rule, speed, tol = "C.pacing", f.speed(), o.pacing_tolerance
    if speed is None:
        one = len(f.frames) == 1 and o.audio.duration_s > 1
        if one:
            return lenient(rule, "real time", "all the audio in one frame")
        return not_graded(rule, "fewer than two audio frames (see C.audio-format)")
    expected = f"real time (1.00× ± {tol:.0%})"
    seen = "∞× real time" if speed == float("inf") else f"{speed:.2f}× real time"
    if speed > 1 + tol:
        return lenient(rule, expected, f"{seen}: faster than real time, which a server may refuse")
    if speed < 1 - tol:
        return failed(
            rule, expected, f"{seen}: slower than real time, the transcript lags more and more"
        )
    return ok(rule, seen)


def pacing_gaps(f: Facts, o: GradeOptions) -> Verdict:
    rule = "C.pacing-gaps"
    if len(f.frames) < 2:
        return not_graded(rule, "fewer than two audio frames (see C.audio-format)")
    gaps = f.gaps(GAP_TOLERANCE_MS)
    if not gaps:
        return ok(rule)
    worst = max(gaps, key=lambda g: g.excess_ms)
    return lenient(
        rule,
        f"no pause between frames beyond a frame's duration + {GAP_TOLERANCE_MS:g} ms",
        f"{len(gaps)} such pauses; the longest {worst.excess_ms:.0f} ms beyond, after "
        f"{worst.after_s:.2f} s of audio",
    )


def end_of_stream(f: Facts, o: GradeOptions) -> Verdict:
    rule, s = "C.end-of-stream", f.session
    if s is None:
        return not_graded(rule, "no session")
    expected = f"one text frame {o.dialect.end_of_stream_message()} after the last audio frame"
    eos = [t for t in s.texts if t.kind == "end-of-stream"]
    other = [t for t in s.texts if t.kind != "end-of-stream"]
    if not eos and f.killed and not f.sent_all_audio:
        return not_graded(rule, "killed before all the audio was sent (see C.ends-in-time)")
    if other:
        hint = (
            " (the prose's 'end of stream' status is not the default)"
            if any("end of stream" in t.preview.lower() for t in other)
            else ""
        )
        quoted = f.run.redact(other[0].preview)
        return failed(rule, expected, f"a text frame that is not it: {quoted}{hint}")
    if not eos:
        return failed(rule, expected, "no end-of-stream message", f"the client {f.ended()}")
    if len(eos) > 1:
        return failed(rule, expected, f"{len(eos)} end-of-stream messages")
    if s.audio_after_eos:
        return failed(rule, expected, f"{s.audio_after_eos} audio frames after it")
    return ok(rule)


def waits_for_confirm(f: Facts, o: GradeOptions) -> Verdict:
    rule, s = "C.waits-for-confirm", f.session
    if s is None or s.end_of_stream_at is None:
        return not_graded(rule, "no end-of-stream message (see C.end-of-stream)")
    left, confirmed = f.client_left_at(), s.confirmed_at
    if left is not None and (confirmed is None or left < confirmed):
        return failed(
            rule,
            "the connection kept open until the confirmation",
            f"{f.how_left()} {1000 * (left - s.end_of_stream_at):.0f} ms after its "
            "end-of-stream, before the confirmation",
            f"the client {f.ended()}",
        )
    if confirmed is None:
        return not_graded(rule, f"the server never confirmed; the client {f.ended()}")
    return ok(rule, f"confirmation {1000 * (confirmed - s.end_of_stream_at):.0f} ms after it")


def close_1000(f: Facts, o: GradeOptions) -> Verdict:
    rule, s = "C.close-1000", f.session
    if s is None:
        return not_graded(rule, "no session")
    if f.killed and s.client_close_at is None:
        return not_graded(rule, "killed before it closed (see C.ends-in-time)")
    expected = "a close frame with code 1000 after the confirmation"
    if s.client_close_code is None:
        answer = " in answer to the server's" if s.server_close_code is not None else ""
        return failed(rule, expected, f"no close frame{answer}: the TCP connection just ended")
    if s.client_close_code == 1000:
        return ok(rule)
    seen = f"close code {s.client_close_code} {s.client_close_reason!r}".rstrip(" '")
    if s.client_close_code in LENIENT_CLOSE_CODES:
        return lenient(rule, expected, f"{seen}: lawful, but 1000 says the session ended well")
    return failed(rule, expected, seen)


def shows_text(f: Facts, o: GradeOptions) -> Verdict:
    rule, s, p = "C.shows-text", f.session, f.process
    if o.shows_text == "no":
        return not_graded(rule, "not checked (--shows-text no)")
    if s is None or p is None:
        return not_graded(rule, "no session")
    if o.shows_text == "auto" and not p.stdout.strip():
        return not_graded(
            rule, "the client printed nothing on stdout (--shows-text yes requires it)"
        )
    finals = s.finals
    if not finals:
        return not_graded(rule, "the server sent no final text")
    missing = find_in_order(p.stdout, finals)
    if missing is not None and find_in_order(p.stderr_tail, finals) is None:
        missing = None  # shown on stderr: still shown
    if missing is None:
        return ok(rule, f"{len(finals)} final texts shown")
    text = finals[missing]
    tail = f.run.redact(p.stdout[-300:])
    return failed(
        rule,
        f"the {len(finals)} final texts the server sent, in order, in the output",
        f"final {missing + 1} of {len(finals)} {text!r} not shown after the ones before it",
        f"stdout ends: {tail!r}",
    )


def exit_0(f: Facts, o: GradeOptions) -> Verdict:
    rule = "C.exit-0"
    if f.killed or f.process is None:
        return not_graded(rule, "killed (see C.ends-in-time)")
    if f.exit_code == 0:
        return ok(rule)
    return failed(rule, "exit code 0", f"exit code {f.exit_code}", stderr_context(f))


def exit_nonzero(f: Facts, o: GradeOptions) -> Verdict:
    rule = "C.exit-nonzero"
    if f.killed or f.process is None:
        return not_graded(rule, "killed (see C.ends-in-time)")
    if f.exit_code != 0:
        return ok(rule, f"exit code {f.exit_code}")
    return failed(
        rule,
        "a non-zero exit code: the session failed",
        f"exit code 0 ({f.run.scenario.summary})",
        "a script that calls the client would carry on with a missing transcript",
    )


def ends_in_time(f: Facts, o: GradeOptions) -> Verdict:
    rule, p = "C.ends-in-time", f.process
    if p is None:
        return not_graded(rule, "did not run")
    if not p.killed:
        return ok(rule, f"ended by itself after {p.seconds:.1f} s")
    s = f.session
    doing = ""
    if s is not None and s.end_of_stream_at is not None and s.confirmed_at is None:
        doing = f"it sent end-of-stream {p.ended - s.end_of_stream_at:.1f} s before it was killed"
    return failed(
        rule,
        f"the client ends by itself within {p.bound_s:.1f} s (audio + delay + grace)",
        f"still running after {p.bound_s:.1f} s: killed",
        doing,
        stderr_context(f),
    )


def no_tight_retry(f: Facts, o: GradeOptions) -> Verdict:
    rule = "C.no-tight-retry"
    times = [h.at for h in f.attempts]
    n = len(times) + f.attempts_not_kept
    if n <= 1:
        return ok(rule, "one handshake")
    in_a_second = max(sum(1 for u in times[i:] if u - t < 1.0) for i, t in enumerate(times))
    span = times[-1] - times[0]
    seen = f"{n} handshakes in {span:.1f} s, up to {in_a_second} within one second"
    expected = "no retry of a refused key, or retries at least a second apart"
    if in_a_second >= TIGHT_RETRIES_PER_S or n > MAX_RETRIES:
        return failed(rule, expected, f"{seen}: a tight retry loop")
    return lenient(rule, expected, f"{seen}: a 401 does not go away by retrying")
