"""Dataset layouts: the registry of :class:`~stvsr_blocks.data.layout.Layout` records, clip listing, the tree check.

Built-in layouts (:data:`LAYOUTS`; ``python -m stvsr_blocks.data.check --help`` and ``eval --help`` list the same):

| name | tree under ``root`` | clip frames | default protocol |
| --- | --- | --- | --- |
| ``vimeo-septuplet`` | ``sequences/xxxxx/xxxx/im1..im7.png``, ``sep_trainlist.txt``, ``sep_testlist.txt`` | HR im1..im7 | ``stvsr-vimeo`` |
| ``vimeo-triplet`` | ``sequences/xxxxx/xxxx/im1..im3.png``, ``tri_trainlist.txt``, ``tri_testlist.txt`` | HR im1..im3 | ``stvsr-vimeo`` |
| ``vid4`` | ``GT/<clip>/`` + ``BIx4/<clip>/`` or ``HR/<clip>/`` + ``LR/<clip>/`` (LR optional) | HR (+ LR) | ``stvsr-vid4`` |
| ``ucf101`` | ``<id>/frame_00.png, frame_01_gt.png, frame_02.png`` | HR 00, 01_gt, 02 | ``vfi-ucf101`` |
| ``middlebury`` | ``other-data/<seq>/frame10.png, frame11.png``, ``other-gt-interp/<seq>/frame10i11.png`` | HR 10, 10i11, 11 | ``vfi-middlebury`` |
| ``frames`` | a folder of frames, or a folder of such folders (one clip each) | natural order | ``stvsr-vid4`` |
| ``video`` | a video file, or a folder of video files (one clip each) | decoded by PyAV | ``stvsr-vid4`` |
| ``synthetic`` | none (``root`` ignored): rendered sinusoid-texture video, splits = seed ranges | rendered | ``stvsr-vimeo`` |
| ``photos`` | optional folder of stills (default: the embedded photos of the split) | rendered | ``stvsr-vid4`` |

:func:`register_layout` adds a layout (see the guide "Add a dataset layout" in ``docs/contributing.md``);
:func:`get_layout` looks one up. :func:`list_clips` is what the readers in :mod:`stvsr_blocks.data.datasets` use
(cheap: the Vimeo lists are turned into paths without touching the frames). :func:`check_layout` /
:func:`inspect_layout` report every missing or malformed item of an on-disk tree up front instead of failing
mid-epoch; ``python -m stvsr_blocks.data.check`` is the command-line front end.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any

from stvsr_blocks._check import check_positive_int
from stvsr_blocks.data.io import image_size, list_images, natural_key
from stvsr_blocks.data.layout import ClipSpec, Layout, ListingProblems, Reader

__all__ = [
    "LAYOUTS",
    "SPLITS",
    "VIDEO_EXTENSIONS",
    "ClipSpec",
    "Layout",
    "LayoutReport",
    "ListingProblems",
    "get_layout",
    "register_layout",
    "list_clips",
    "inspect_layout",
    "check_layout",
]

_REGISTRY: dict[str, Layout] = {}
#: The registered layouts, name -> :class:`Layout` (a live read-only view; add with :func:`register_layout`).
LAYOUTS: Mapping[str, Layout] = MappingProxyType(_REGISTRY)
#: Splits of the Vimeo-90K layouts (their list files).
SPLITS: tuple[str, ...] = ("train", "test")
#: File suffixes (lower case) treated as videos when listing a folder for the ``video`` layout.
VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".y4m", ".mpg", ".mpeg", ".flv")


def register_layout(layout: Layout, *, replace: bool = False) -> Layout:
    """Add a layout to :data:`LAYOUTS`: ``open_dataset``, the checker, ``eval`` and ``train`` then accept its name.

    Args:
        layout: the :class:`Layout`.
        replace: allow replacing a registered layout of the same name.

    Returns:
        ``layout``.

    Raises:
        TypeError: if ``layout`` is not a :class:`Layout`.
        ValueError: if the name is taken and ``replace`` is ``False``.
    """
    if not isinstance(layout, Layout):
        raise TypeError(f"layout: expected a stvsr_blocks.data.layout.Layout, got {type(layout).__name__}")
    if layout.name in _REGISTRY and not replace:
        raise ValueError(f"layout: {layout.name!r} is already registered (pass replace=True to replace it)")
    _REGISTRY[layout.name] = layout
    return layout


def get_layout(name: object, *, on_disk: bool = False) -> Layout:
    """The registered layout called ``name``.

    Args:
        name: a layout name.
        on_disk: accept only layouts with a dataset tree (the checker: rendered layouts have nothing to check).

    Returns:
        The :class:`Layout`.

    Raises:
        ValueError: if no (on-disk) layout has this name; the message lists the names and the closest match.

    Example:
        >>> get_layout("vid4").protocol
        'stvsr-vid4'
    """
    names = [n for n, lay in _REGISTRY.items() if lay.on_disk or not on_disk]
    if isinstance(name, str) and name in names:
        return _REGISTRY[name]
    kind = "on-disk layouts" if on_disk else "layouts"
    close = difflib.get_close_matches(name, names, n=1) if isinstance(name, str) else []
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    if isinstance(name, str) and name in _REGISTRY:
        hint = f" ({name!r} renders its clips: there is no dataset tree to list or check)"
    raise ValueError(f"layout: expected one of the {kind} {', '.join(names)}, got {name!r}{hint}")


def _folder(root: Path, probs: ListingProblems) -> bool:
    """``True`` when ``root`` is a folder; reports it otherwise."""
    if root.is_dir():
        return True
    probs.add(f"missing root folder: {root}" if not root.exists() else f"root is not a folder: {root}")
    return False


def _subdirs(folder: Path) -> list[Path]:
    return sorted(
        (Path(e.path) for e in os.scandir(folder) if e.is_dir() and not e.name.startswith(".")), key=natural_key
    )


@dataclass
class LayoutReport:
    """Result of :func:`inspect_layout`.

    Args:
        layout: the layout name.
        root: the checked root.
        splits: the splits that were checked (empty for layouts without splits).
        num_clips: number of clips listed.
        num_bad: number of listed clips with at least one problem.
        problems: human-readable problems, one per missing/malformed item.
        deep: whether images were decoded.
    """

    layout: str
    root: Path
    splits: tuple[str, ...] = ()
    num_clips: int = 0
    num_bad: int = 0
    problems: list[str] = field(default_factory=list)
    deep: bool = False

    @property
    def ok(self) -> bool:
        """``True`` when no problem was found."""
        return not self.problems

    def summary(self) -> str:
        """One line: layout, root, split and clip counts.

        Returns:
            e.g. ``"vimeo-septuplet at /data/vimeo (split test, existence check): 7824 clips OK"``.
        """
        where = f"{self.layout} at {self.root}"
        split = f"split {'+'.join(self.splits)}, " if self.splits else ""
        mode = "decoded" if self.deep else "existence check"
        if self.ok:
            return f"{where} ({split}{mode}): {self.num_clips} clips OK"
        return (
            f"{where} ({split}{mode}): {len(self.problems)} problem(s); "
            f"{self.num_clips - self.num_bad} of {self.num_clips} clips OK"
        )


def _list_vimeo(root: Path, splits: tuple[str, ...], probs: ListingProblems, *, prefix: str, n: int) -> list[ClipSpec]:
    if not _folder(root, probs):
        return []
    seq = root / "sequences"
    if not seq.is_dir():
        probs.add(f"missing folder: {seq}")
    names = tuple(f"im{i}.png" for i in range(1, n + 1))
    specs: list[ClipSpec] = []
    for split in splits:
        list_file = root / f"{prefix}_{split}list.txt"
        if not list_file.is_file():
            probs.add(f"missing list file: {list_file}")
            continue
        seen: dict[str, int] = {}
        with open(list_file, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                entry = line.strip().strip("/")
                if not entry:
                    continue
                parts = entry.split("/")
                if len(parts) != 2 or any(not p or p.strip() != p or " " in p for p in parts):
                    probs.add(
                        f"malformed list entry {line.strip()!r} in {list_file.name} line {lineno} "
                        "(expected 'xxxxx/xxxx')",
                        ValueError,
                    )
                    continue
                if entry in seen:
                    probs.add(
                        f"duplicate list entry {entry!r} in {list_file.name} line {lineno} (first on line {seen[entry]})",
                        ValueError,
                    )
                    continue
                seen[entry] = lineno
                folder = seq / parts[0] / parts[1]
                specs.append(
                    ClipSpec(
                        name=entry,
                        hr=tuple(folder / f for f in names),
                        frame_names=names,
                        origin=f"{list_file.name} line {lineno}",
                    )
                )
    return specs


def _list_vid4(root: Path, splits: tuple[str, ...], probs: ListingProblems) -> list[ClipSpec]:
    if not _folder(root, probs):
        return []
    hr_dir = next((root / d for d in ("GT", "HR") if (root / d).is_dir()), None)
    lr_dir = next((root / d for d in ("BIx4", "LR") if (root / d).is_dir()), None)
    if hr_dir is None:
        probs.add(f"missing HR folder: expected {root / 'GT'} (with BIx4/) or {root / 'HR'} (with LR/)")
        return []
    specs: list[ClipSpec] = []
    clips = _subdirs(hr_dir)
    if not clips:
        probs.add(f"empty folder: {hr_dir} (expected one sub-folder per clip)")
    for clip in clips:
        hr = tuple(list_images(clip))
        if not hr:
            probs.add(f"empty folder: {clip} (no image files)")
            continue
        lr: tuple[Path, ...] | None = None
        if lr_dir is not None:
            lr_clip = lr_dir / clip.name
            if not lr_clip.is_dir():
                probs.add(f"missing LR folder for clip {clip.name!r}: {lr_clip}")
                continue
            lr = tuple(list_images(lr_clip))
            if len(lr) != len(hr):
                probs.add(
                    f"clip {clip.name!r}: {len(hr)} HR frames in {clip} but {len(lr)} LR frames in {lr_clip}",
                    ValueError,
                )
                continue
        specs.append(ClipSpec(name=clip.name, hr=hr, lr=lr, frame_names=tuple(p.name for p in hr)))
    return specs


def _list_ucf101(root: Path, splits: tuple[str, ...], probs: ListingProblems) -> list[ClipSpec]:
    if not _folder(root, probs):
        return []
    names = ("frame_00.png", "frame_01_gt.png", "frame_02.png")
    clips = _subdirs(root)
    if not clips:
        probs.add(f"empty folder: {root} (expected one sub-folder per triplet)")
    return [ClipSpec(name=c.name, hr=tuple(c / n for n in names), frame_names=names) for c in clips]


def _list_middlebury(root: Path, splits: tuple[str, ...], probs: ListingProblems) -> list[ClipSpec]:
    if not _folder(root, probs):
        return []
    data, gt = root / "other-data", root / "other-gt-interp"
    for d in (data, gt):
        if not d.is_dir():
            probs.add(f"missing folder: {d}")
    if not gt.is_dir():
        return []
    seqs = _subdirs(gt)
    if not seqs:
        probs.add(f"empty folder: {gt} (expected one sub-folder per sequence)")
    names = ("frame10.png", "frame10i11.png", "frame11.png")
    return [
        ClipSpec(
            name=s.name,
            hr=(data / s.name / "frame10.png", gt / s.name / "frame10i11.png", data / s.name / "frame11.png"),
            frame_names=names,
        )
        for s in seqs
    ]


def _list_frames(root: Path, splits: tuple[str, ...], probs: ListingProblems) -> list[ClipSpec]:
    if not _folder(root, probs):
        return []
    frames = list_images(root)
    if frames:
        return [ClipSpec(name=root.name, hr=tuple(frames), frame_names=tuple(p.name for p in frames))]
    specs: list[ClipSpec] = []
    subdirs = _subdirs(root)
    if not subdirs:
        probs.add(f"empty folder: {root} (no image files and no sub-folders)")
    for sub in subdirs:
        frames = list_images(sub)
        if not frames:
            probs.add(f"empty folder: {sub} (no image files)")
            continue
        specs.append(ClipSpec(name=sub.name, hr=tuple(frames), frame_names=tuple(p.name for p in frames)))
    return specs


def _list_video(root: Path, splits: tuple[str, ...], probs: ListingProblems) -> list[ClipSpec]:
    if not root.exists():
        probs.add(f"missing video file or folder: {root}")
        return []
    if root.is_file():
        return [ClipSpec(name=root.stem, hr=(), video=root)]
    files = sorted(
        (
            Path(e.path)
            for e in os.scandir(root)
            if e.is_file() and os.path.splitext(e.name)[1].lower() in VIDEO_EXTENSIONS
        ),
        key=natural_key,
    )
    if not files:
        probs.add(f"empty folder: {root} (no video files with suffix in {VIDEO_EXTENSIONS})")
    return [ClipSpec(name=f.stem, hr=(), video=f) for f in files]


def _tree_reader(class_name: str) -> Reader:
    """A reader class of :mod:`stvsr_blocks.data.datasets`, imported on first use (that module imports this one)."""

    def read(root: str | os.PathLike[str], split: str | None = None, **options: Any) -> Any:
        from stvsr_blocks.data import datasets

        cls = getattr(datasets, class_name)
        return cls(root, split, **options) if split is not None else cls(root, **options)

    read.__name__ = read.__qualname__ = f"open_{class_name}"
    read.__doc__ = f"``stvsr_blocks.data.datasets.{class_name}(root[, split], **options)``."
    return read


def _register_builtins() -> None:
    from stvsr_blocks.data.photo import open_photos
    from stvsr_blocks.data.synthetic import open_synthetic

    vimeo = (("vimeo-septuplet", "sep", 7, "VimeoSeptuplet"), ("vimeo-triplet", "tri", 3, "VimeoTriplet"))
    for name, prefix, n, cls in vimeo:
        register_layout(Layout(
            name, f"Vimeo-90K: sequences/xxxxx/xxxx/im1..im{n}.png listed by {prefix}_{{train,test}}list.txt",
            protocol="stvsr-vimeo", list_clips=partial(_list_vimeo, prefix=prefix, n=n), reader=_tree_reader(cls),
            splits=SPLITS, eval_split="test", val_split="test",
        ))
    register_layout(Layout("vid4", "Vid4: GT/<clip>/ + BIx4/<clip>/ or HR/<clip>/ + LR/<clip>/ (LR optional)",
                           list_clips=_list_vid4, reader=_tree_reader("Vid4"), protocol="stvsr-vid4"))
    register_layout(Layout("ucf101", "UCF101 triplets: <id>/frame_00.png, frame_01_gt.png, frame_02.png",
                           protocol="vfi-ucf101", list_clips=_list_ucf101, reader=_tree_reader("UCF101Triplets")))
    register_layout(Layout("middlebury", "Middlebury other: other-data/<seq>/frame10,11.png + "
                           "other-gt-interp/<seq>/frame10i11.png", protocol="vfi-middlebury",
                           list_clips=_list_middlebury, reader=_tree_reader("MiddleburyOther")))
    register_layout(Layout("frames", "a folder of frames, or a folder of such folders (one clip each)",
                           list_clips=_list_frames, reader=_tree_reader("FrameFolder"), footage=True, protocol="stvsr-vid4"))
    register_layout(Layout("video", "a video file, or a folder of video files (one clip each), decoded by PyAV",
                           list_clips=_list_video, reader=_tree_reader("VideoFile"), footage=True, protocol="stvsr-vid4"))
    register_layout(Layout("synthetic", "rendered sinusoid-texture video with exact flows (no files; root ignored; "
                           "split train/test = training/held-out seeds)", protocol="stvsr-vimeo", reader=open_synthetic,
                           splits=SPLITS, eval_split="test", val_split="test", exact_flow=True))
    register_layout(Layout("photos", "rendered photo-textured video with exact flows (root: a folder of stills, "
                           "default the embedded photos of the split)", protocol="stvsr-vid4", reader=open_photos,
                           splits=("train", "val", "test"), eval_split="test", val_split="val", exact_flow=True))


_register_builtins()


def list_clips(root: str | os.PathLike[str], layout: str, split: str | None = None) -> list[ClipSpec]:
    """List the clips of a dataset tree without reading any pixels.

    Args:
        root: dataset root (a video file or folder of videos for ``layout="video"``).
        layout: the name of an on-disk layout of :data:`LAYOUTS`.
        split: a split of the layout (required for layouts with splits, e.g. Vimeo ``"train"``/``"test"``),
            ``None`` otherwise.

    Returns:
        One :class:`ClipSpec` per clip, in list-file order (Vimeo) or natural order of the folder names.

    Raises:
        ValueError: if ``layout`` or ``split`` is invalid, or a list entry / frame count is malformed.
        FileNotFoundError: if a structural part of the tree (root, list file, ``sequences/``, ``GT``/``HR``
            folder, ...) is missing or a folder that must hold frames is empty; the message names the
            path and the checker command.
    """
    lay = get_layout(layout, on_disk=True)
    splits = lay.check_split(split, strict=True)
    root = Path(root)
    assert lay.list_clips is not None
    return lay.list_clips(root, splits, ListingProblems(True, root, lay.name))


def _check_files(spec: ClipSpec, scale: int, deep: bool, listing: dict[Path, set[str] | None]) -> list[str]:
    """Existence (and optionally decode/size) problems of one clip."""
    out: list[str] = []
    where = f" (clip {spec.name!r}{', ' + spec.origin if spec.origin else ''})"
    if spec.video is not None:
        if not spec.video.is_file():
            return [f"missing video file: {spec.video}"]
        if spec.video.stat().st_size == 0:
            return [f"empty video file: {spec.video}"]
        if deep:
            from stvsr_blocks.data.video import read_video_frames, video_info

            try:
                video_info(spec.video)
                next(iter(read_video_frames(spec.video, max_frames=1)))
            except (ValueError, StopIteration) as exc:
                out.append(f"unreadable video: {spec.video} ({exc or 'no frames'})")
        return out
    groups = [("HR", spec.hr)] + ([("LR", spec.lr)] if spec.lr is not None else [])
    present: dict[str, list[Path]] = {}
    for role, paths in groups:
        present[role] = []
        for p in paths:
            if p.parent not in listing:
                listing[p.parent] = set(os.listdir(p.parent)) if p.parent.is_dir() else None
            names = listing[p.parent]
            if names is None:
                msg = f"missing folder: {p.parent}{where}"
                if msg not in out:
                    out.append(msg)
            elif not names:
                msg = f"empty folder: {p.parent}{where}"
                if msg not in out:
                    out.append(msg)
            elif p.name not in names:
                out.append(f"missing frame file: {p}{where}")
            else:
                present[role].append(p)
    if not deep:
        return out
    sizes: dict[str, list[tuple[Path, tuple[int, int]]]] = {}
    for role, paths in present.items():
        sizes[role] = []
        for p in paths:
            try:
                sizes[role].append((p, image_size(p, decode=True)))
            except (ValueError, FileNotFoundError) as exc:
                out.append(f"unreadable image: {p} ({exc.__cause__ or exc})")
        distinct = {s for _, s in sizes[role]}
        if len(distinct) > 1:
            desc = ", ".join(f"{p.name} {h}x{w}" for p, (h, w) in sizes[role])
            out.append(f"frames of mismatched size (HxW) in {role} clip {spec.name!r}: {desc}")
    if sizes.get("LR") and sizes.get("HR"):
        (hp, (hh, hw)), (lp, (lh, lw)) = sizes["HR"][0], sizes["LR"][0]
        ok_h = lh in (hh // scale, -(-hh // scale))
        ok_w = lw in (hw // scale, -(-hw // scale))
        if not (ok_h and ok_w):
            out.append(
                f"LR/HR size does not match scale {scale} in clip {spec.name!r}: HR {hp} is {hh}x{hw}, "
                f"so LR should be {hh // scale}x{hw // scale}, but {lp} is {lh}x{lw}"
            )
    return out


def inspect_layout(
    root: str | os.PathLike[str],
    layout: str,
    split: str | None = None,
    *,
    deep: bool = False,
    scale: int = 4,
) -> LayoutReport:
    """Check a dataset tree and report every missing or malformed item.

    The fast mode only checks that folders and files exist (one directory listing per clip folder, so
    a 90k-clip Vimeo tree takes seconds); ``deep=True`` also decodes every image, checks that the frames
    of a clip share one size and that LR sizes are HR sizes divided by ``scale`` (floor or ceil).

    Args:
        root: dataset root (a video file or folder of videos for ``layout="video"``).
        layout: the name of an on-disk layout of :data:`LAYOUTS`.
        split: a split of the layout (``None`` checks all), ``None`` for layouts without splits.
        deep: decode images (and the first frame of videos) instead of checking existence only.
        scale: expected HR/LR size ratio where the layout provides LR frames (Vid4).

    Returns:
        A :class:`LayoutReport`; its ``problems`` are empty when the tree is usable.

    Raises:
        ValueError: if ``layout`` or ``split`` is not a valid choice.
        TypeError: if ``scale`` is not an int.
    """
    lay = get_layout(layout, on_disk=True)
    splits = lay.check_split(split, strict=False)
    scale = check_positive_int(scale, "scale")
    root = Path(root)
    probs = ListingProblems(False, root, lay.name)
    assert lay.list_clips is not None
    specs = lay.list_clips(root, splits, probs)
    report = LayoutReport(layout=lay.name, root=root, splits=splits, num_clips=len(specs), deep=deep)
    report.problems.extend(probs.items)
    listing: dict[Path, set[str] | None] = {}
    for spec in specs:
        clip_problems = _check_files(spec, scale, deep, listing)
        if clip_problems:
            report.num_bad += 1
            report.problems.extend(clip_problems)
    return report


def check_layout(
    root: str | os.PathLike[str],
    layout: str,
    split: str | None = None,
    *,
    deep: bool = False,
    scale: int = 4,
) -> list[str]:
    """List what is missing or malformed in a dataset tree (empty list when it is usable).

    Shorthand for ``inspect_layout(...).problems``.

    Args:
        root: dataset root (a video file or folder of videos for ``layout="video"``).
        layout: the name of an on-disk layout of :data:`LAYOUTS`.
        split: a split of the layout (``None`` checks all), ``None`` for layouts without splits.
        deep: decode images instead of checking existence only.
        scale: expected HR/LR size ratio where the layout provides LR frames (Vid4).

    Returns:
        The problems, e.g. ``["missing frame file: /data/vimeo/sequences/00001/0001/im4.png (clip ...)"]``.

    Raises:
        ValueError: if ``layout`` or ``split`` is not a valid choice.
        TypeError: if ``scale`` is not an int.

    Example:
        >>> import tempfile
        >>> check_layout(tempfile.mkdtemp(), "ucf101")[0].startswith("empty folder")
        True
    """
    return inspect_layout(root, layout, split, deep=deep, scale=scale).problems
