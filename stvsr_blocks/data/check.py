"""Command line: check a dataset tree before training or evaluating on it.

Usage::

    python -m stvsr_blocks.data.check ROOT --layout vimeo-septuplet [--split test] [--deep] [--scale 4]

Prints a one-line summary (``N clips OK``) and exits with status 0 when the tree is usable; otherwise
prints every problem (missing list file, list entry whose folder is missing, missing frame file,
unreadable image, frames of mismatched size, LR/HR size not matching the scale, empty folder) and exits
with status 1. Without ``--deep`` only existence is checked (fast even for the 90k Vimeo clips).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from stvsr_blocks.data.layouts import LAYOUTS, inspect_layout

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the checker command.

    The ``--layout``/``--split`` choices are the on-disk layouts registered when it is called.

    Returns:
        An :class:`argparse.ArgumentParser` for ``ROOT --layout L [--split S] [--deep] [--scale N] [--limit N]``.
    """
    p = argparse.ArgumentParser(
        prog="python -m stvsr_blocks.data.check",
        description="Check that a dataset tree matches a published layout; list everything missing or malformed.",
    )
    p.add_argument("root", help="dataset root (a video file or folder of videos for --layout video)")
    on_disk = [name for name, lay in LAYOUTS.items() if lay.on_disk]  # read now: includes registered layouts
    splits = sorted({s for name in on_disk for s in LAYOUTS[name].splits})
    p.add_argument("--layout", required=True, choices=on_disk, help="the layout of the tree")
    p.add_argument("--split", choices=splits, default=None, help="split to check, e.g. Vimeo's (default: all)")
    p.add_argument("--deep", action="store_true", help="decode every image and compare sizes (slow)")
    p.add_argument("--scale", type=int, default=4, help="expected HR/LR size ratio where LR frames exist (Vid4)")
    p.add_argument("--limit", type=int, default=200, help="print at most this many problems (0: all)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the checker.

    Args:
        argv: command-line arguments without the program name (``None``: ``sys.argv[1:]``).

    Returns:
        0 when no problem was found, 1 otherwise (2 for invalid arguments, from :mod:`argparse`).

    Example:
        >>> import tempfile
        >>> main([tempfile.mkdtemp(), "--layout", "frames"])  # doctest: +ELLIPSIS
        empty folder: ...
        frames at ...: 1 problem(s); 0 of 0 clips OK
        1
    """
    args = build_parser().parse_args(argv)
    report = inspect_layout(args.root, args.layout, args.split, deep=args.deep, scale=args.scale)
    shown = report.problems if args.limit <= 0 else report.problems[: args.limit]
    for line in shown:
        print(line)
    if len(shown) < len(report.problems):
        print(f"... and {len(report.problems) - len(shown)} more (use --limit 0 to list all)")
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
