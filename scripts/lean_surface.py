"""Regenerate spec/lean_surface.tsv and the locations of spec/lean_declarations.tsv.

Usage: .venv/bin/python scripts/lean_surface.py ROOT, where ROOT holds the pinned TorchLean files
as ROOT/<commit[:7]>/<path> (read them with the search tool at the commits of spec/lean_pin.tsv;
each is checked against its recorded SHA-256). A wrapper, so that ``maskproof.spec`` (which
imports every module of the package) is not imported twice as ``python -m`` would.
"""

import sys

from maskproof.spec.lean_surface import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
