"""``python -m maskproof``: the same command line as the ``maskproof`` console script."""

from __future__ import annotations

import sys

from maskproof.bridge.cli import main

sys.exit(main())
