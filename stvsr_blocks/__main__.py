"""``python -m stvsr_blocks``: the ``stvsr`` command (see :mod:`stvsr_blocks.cli`)."""

from __future__ import annotations

import sys

from stvsr_blocks.cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m stvsr_blocks"))
