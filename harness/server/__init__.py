"""The embedded reference asrx server.

A websockets asyncio server speaking docs/protocol.md, for running the conformance suite,
the load harness and client grading anywhere with no network, and for misbehaving on
purpose (``faults``, ``hazards``).

Layout::

    config.py       options (shared by ``asrx serve`` and ``python -m harness.server``)
    auth.py         API keys: loading and constant-time checking
    faults.py       the deliberate protocol defects and the hazards: names, ``FaultPolicy``
    clientlog.py    what each client did (``--record-clients``), for grading clients
    observability   Prometheus metrics (per-server registry) and JSON log lines
    engines/        recognizers: pocketsphinx (worker processes) and synthetic; ``ENGINES``
    connection.py   the WebSocket connection: send-backlog bound, shedding, the session slot
    app.py          handshake policy (paths, auth, slots, /healthz, /metrics) and lifecycle
    session.py      one session's reader: audio in, VAD sentences, commands, timeouts
    decoder.py      one session's decoder task: commands -> recognizer -> replies
    replies.py      what a session says, built with the protocol core's encoder
    outbox.py       the per-session send queue (``--delay-ms``, close), bounded
    embedded.py     ``EmbeddedServer``: the server as a subprocess, for tests and tools
"""
