"""asrx-harness: conformance and load testing for asrx real-time ASR WebSocket services.

Architecture (see README): ``harness.protocol`` is the Sans-I/O core every other part
uses; ``harness.client`` (asyncio), ``harness.server`` (asyncio), ``locustfiles`` (gevent)
and ``harness.cli`` are thin I/O adapters around it.
"""

__version__ = "0.1.0"
