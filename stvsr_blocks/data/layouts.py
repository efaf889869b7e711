"""On-disk dataset layouts: listing the clips of each published layout and checking a tree.

Supported layouts (:data:`LAYOUTS`):

| name | tree under ``root`` | clip frames |
| --- | --- | --- |
| ``vimeo-septuplet`` | ``sequences/xxxxx/xxxx/im1..im7.png``, ``sep_trainlist.txt``, ``sep_testlist.txt`` | HR im1..im7 |
| ``vimeo-triplet`` | ``sequences/xxxxx/xxxx/im1..im3.png``, ``tri_trainlist.txt``, ``tri_testlist.txt`` | HR im1..im3 |
| ``vid4`` | ``GT/<clip>/`` + ``BIx4/<clip>/`` or ``HR/<clip>/`` + ``LR/<clip>/`` (LR optional) | HR (+ LR) |
| ``ucf101`` | ``<id>/frame_00.png, frame_01_gt.png, frame_02.png`` | HR 00, 01_gt, 02 |
| ``middlebury`` | ``other-data/<seq>/frame10.png, frame11.png``, ``other-gt-interp/<seq>/frame10i11.png`` | HR 10, 10i11, 11 |
| ``frames`` | a folder of frames, or a folder of such folders (one clip each) | natural order |
| ``video`` | a video file, or a folder of video files (one clip each) | decoded by PyAV |

:func:`list_clips` is what the readers in :mod:`stvsr_blocks.data.datasets` use (cheap: the Vimeo lists are
turned into paths without touching the frames). :func:`check_layout` / :func:`inspect_layout` report every
missing or malformed item up front instead of failing mid-epoch; ``python -m stvsr_blocks.data.check`` is
the command-line front end.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from stvsr_blocks._check import check_positive_int
from stvsr_blocks.data.io import image_size, list_images, natural_key

__all__ = [
    "LAYOUTS",
    "SPLITS",
    "VIDEO_EXTENSIONS",
    "ClipSpec",
    "LayoutReport",
    "list_clips",
    "inspect_layout",
    "check_layout",
]

#: The fixed set of layout names.
LAYOUTS: tuple[str, ...] = ("vimeo-septuplet", "vimeo-triplet", "vid4", "ucf101", "middlebury", "frames", "video")
#: Splits of the layouts that have them (the Vimeo-90K list files).
SPLITS: tuple[str, ...] = ("train", "test")
#: File suffixes (lower case) treated as videos when listing a folder for the ``video`` layout.
VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".y4m", ".mpg", ".mpeg", ".flv")

_VIMEO = {"vimeo-septuplet": ("sep", 7), "vimeo-triplet": ("tri", 3)}
_CHECK_HINT = "python -m stvsr_blocks.data.check {root} --layout {layout}"


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


def _check_layout_name(layout: object) -> str:
    if layout not in LAYOUTS:
        raise ValueError(f"layout: expected one of {LAYOUTS}, got {layout!r}")
    return layout  # type: ignore[return-value]


def _splits_for(layout: str, split: str | None, *, strict: bool) -> tuple[str, ...]:
    if layout in _VIMEO:
        if split is None:
            if strict:
                raise ValueError(f"split: layout {layout!r} needs split='train' or 'test', got None")
            return SPLITS
        if split not in SPLITS:
            raise ValueError(f"split: expected one of {SPLITS} for layout {layout!r}, got {split!r}")
        return (split,)
    if split is not None:
        raise ValueError(f"split: layout {layout!r} has no splits; expected None, got {split!r}")
    return ()


class _Problems:
    """Collects problems (checker) or raises on the first structural one (readers)."""

    def __init__(self, strict: bool, root: Path, layout: str) -> None:
        self.strict = strict
        self.items: list[str] = []
        self.hint = _CHECK_HINT.format(root=root, layout=layout)

    def add(self, msg: str, exc: type[Exception] = FileNotFoundError) -> None:
        if self.strict:
            raise exc(f"{msg} (run `{self.hint}` to list every problem)")
        self.items.append(msg)


def _subdirs(folder: Path) -> list[Path]:
    return sorted(
        (Path(e.path) for e in os.scandir(folder) if e.is_dir() and not e.name.startswith(".")), key=natural_key
    )


def _list_vimeo(root: Path, layout: str, splits: Iterable[str], probs: _Problems) -> list[ClipSpec]:
    prefix, n = _VIMEO[layout]
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


def _list_vid4(root: Path, probs: _Problems) -> list[ClipSpec]:
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


def _list_ucf101(root: Path, probs: _Problems) -> list[ClipSpec]:
    names = ("frame_00.png", "frame_01_gt.png", "frame_02.png")
    clips = _subdirs(root)
    if not clips:
        probs.add(f"empty folder: {root} (expected one sub-folder per triplet)")
    return [ClipSpec(name=c.name, hr=tuple(c / n for n in names), frame_names=names) for c in clips]


def _list_middlebury(root: Path, probs: _Problems) -> list[ClipSpec]:
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


def _list_frames(root: Path, probs: _Problems) -> list[ClipSpec]:
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


def _list_video(root: Path, probs: _Problems) -> list[ClipSpec]:
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


def _list(root: Path, layout: str, splits: tuple[str, ...], probs: _Problems) -> list[ClipSpec]:
    if layout == "video":
        if not root.exists():
            probs.add(f"missing video file or folder: {root}")
            return []
        return _list_video(root, probs)
    if not root.is_dir():
        probs.add(f"missing root folder: {root}" if not root.exists() else f"root is not a folder: {root}")
        return []
    if layout in _VIMEO:
        return _list_vimeo(root, layout, splits, probs)
    if layout == "vid4":
        return _list_vid4(root, probs)
    if layout == "ucf101":
        return _list_ucf101(root, probs)
    if layout == "middlebury":
        return _list_middlebury(root, probs)
    return _list_frames(root, probs)


def list_clips(root: str | os.PathLike[str], layout: str, split: str | None = None) -> list[ClipSpec]:
    """List the clips of a dataset tree without reading any pixels.

    Args:
        root: dataset root (a video file or folder of videos for ``layout="video"``).
        layout: one of :data:`LAYOUTS`.
        split: ``"train"`` or ``"test"`` for the Vimeo layouts (required there), ``None`` otherwise.

    Returns:
        One :class:`ClipSpec` per clip, in list-file order (Vimeo) or natural order of the folder names.

    Raises:
        ValueError: if ``layout`` or ``split`` is invalid, or a list entry / frame count is malformed.
        FileNotFoundError: if a structural part of the tree (root, list file, ``sequences/``, ``GT``/``HR``
            folder, ...) is missing or a folder that must hold frames is empty; the message names the
            path and the checker command.
    """
    layout = _check_layout_name(layout)
    splits = _splits_for(layout, split, strict=True)
    root = Path(root)
    return _list(root, layout, splits, _Problems(True, root, layout))


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
        layout: one of :data:`LAYOUTS`.
        split: ``"train"``/``"test"`` for the Vimeo layouts (``None`` checks both), ``None`` otherwise.
        deep: decode images (and the first frame of videos) instead of checking existence only.
        scale: expected HR/LR size ratio where the layout provides LR frames (Vid4).

    Returns:
        A :class:`LayoutReport`; its ``problems`` are empty when the tree is usable.

    Raises:
        ValueError: if ``layout`` or ``split`` is not a valid choice.
        TypeError: if ``scale`` is not an int.
    """
    layout = _check_layout_name(layout)
    splits = _splits_for(layout, split, strict=False)
    scale = check_positive_int(scale, "scale")
    root = Path(root)
    probs = _Problems(False, root, layout)
    specs = _list(root, layout, splits, probs)
    report = LayoutReport(layout=layout, root=root, splits=splits, num_clips=len(specs), deep=deep)
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
        layout: one of :data:`LAYOUTS`.
        split: ``"train"``/``"test"`` for the Vimeo layouts (``None`` checks both), ``None`` otherwise.
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
