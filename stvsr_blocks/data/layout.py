"""The :class:`Layout` descriptor: everything the library knows about one dataset layout, in one record.

A layout is either an **on-disk tree** (it has a clip lister: Vimeo-90K, Vid4, a folder of frames, ...) or
**rendered** (no files to list: the synthetic and photo-textured videos). The registry of layouts, the
built-in ones and the checker live in :mod:`stvsr_blocks.data.layouts`; :func:`~stvsr_blocks.data.layouts.
register_layout` adds a user's layout there, after which ``open_dataset``, the checker command, ``eval
--layout`` and the training recipe's ``data.layout`` accept it with no other edit.

This module holds only the types (no layout names), so every module of :mod:`stvsr_blocks.data` can use
them without importing the readers.

Example:
    >>> from pathlib import Path
    >>> def list_pairs(root, splits, problems):
    ...     return [ClipSpec(d.name, (d / "a.png", d / "b.png")) for d in sorted(Path(root).iterdir())]
    >>> lay = Layout("pairs", "two-frame folders <clip>/a.png, b.png", protocol="stvsr-vid4", list_clips=list_pairs)
    >>> lay.on_disk, lay.check_split(None)
    (True, ())
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CHECK_HINT", "ClipSpec", "Layout", "ListingProblems", "Lister", "Reader"]

#: The checker command named in listing errors (``root`` and ``layout`` are filled in).
CHECK_HINT = "python -m stvsr_blocks.data.check {root} --layout {layout}"


@dataclass(frozen=True)
class ClipSpec:
    """Where the frames of one clip live (no pixels are read).

    Args:
        name: clip identifier, e.g. ``"00001/0001"`` (Vimeo) or ``"calendar"`` (Vid4).
        hr: HR frame files in temporal order (empty for a video clip or an LR-only frame folder).
        lr: LR frame files, one per HR frame, or ``None`` when the dataset provides none.
        frame_names: a name per frame for reporting (e.g. ``("im1.png", ...)``).
        video: the video file of a ``video`` layout clip, else ``None``.
        origin: where the clip was listed from (e.g. ``"sep_testlist.txt line 3"``), for messages.
    """

    name: str
    hr: tuple[Path, ...]
    lr: tuple[Path, ...] | None = None
    frame_names: tuple[str, ...] = ()
    video: Path | None = None
    origin: str = ""


class ListingProblems:
    """What a clip lister reports: raised at the first problem (readers) or collected (the checker).

    A lister calls :meth:`add` for every structural problem it finds and carries on (listing what it
    can); in reader mode the first call raises, naming the checker command.

    Args:
        strict: raise on :meth:`add` (``True``, readers) or collect in :attr:`items` (``False``, checker).
        root: the dataset root, for the hint.
        layout: the layout name, for the hint.
    """

    def __init__(self, strict: bool, root: Path, layout: str) -> None:
        self.strict = strict
        self.items: list[str] = []
        self.hint = CHECK_HINT.format(root=root, layout=layout)

    def add(self, msg: str, exc: type[Exception] = FileNotFoundError) -> None:
        """Report one problem.

        Args:
            msg: the problem, naming the path (e.g. ``"missing folder: /data/x/sequences"``).
            exc: exception type raised in strict mode (``FileNotFoundError`` for missing parts,
                ``ValueError`` for malformed ones).

        Raises:
            Exception: ``exc`` with ``msg`` and the checker command, in strict mode.
        """
        if self.strict:
            raise exc(f"{msg} (run `{self.hint}` to list every problem)")
        self.items.append(msg)


#: A clip lister: ``(root, splits, problems) -> clips``; ``splits`` are the checked splits (empty without splits).
Lister = Callable[[Path, tuple[str, ...], ListingProblems], list[ClipSpec]]
#: A reader/dataset factory: ``(root, split, **options) -> Dataset`` whose items have ``name`` and ``hr``.
Reader = Callable[..., Any]


def _nonempty_str(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name}: expected a non-empty string, got {value!r}")
    return value


@dataclass(frozen=True)
class Layout:
    """One dataset layout: how its clips are listed and read, its splits, and how the recipes use it.

    Args:
        name: the name given to ``open_dataset``, ``--layout`` and ``data.layout`` (e.g. ``"vid4"``).
        description: one line for listings and docs (the tree under ``root``, or what is rendered).
        protocol: evaluation protocol used when ``eval`` is given no ``--protocol``
            (a name of :data:`stvsr_blocks.metrics.PROTOCOLS`).
        list_clips: the clip lister of an on-disk tree (``None``: a rendered layout, nothing to list or check).
        reader: ``(root, split, **options) -> Dataset``. ``None`` (on-disk layouts only): a plain
            :class:`~stvsr_blocks.data.datasets.ClipDataset` over ``list_clips``. On-disk readers accept
            ``max_frames``; rendered ones the evaluation options ``n_clips``, ``size``, ``frames``, ``seed``,
            ``max_frames`` (and ``config``, their clip config).
        splits: the split names (empty: the layout has none and ``split`` must be ``None``).
        eval_split: split evaluated when ``eval`` is given no ``--split`` (required when ``splits`` is set).
        val_split: split holding this layout's validation clips for a training run (``None``: none; for an
            on-disk tree the recipe's ``data.val_split`` picks the split).
        exact_flow: samples carry exact flows (rendered motion), so the flow loss needs no teacher.
        footage: real footage (long clips): training uses every 3-frame window of a clip except its
            held-out tail, which is the validation data.

    Raises:
        ValueError: if a name is empty, neither ``list_clips`` nor ``reader`` is given, or
            ``eval_split``/``val_split`` is not one of ``splits``.
    """

    name: str
    description: str
    protocol: str
    list_clips: Lister | None = None
    reader: Reader | None = None
    splits: tuple[str, ...] = ()
    eval_split: str | None = None
    val_split: str | None = None
    exact_flow: bool = False
    footage: bool = False

    def __post_init__(self) -> None:
        _nonempty_str(self.name, "name")
        _nonempty_str(self.description, "description")
        _nonempty_str(self.protocol, "protocol")
        if self.list_clips is None and self.reader is None:
            raise ValueError(f"layout {self.name!r}: expected list_clips (an on-disk tree) and/or reader, got neither")
        object.__setattr__(self, "splits", tuple(self.splits))
        for s in self.splits:
            _nonempty_str(s, "splits")
        if self.splits and self.eval_split is None:
            raise ValueError(f"eval_split: layout {self.name!r} has splits {self.splits}; expected one of them, got None")
        for field_name in ("eval_split", "val_split"):
            value = getattr(self, field_name)
            if value is not None and value not in self.splits:
                raise ValueError(f"{field_name}: expected one of {self.splits} (the layout's splits), got {value!r}")

    @property
    def on_disk(self) -> bool:
        """``True`` for a dataset tree (has a clip lister, needs a ``root``), ``False`` for rendered clips."""
        return self.list_clips is not None

    def check_split(self, split: str | None, *, strict: bool = True) -> tuple[str, ...]:
        """The splits that ``split`` selects.

        Args:
            split: a split name, or ``None``.
            strict: ``None`` is an error for a layout with splits (readers); ``False``: it selects all (checker).

        Returns:
            ``(split,)``, all splits (``None``, not strict), or ``()`` for a layout without splits.

        Raises:
            ValueError: if ``split`` is not one of the layout's splits, or is given to a layout without any.
        """
        if self.splits:
            if split is None:
                if strict:
                    choices = " or ".join(repr(s) for s in self.splits)
                    raise ValueError(f"split: layout {self.name!r} needs split={choices}, got None")
                return self.splits
            if split not in self.splits:
                raise ValueError(f"split: expected one of {self.splits} for layout {self.name!r}, got {split!r}")
            return (split,)
        if split is not None:
            raise ValueError(f"split: layout {self.name!r} has no splits; expected None, got {split!r}")
        return ()
