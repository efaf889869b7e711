"""Shipped weights, loaded by name offline: ``load_pretrained("mbnet-photo")``.

Each entry is a folder beside this file holding ``model.safetensors`` and ``config.json`` (the
:func:`~stvsr_blocks.models.save_pretrained` format) and is listed in :data:`PRETRAINED` with the
SHA-256 of its weights, which :func:`pretrained_dir` checks before a model is built. The folders ship
inside the wheel as package data, so loading by name needs neither a source checkout nor a network.

Example:
    >>> sorted(PRETRAINED)[:1]
    ['mbnet-photo']
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PretrainedEntry", "PRETRAINED", "DEFAULT_MODEL", "pretrained_dir", "sha256_file"]


@dataclass(frozen=True)
class PretrainedEntry:
    """One shipped model.

    Args:
        folder: folder name beside this module.
        sha256: SHA-256 of its ``model.safetensors``.
        summary: one line: what it is and what it is for.
        card: docs page of its model card.
    """

    folder: str
    sha256: str
    summary: str
    card: str


#: Shipped models by name.
PRETRAINED: dict[str, PretrainedEntry] = {
    "mbnet-photo": PretrainedEntry(
        folder="mbnet_photo",
        sha256="54b983d19544d690caafc20d4e94007a7ada3e57390643103affe59211b9c6d8",
        summary="MBnet (classical LR flow, PAC refiner, RDN, GridNet; any t) trained on photo-textured video; "
        "the default of upscale and eval",
        card="docs/models/mbnet_photo.md",
    ),
}

#: The model ``upscale`` and ``eval`` use when ``--model`` is not given.
DEFAULT_MODEL = "mbnet-photo"


def sha256_file(path: str | Path) -> str:
    """SHA-256 hex digest of a file (read in 1 MiB blocks).

    Args:
        path: the file.

    Returns:
        The digest.
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pretrained_dir(name: str, *, verify: bool = True) -> Path:
    """The folder of a shipped model, its weights' checksum verified.

    Args:
        name: a key of :data:`PRETRAINED`.
        verify: check the SHA-256 of ``model.safetensors``.

    Returns:
        The folder (``config.json`` + ``model.safetensors``).

    Raises:
        KeyError: if ``name`` is not a shipped model (the message lists them).
        FileNotFoundError: if its files are missing from this installation.
        ValueError: if the weights' checksum does not match (a corrupt or altered file).
    """
    if name not in PRETRAINED:
        raise KeyError(f"name: {name!r} is not a shipped model; shipped: {', '.join(sorted(PRETRAINED))}")
    entry = PRETRAINED[name]
    folder = Path(__file__).resolve().parent / entry.folder
    weights = folder / "model.safetensors"
    for f in (weights, folder / "config.json"):
        if not f.is_file():
            raise FileNotFoundError(f"shipped model {name!r}: {f} is missing from this installation "
                                    "(reinstall stvsr-blocks)")
    if verify and entry.sha256:
        digest = sha256_file(weights)
        if digest != entry.sha256:
            raise ValueError(f"shipped model {name!r}: {weights} has SHA-256 {digest}, expected {entry.sha256} "
                             "(the file is corrupt or was altered; reinstall stvsr-blocks)")
    return folder
