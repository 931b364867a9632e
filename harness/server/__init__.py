"""The embedded reference asrx server (issue 3).

A websockets asyncio server speaking PROTOCOL.md, for running the conformance suite and the
load harness anywhere with no network, and for misbehaving on purpose (``faults``).

Layout::

    config.py       options (shared by ``asrx serve`` and ``python -m harness.server``)
    auth.py         API keys: loading and constant-time checking
    faults.py       the deliberate protocol defects, by name
    observability   Prometheus metrics (per-server registry) and JSON log lines
    engines/        recognizers: pocketsphinx (worker processes) and synthetic
    outbox.py       the per-session send queue (``--delay-ms``, close, abort)
    session.py      one WebSocket session: audio in, VAD sentences, transcripts out
    app.py          handshake policy (paths, auth, caps, /healthz, /metrics) and lifecycle
    embedded.py     ``EmbeddedServer``: the server as a subprocess, for tests and tools
"""
