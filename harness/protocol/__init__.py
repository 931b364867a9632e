"""The Sans-I/O asrx protocol core: no sockets, no clocks of its own.

- ``dialect``: names and messages that vary between deployments (PROTOCOL.md §1-4);
- ``audio``: the PCM format and frame arithmetic (§2);
- ``events`` and ``messages``: server messages parsed into typed events or findings (§3-4);
- ``state``: the session lifecycle as a transition table;
- ``session``: ``ClientSession``, the client side, fed bytes and times by an I/O adapter;
- ``timeline`` and ``metrics``: what happened when, and the §5 latencies derived from it;
- ``pacing``: real-time send deadlines.
"""
