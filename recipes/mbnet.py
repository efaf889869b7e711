#!/usr/bin/env python
"""MBnet recipe: ``python recipes/mbnet.py {train,eval,upscale,demo} --help``.

- ``train``   train a model (config file + command-line overrides; synthetic or real data;
              checkpoints, exact resume, torchrun DDP, AMP).
- ``eval``    evaluate a checkpoint or a baseline on a dataset layout with a protocol preset.
- ``upscale`` x4 space / x2 time upscaling of a video file or frame folder (tiled, streamed).
- ``demo``    the embedded default: train a small MBnet on synthetic video, compare with baselines,
              write a report folder.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

# Allow running from a source checkout without installing.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SUBCOMMANDS = {
    "train": ("stvsr_blocks.recipe.train", "train a model"),
    "eval": ("stvsr_blocks.recipe.evaluate", "evaluate a checkpoint or baseline"),
    "upscale": ("stvsr_blocks.recipe.upscale", "upscale a video file or frame folder"),
    "demo": ("stvsr_blocks.recipe.demo", "train on synthetic video and write a report (no data needed)"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command-line parser; only the chosen subcommand's module is imported."""
    parser = argparse.ArgumentParser(prog="mbnet.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="{train,eval,upscale,demo}")
    for name, (module, help_text) in SUBCOMMANDS.items():
        if name != command:
            sub.add_parser(name, help=help_text, add_help=False)
            continue
        mod = importlib.import_module(module)
        p = sub.add_parser(name, help=help_text, description=(mod.__doc__ or help_text).strip(),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_main=mod.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command if command in SUBCOMMANDS else None).parse_args(argv)
    return int(args._main(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
