"""``python -m harness.server``: the same options as ``asrx serve``."""

from __future__ import annotations

import sys

from harness.cli.serve import main

if __name__ == "__main__":
    sys.exit(main())
