#!/usr/bin/env python
"""Alias of the ``stvsr`` command for a source checkout: ``python recipes/mbnet.py {train,eval,upscale,demo,models}``.

The command lives in :mod:`stvsr_blocks.cli` (installed as ``stvsr``; also ``python -m stvsr_blocks``);
this file only makes it runnable without installing the package.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Allow running from a source checkout without installing.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stvsr_blocks.cli import SUBCOMMANDS, build_parser  # noqa: E402
from stvsr_blocks.cli import main as _main  # noqa: E402

__all__ = ["SUBCOMMANDS", "build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run the ``stvsr`` command line under the name ``mbnet.py``.

    Args:
        argv: arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    return _main(argv, prog="mbnet.py")


if __name__ == "__main__":
    sys.exit(main())
