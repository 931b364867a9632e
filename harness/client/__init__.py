"""The client's I/O adapters, side by side over one Sans-I/O core (``harness.protocol.wire``).

- ``aio``: asyncio streams; ``stream`` runs a whole session (``asrx stream``, the suite);
- ``gevent_client``: a gevent socket; ``stream`` is the Locust user's session;
- ``raw``: ``RawSession``, a session driven step by step by the conformance probes;
- ``target``: where a server is and how to reach it (URL, key, TLS, dialect, timeouts,
  limits), and ``connect_error``, the one mapping of connection failures;
- ``sources`` and ``display``: ``asrx stream``'s audio sources and output.

The adapters only read, write, sleep and read the clock; what a session means (framing,
decoding, limits, pacing deadlines, how it ends, which rules it broke) is the core's, so
the same server gets the same findings from every one of them.
"""
