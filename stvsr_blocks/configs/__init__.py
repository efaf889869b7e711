"""Training configs shipped with the package, selectable by name: ``stvsr train --config tiny``.

The YAML files beside this module are package data, so an installed wheel has them too (a source checkout
also reaches them as ``recipes/configs/``). :func:`resolve_config_path` turns what the user typed after
``--config`` into a file: an existing path wins, otherwise a shipped name with or without ``.yaml``.

| name | what it trains |
| --- | --- |
| `tiny` | the smallest model, a few seconds on one CPU core (tests, smoke runs) |
| `cpu_small` | a small MBnet on the built-in synthetic video, about an hour on a laptop CPU |
| `mbnet_photo` | the shipped model `mbnet-photo` on photo-textured video |
| `mbnet_photo_gpu` | `mbnet-photo`'s architecture for a time-boxed GPU run (:mod:`stvsr_blocks.recipe.device`) |
| `mbnet_large_gpu` | `mbnet-large` (≈3.9M, RDN D8C4, GridNet 24/48/72) for a time-boxed GPU run |
| `mbnet_paper` | the paper's ~30.8M model on Vimeo-90K septuplets |

Example:
    >>> sorted(config_names())
    ['cpu_small', 'mbnet_large_gpu', 'mbnet_paper', 'mbnet_photo', 'mbnet_photo_gpu', 'tiny']
    >>> resolve_config_path("tiny").name
    'tiny.yaml'
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CONFIG_DIR", "config_names", "resolve_config_path"]

#: Folder of the shipped config files.
CONFIG_DIR: Path = Path(__file__).resolve().parent

_SUFFIXES = (".yaml", ".yml", ".json")


def config_names() -> list[str]:
    """Names of the shipped configs (file names without suffix).

    Returns:
        The names, sorted.
    """
    return sorted(p.stem for p in CONFIG_DIR.iterdir() if p.suffix in _SUFFIXES)


def resolve_config_path(name_or_path: str | os.PathLike[str]) -> Path:
    """The config file meant by ``--config``: an existing file, else a shipped config of that name.

    Args:
        name_or_path: a path to a YAML/JSON file, or a shipped config's name (``"tiny"`` or ``"tiny.yaml"``).

    Returns:
        The path of an existing file.

    Raises:
        FileNotFoundError: naming ``--config``, the value and the shipped names, if neither exists.
    """
    text = os.fspath(name_or_path)
    path = Path(text).expanduser()
    if path.is_file():
        return path
    if text and os.sep not in text and "/" not in text:
        stem = path.stem if path.suffix in _SUFFIXES else path.name
        for suffix in _SUFFIXES:
            shipped = CONFIG_DIR / f"{stem}{suffix}"
            if shipped.is_file() and (path.suffix in ("", suffix)):
                return shipped
    raise FileNotFoundError(
        f"--config: {text!r} is neither a config file nor a shipped config name "
        f"(shipped: {', '.join(config_names())})"
    )
