"""stvsr: space-time video super-resolution (MBnet and variants).

  stvsr models                the shipped and baseline models
  stvsr upscale clip.mp4      x4 space, x2 time -> clip_stvsr.mp4, sound kept
  stvsr demo                  train a small MBnet, compare, write a report
  stvsr train --config tiny   train (a shipped config name, or a file)
  stvsr eval --model NAME ... evaluate models with a standard protocol

Run `stvsr COMMAND --help` for a command's options.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "SUBCOMMANDS",
    "ModelEntry",
    "list_models",
    "format_models",
    "add_arguments",
    "run_models",
    "build_parser",
    "main",
    "cli_reference_markdown",
]

#: Subcommand -> (module implementing ``add_arguments(parser)`` and ``main(args) -> int``, one-line help);
#: ``models`` is implemented here (:func:`add_arguments`, :func:`run_models`).
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "train": ("stvsr_blocks.recipe.train", "train a model (config by name or file; resume, torchrun DDP, AMP)"),
    "eval": ("stvsr_blocks.recipe.evaluate", "evaluate checkpoints, shipped models or baselines on a dataset"),
    "upscale": ("stvsr_blocks.recipe.upscale", "upscale a video file or frame folder (x4 space, xN time, audio kept)"),
    "demo": ("stvsr_blocks.recipe.demo", "train on synthetic video and write a report (no data needed)"),
    "models": ("stvsr_blocks.cli", "list the shipped and baseline models (name, parameters, purpose)"),
}

_BASELINE_PURPOSE: dict[str, str] = {
    "bicubic-blend": "bicubic upsampling; the middle frame is the average of its neighbours (floor to beat)",
    "bicubic-flow": "bicubic upsampling; the middle frame blends both neighbours warped by classical optical flow",
    "ffmpeg": "what FFmpeg alone gives: lanczos scaling + minterpolate motion-compensated interpolation (x2 only)",
}


@dataclass(frozen=True)
class ModelEntry:
    """One row of ``stvsr models``.

    Args:
        name: what ``--model`` accepts.
        kind: ``"shipped"`` (trained weights inside the package) or ``"baseline"`` (no learned weights).
        parameters: number of parameters, or ``None`` when the weights are not installed.
        status: ``"installed"``, ``"not installed"``, ``"corrupt"`` (checksum mismatch) or ``"built in"``.
        purpose: one line: what it is and what it is for.
        default: whether ``upscale``/``eval`` use it when ``--model`` is not given.
    """

    name: str
    kind: str
    parameters: int | None
    status: str
    purpose: str
    default: bool = False


def _safetensors_numel(path: Path) -> int:
    """Total number of elements of a safetensors file, read from its header only."""
    with open(path, "rb") as fh:
        size = int.from_bytes(fh.read(8), "little")
        header = json.loads(fh.read(size))
    total = 0
    for key, meta in header.items():
        if key == "__metadata__":
            continue
        n = 1
        for d in meta["shape"]:
            n *= int(d)
        total += n
    return total


def list_models() -> list[ModelEntry]:
    """The models ``--model`` accepts by name: shipped ones first, then the baselines.

    A shipped model whose files are missing from this installation is listed as ``"not installed"``.

    Returns:
        The entries.
    """
    from stvsr_blocks.models import count_parameters
    from stvsr_blocks.pretrained import DEFAULT_MODEL, PRETRAINED, pretrained_dir
    from stvsr_blocks.recipe.evaluate import BASELINES

    rows = []
    for name, entry in PRETRAINED.items():
        params: int | None = None
        try:
            folder = pretrained_dir(name)
            params = _safetensors_numel(folder / "model.safetensors")
            status = "installed"
        except FileNotFoundError:
            status = "not installed"
        except (ValueError, OSError, KeyError):
            status = "corrupt"
        rows.append(ModelEntry(name, "shipped", params, status, entry.summary, name == DEFAULT_MODEL))
    for name, build in BASELINES.items():
        model = build(4)
        doc = (getattr(model, "__doc__", None) or "").strip().splitlines()
        purpose = _BASELINE_PURPOSE.get(name, doc[0] if doc else "")
        rows.append(ModelEntry(name, "baseline", count_parameters(model, trainable_only=False), "built in", purpose,
                               name == DEFAULT_MODEL))
    return rows


def format_models(rows: Sequence[ModelEntry]) -> str:
    """Render :func:`list_models` as an aligned text table with a usage line.

    Args:
        rows: the entries.

    Returns:
        The text (no trailing newline).
    """
    table = [("NAME", "KIND", "PARAMETERS", "STATUS", "PURPOSE")]
    for r in rows:
        table.append((r.name + (" *" if r.default else ""), r.kind,
                      "-" if r.parameters is None else f"{r.parameters:,}", r.status, r.purpose))
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    lines = ["  ".join([c.ljust(w) for c, w in zip(row[:4], widths)] + [row[4]]).rstrip() for row in table]
    lines.append("")
    lines.append("* default of upscale and eval.  Use one with: stvsr upscale VIDEO --model NAME; --model also takes a "
                 "checkpoint or run folder from `stvsr train`.")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``models`` options.

    Args:
        parser: the sub-command parser.
    """
    parser.add_argument("--json", action="store_true", help="print the list as JSON")


