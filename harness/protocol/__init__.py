"""The Sans-I/O asrx protocol core: no sockets, no clocks of its own.

- ``dialect``: names and messages that vary between deployments (docs/protocol.md §1-4);
- ``audio``: the PCM format and frame arithmetic (§2);
- ``events`` and ``messages``: server messages parsed into typed events or findings (§3-4);
- ``rules``: every rule id a finding can name;
- ``state``: the session lifecycle as a transition table;
- ``session``: ``ClientSession``, the client side of the asrx session, bounded in memory;
- ``wire``: ``Wire``, a ``ClientSession`` over websockets' Sans-I/O ``ClientProtocol``: what
  every I/O adapter in ``harness.client`` drives;
- ``pacing``: real-time send deadlines;
- ``ending``: how a session ends (waits, end kinds, the rules each end breaks);
- ``result``: ``StreamResult`` and the latency samples of a whole session;
- ``timeline`` and ``metrics``: what happened when, and the §5 latencies derived from it;
- ``escape``: server text made safe for any output.
"""
