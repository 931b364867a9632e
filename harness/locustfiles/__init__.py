"""The locustfiles ``asrx load`` runs, shipped with the package.

``stream.py`` is the asrx user with the SLO gate and reports; ``capacity.py`` adds the
step ramp. ``asrx load`` hands their installed path to ``locust -f``, so every Locust
option works unchanged; the checkout's top-level ``locustfiles/`` import these modules.
``locustfile(name)`` gives the path of one.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

#: The packaged locustfiles by name.
NAMES = ("stream", "capacity")


def locustfile(name: str) -> Traversable:
    """The packaged locustfile ``name`` (``stream`` or ``capacity``)."""
    if name not in NAMES:
        raise ValueError(f"no packaged locustfile {name!r} (known: {', '.join(NAMES)})")
    return resources.files(__name__) / f"{name}.py"