def run_models(args: argparse.Namespace) -> int:
    """Run the ``models`` sub-command.

    Args:
        args: parsed arguments.

    Returns:
        0.
    """
    rows = list_models()
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
    else:
        print(format_models(rows))
    return 0


def _handlers(name: str) -> tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int], str]:
    if name == "models":
        return add_arguments, run_models, SUBCOMMANDS[name][1]
    mod = importlib.import_module(SUBCOMMANDS[name][0])
    return mod.add_arguments, mod.main, (mod.__doc__ or SUBCOMMANDS[name][1]).strip()


def build_parser(command: str | None = None, *, prog: str = "stvsr", full: bool = False) -> argparse.ArgumentParser:
    """The command-line parser.

    Only the chosen subcommand's module is imported (so ``stvsr --help`` and ``stvsr models`` start fast);
    the others get a placeholder parser.

    Args:
        command: the subcommand whose options are registered (``None``: none of them).
        prog: program name shown in usage lines.
        full: register every subcommand's options (for the generated command-line reference).

    Returns:
        The parser; parsed arguments carry the subcommand's ``main`` as ``_main``.
    """
    from stvsr_blocks import __version__

    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(SUBCOMMANDS) + "}")
    for name, (_, help_text) in SUBCOMMANDS.items():
        if name != command and not full:
            sub.add_parser(name, help=help_text, add_help=False)
            continue
        add, run, description = _handlers(name)
        p = sub.add_parser(name, help=help_text, description=description,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        add(p)
        p.set_defaults(_main=run)
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str = "stvsr") -> int:
    """Run the command line.

    Args:
        argv: arguments without the program name (default: ``sys.argv[1:]``).
        prog: program name shown in usage and error lines.

    Returns:
        The exit status: 0 on success, 2 on a usage or input error (one line on stderr).
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args_list if not a.startswith("-")), None)
    args = build_parser(command if command in SUBCOMMANDS else None, prog=prog).parse_args(args_list)
    return int(args._main(args) or 0)


def cli_reference_markdown(prog: str = "stvsr", width: int = 78) -> str:
    """The command-line reference page: the usage and options of every subcommand, generated from the parsers.

    Each subcommand's section shows its one-line summary, a link to the API page of the module that implements
    it (whose docstring is the subcommand's full description) and its ``--help`` without that description.

    Args:
        prog: program name shown in the usage lines.
        width: text width of the help output.

    Returns:
        Markdown: one section per subcommand with its usage and options in a code block.
    """
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)  # argparse wraps to the terminal width; fix it for a stable page
    try:
        parser = build_parser(prog=prog, full=True)
        subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parts = ['<div class="cli-reference" markdown>\n', f"## `{prog}`\n", "```text", parser.format_help().rstrip(),
                 "```\n"]
        for name, (module, help_text) in SUBCOMMANDS.items():
            page = module.removeprefix("stvsr_blocks.").replace(".", "/")
            parts += [f"## `{prog} {name}`\n",
                      f"{help_text[0].upper()}{help_text[1:]}. Details: [`{module}`](../api/{page}.md).\n",
                      "```text", _help_without_description(subparsers.choices[name]), "```\n"]
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old
    return "\n".join([*parts, "</div>\n"])


def _help_without_description(parser: argparse.ArgumentParser) -> str:
    description = parser.description
    parser.description = None
    try:
        return parser.format_help().rstrip()
    finally:
        parser.description = description
