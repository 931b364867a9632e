"""asrx-harness: conformance and load testing for asrx real-time ASR WebSocket services.

Architecture (docs/architecture.md): ``harness.protocol`` is the Sans-I/O core every other
part uses; ``harness.client`` (asyncio), ``harness.server`` (asyncio), ``harness.load``
(gevent, under Locust) and ``harness.cli`` are thin I/O adapters around it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    # One source for the version: pyproject.toml, read back from the installed metadata.
    __version__ = version("asrx-harness")
except PackageNotFoundError:  # a source tree on sys.path that was never installed
    __version__ = "0+unknown"
