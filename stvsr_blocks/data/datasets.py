"""Readers for the evaluation/training datasets of video SR, frame interpolation and space-time SR.

Every reader is a :class:`torch.utils.data.Dataset` of :class:`Clip` records. Clips are listed when the
reader is built (cheaply: no pixel is read) and loaded in ``__getitem__``, so a reader over the 64k-clip
Vimeo-90K training list is instant to create and safe to hand to ``DataLoader`` workers.

Clip records are not collated by PyTorch's default collate (their frame sizes differ between datasets);
iterate a reader directly, or use ``DataLoader(reader, batch_size=None)`` to load clips in worker processes.
For random, aligned training crops see :class:`stvsr_blocks.data.train.STVSRTrainDataset`.

Example:
    >>> import tempfile, torch
    >>> from stvsr_blocks.data.io import write_frame_folder
    >>> root = tempfile.mkdtemp()
    >>> _ = write_frame_folder(root, torch.rand(3, 3, 8, 8), pattern="frame{}.png")
    >>> clip = open_dataset("frames", root)[0]
    >>> clip.hr.shape, clip.frame_names
    (torch.Size([3, 3, 8, 8]), ('frame0.png', 'frame1.png', 'frame2.png'))
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from torch import Tensor
from torch.utils.data import Dataset

from stvsr_blocks._check import check_tensor
from stvsr_blocks.data.io import read_images
from stvsr_blocks.data.layouts import ClipSpec, get_layout, list_clips

__all__ = [
    "Clip",
    "ClipDataset",
    "VimeoSeptuplet",
    "VimeoTriplet",
    "Vid4",
    "UCF101Triplets",
    "MiddleburyOther",
    "FrameFolder",
    "VideoFile",
    "open_dataset",
]

Role = Literal["hr", "lr"]


def _check_clip_tensor(x: object, name: str) -> Tensor:
    t = check_tensor(x, name)
    if t.ndim != 4 or t.shape[1] != 3:
        raise ValueError(f"{name}: expected a 4-D tensor of shape (T, 3, H, W), got shape {tuple(t.shape)}")
    return t


@dataclass
class Clip:
    """One clip of a dataset: frames plus the names needed to report results.

    Args:
        name: clip identifier within its dataset (e.g. ``"00001/0001"``, ``"calendar"``).
        hr: HR frames ``T×3×H×W`` float in ``[0, 1]``, or ``None`` for an LR-only source.
        lr: LR frames ``T_lr×3×h×w`` when the dataset provides them, else ``None``.
        frame_names: one name per frame of ``hr`` (of ``lr`` when ``hr`` is ``None``).
        dataset: the layout/dataset the clip came from (e.g. ``"vimeo-septuplet"``).

    Raises:
        ValueError: if neither ``hr`` nor ``lr`` is given, a tensor is not ``T×3×H×W``, or the number of
            ``frame_names`` differs from the number of frames.
        TypeError: if a frame tensor is not floating point.

    Example:
        >>> import torch
        >>> Clip("a", torch.zeros(2, 3, 4, 4), frame_names=("0.png", "1.png")).hr.shape
        torch.Size([2, 3, 4, 4])
    """

    name: str
    hr: Tensor | None
    lr: Tensor | None = None
    frame_names: tuple[str, ...] = ()
    dataset: str = ""

    def __post_init__(self) -> None:
        if self.hr is None and self.lr is None:
            raise ValueError(f"Clip {self.name!r}: expected hr and/or lr frames, got neither")
        if self.hr is not None:
            _check_clip_tensor(self.hr, "hr")
        if self.lr is not None:
            _check_clip_tensor(self.lr, "lr")
        self.frame_names = tuple(self.frame_names)
        ref = self.hr if self.hr is not None else self.lr
        assert ref is not None
        if self.frame_names and len(self.frame_names) != ref.shape[0]:
            raise ValueError(f"frame_names: expected {ref.shape[0]} names (one per frame), got {len(self.frame_names)}")

    @property
    def num_frames(self) -> int:
        """Number of frames of ``hr`` (of ``lr`` for an LR-only clip)."""
        ref = self.hr if self.hr is not None else self.lr
        assert ref is not None
        return int(ref.shape[0])


class ClipDataset(Dataset[Clip]):
    """Base reader: a list of :class:`~stvsr_blocks.data.layouts.ClipSpec` loaded lazily into :class:`Clip`.

    Subclasses only choose the layout and options; use :func:`open_dataset` to pick one by name.

    Args:
        root: dataset root.
        split: split for the layouts that have one (Vimeo), else ``None``.
        role: put the frames of ``frames``/``video`` sources in ``Clip.hr`` (``"hr"``) or ``Clip.lr`` (``"lr"``,
            e.g. a real low-resolution video to upscale).
        max_frames: read at most this many frames per clip (``None``: all).
        layout: the layout name (default: the class's :attr:`layout`), e.g. to read a user-registered
            on-disk layout with this base class.

    Raises:
        ValueError: if ``split``/``role``/``max_frames`` is invalid or the listing is malformed.
        FileNotFoundError: if a structural part of the tree is missing (see
            :func:`~stvsr_blocks.data.layouts.list_clips`).
    """

    layout: ClassVar[str] = ""

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str | None = None,
        *,
        role: Role = "hr",
        max_frames: int | None = None,
        layout: str | None = None,
    ) -> None:
        if layout is not None:
            self.layout = layout
        if role not in ("hr", "lr"):
            raise ValueError(f"role: expected 'hr' or 'lr', got {role!r}")
        if max_frames is not None and (
            isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 1
        ):
            raise ValueError(f"max_frames: expected None or a positive int, got {max_frames!r}")
        self.root = Path(root)
        self.split = split
        self.role: Role = role
        self.max_frames = max_frames
        self.specs: list[ClipSpec] = list_clips(self.root, self.layout, split)

    @property
    def clip_names(self) -> list[str]:
        """The clip names, in order."""
        return [s.name for s in self.specs]

    def __len__(self) -> int:
        """Number of clips."""
        return len(self.specs)

    def __getitem__(self, index: int) -> Clip:
        """Load clip ``index`` from disk.

        Args:
            index: clip index (negative counts from the end).

        Returns:
            The :class:`Clip`.

        Raises:
            IndexError: if ``index`` is out of range.
            FileNotFoundError: if a frame file is missing (the message names it and the checker command).
            ValueError: if a frame cannot be decoded or the frames of the clip differ in size.
        """
        n = len(self.specs)
        if not -n <= index < n:
            raise IndexError(f"index: clip {index} out of range for {n} clips")
        spec = self.specs[index]
        try:
            return self._load(spec)
        except FileNotFoundError as exc:
            raise FileNotFoundError(
                f"{exc} (clip {spec.name!r}; run `python -m stvsr_blocks.data.check {self.root} "
                f"--layout {self.layout}` to list every missing file)"
            ) from exc

    def _load(self, spec: ClipSpec) -> Clip:
        k = self.max_frames
        if spec.video is not None:
            from stvsr_blocks.data.video import read_video

            frames = read_video(spec.video, max_frames=k)
            names = tuple(f"{spec.video.name}#{i}" for i in range(frames.shape[0]))
        else:
            frames = read_images(spec.hr[:k])
            names = spec.frame_names[:k]
        lr = read_images(spec.lr[:k]) if spec.lr is not None else None
        if self.role == "lr":
            return Clip(spec.name, hr=None, lr=frames, frame_names=names, dataset=self.layout)
        return Clip(spec.name, hr=frames, lr=lr, frame_names=names, dataset=self.layout)

    def __repr__(self) -> str:
        split = f", split={self.split!r}" if self.split else ""
        return f"{type(self).__name__}(root={str(self.root)!r}{split}, clips={len(self)})"


class VimeoSeptuplet(ClipDataset):
    """Vimeo-90K septuplets: ``sequences/xxxxx/xxxx/im1..im7.png`` listed by ``sep_{split}list.txt``.

    Clips hold the 7 HR frames (no LR: make it with :func:`stvsr_blocks.data.degrade.make_stvsr_pair`,
    which gives the STVSR protocol's LR im1, im3, im5, im7 → HR im1..im7).

    Args:
        root: folder holding ``sequences/`` and the list files.
        split: ``"train"`` or ``"test"``.
        max_frames: read at most this many frames per clip.

    Raises:
        ValueError: if ``split`` is invalid or a list entry is malformed/duplicated.
        FileNotFoundError: if ``sequences/`` or the list file is missing.
    """

    layout: ClassVar[str] = "vimeo-septuplet"

    def __init__(
        self, root: str | os.PathLike[str], split: Literal["train", "test"], *, max_frames: int | None = None
    ) -> None:
        super().__init__(root, split, max_frames=max_frames)


class VimeoTriplet(ClipDataset):
    """Vimeo-90K triplets: ``sequences/xxxxx/xxxx/im1..im3.png`` listed by ``tri_{split}list.txt``.

    Args:
        root: folder holding ``sequences/`` and the list files.
        split: ``"train"`` or ``"test"``.
        max_frames: read at most this many frames per clip.

    Raises:
        ValueError: if ``split`` is invalid or a list entry is malformed/duplicated.
        FileNotFoundError: if ``sequences/`` or the list file is missing.
    """

    layout: ClassVar[str] = "vimeo-triplet"

    def __init__(
        self, root: str | os.PathLike[str], split: Literal["train", "test"], *, max_frames: int | None = None
    ) -> None:
        super().__init__(root, split, max_frames=max_frames)


class Vid4(ClipDataset):
    """Vid4 (calendar, city, foliage, walk): ``GT/<clip>/`` + ``BIx4/<clip>/`` or ``HR/<clip>/`` + ``LR/<clip>/``.

    HR and LR frames are paired by natural order. The LR folder is optional (``Clip.lr`` is then ``None``).

    Args:
        root: folder holding ``GT``/``HR`` (and ``BIx4``/``LR``).
        clips: keep only these clip names (in this order); ``None`` keeps all.
        max_frames: read at most this many frames per clip.

    Raises:
        ValueError: if a name in ``clips`` is not in the tree, or HR/LR frame counts differ.
        FileNotFoundError: if no ``GT``/``HR`` folder exists, a clip folder is empty or its LR folder is missing.
    """

    layout: ClassVar[str] = "vid4"

    def __init__(
        self, root: str | os.PathLike[str], *, clips: list[str] | None = None, max_frames: int | None = None
    ) -> None:
        super().__init__(root, max_frames=max_frames)
        if clips is not None:
            by_name = {s.name: s for s in self.specs}
            unknown = [c for c in clips if c not in by_name]
            if unknown:
                raise ValueError(f"clips: {unknown} not found under {self.root}; available: {sorted(by_name)}")
            self.specs = [by_name[c] for c in clips]


class UCF101Triplets(ClipDataset):
    """UCF101 interpolation triplets: ``<id>/frame_00.png, frame_01_gt.png, frame_02.png``.

    Clips hold the 3 frames in temporal order (``frame_01_gt`` is the middle ground truth).

    Args:
        root: folder holding one sub-folder per triplet.
        max_frames: read at most this many frames per clip.

    Raises:
        FileNotFoundError: if ``root`` is missing or has no sub-folders.
    """

    layout: ClassVar[str] = "ucf101"

    def __init__(self, root: str | os.PathLike[str], *, max_frames: int | None = None) -> None:
        super().__init__(root, max_frames=max_frames)


class MiddleburyOther(ClipDataset):
    """Middlebury "other" set: ``other-data/<seq>/frame10.png, frame11.png`` + ``other-gt-interp/<seq>/frame10i11.png``.

    One clip per sequence of ``other-gt-interp``; frames ``frame10, frame10i11, frame11`` in temporal order.

    Args:
        root: folder holding ``other-data`` and ``other-gt-interp``.
        max_frames: read at most this many frames per clip.

    Raises:
        FileNotFoundError: if either folder is missing or ``other-gt-interp`` is empty.
    """

    layout: ClassVar[str] = "middlebury"

    def __init__(self, root: str | os.PathLike[str], *, max_frames: int | None = None) -> None:
        super().__init__(root, max_frames=max_frames)


class FrameFolder(ClipDataset):
    """Any folder of frames (one clip, natural order: ``frame2`` before ``frame10``) or a folder of such folders.

    Args:
        root: a folder of image files, or a folder of folders of image files (one clip each).
        role: ``"hr"`` (frames are ground truth) or ``"lr"`` (frames are the input to upscale).
        max_frames: read at most this many frames per clip.

    Raises:
        ValueError: if ``role`` or ``max_frames`` is invalid.
        FileNotFoundError: if ``root`` is missing, or holds neither images nor non-empty sub-folders.
    """

    layout: ClassVar[str] = "frames"

    def __init__(self, root: str | os.PathLike[str], *, role: Role = "hr", max_frames: int | None = None) -> None:
        super().__init__(root, role=role, max_frames=max_frames)


class VideoFile(ClipDataset):
    """Any video file PyAV can decode (one clip), or a folder of video files (one clip each).

    Each clip is decoded whole; for long videos set ``max_frames`` or stream with
    :func:`stvsr_blocks.data.video.read_video_frames`.

    Args:
        root: a video file or a folder of video files.
        role: ``"hr"`` (frames are ground truth) or ``"lr"`` (frames are the input to upscale).
        max_frames: decode at most this many frames per clip.

    Raises:
        ValueError: if ``role`` or ``max_frames`` is invalid.
        FileNotFoundError: if ``root`` does not exist or a folder holds no video file.
    """

    layout: ClassVar[str] = "video"

    def __init__(self, root: str | os.PathLike[str], *, role: Role = "hr", max_frames: int | None = None) -> None:
        super().__init__(root, role=role, max_frames=max_frames)


def open_dataset(
    layout: str, root: str | os.PathLike[str] | None = None, split: str | None = None, **options: Any
) -> Dataset[Any]:
    """Open a dataset with the reader of a registered layout (:data:`stvsr_blocks.data.layouts.LAYOUTS`).

    Args:
        layout: a layout name: ``'vimeo-septuplet'``, ``'vimeo-triplet'``, ``'vid4'``, ``'ucf101'``,
            ``'middlebury'``, ``'frames'``, ``'video'``, ``'synthetic'``, ``'photos'`` or one added with
            :func:`~stvsr_blocks.data.layouts.register_layout`.
        root: dataset root (a video file or folder of videos for ``'video'``); required for on-disk layouts.
            ``'synthetic'`` ignores it; for ``'photos'`` it is an optional folder of stills.
        split: a split of the layout (required where it has splits: Vimeo ``"train"``/``"test"``, synthetic
            ``"train"``/``"test"`` (held-out seeds), photos ``"train"``/``"val"``/``"test"``), ``None`` otherwise.
        **options: passed to the reader: ``max_frames`` for on-disk layouts (plus ``role`` for ``frames``/
            ``video``, ``clips`` for ``vid4``); ``n_clips``, ``config``, ``size``, ``frames``, ``seed``,
            ``max_frames`` for the rendered ones (:func:`~stvsr_blocks.data.synthetic.open_synthetic`,
            :func:`~stvsr_blocks.data.photo.open_photos`).

    Returns:
        The reader: a :class:`ClipDataset` for on-disk layouts, a rendered dataset (items with ``name`` and
        ``hr``) for ``synthetic``/``photos``.

    Raises:
        ValueError: if ``layout`` is unknown (with the closest name), ``split`` does not fit the layout or an
            on-disk layout is given no ``root``.
        TypeError: if an option is not one the reader takes.
        FileNotFoundError: if a structural part of the tree is missing.

    Example:
        >>> len(open_dataset("synthetic", None, "test", n_clips=3, size=(8, 8), frames=3))
        3
    """
    lay = get_layout(layout)
    lay.check_split(split, strict=True)
    if lay.on_disk and root is None:
        raise ValueError(f"root: layout {lay.name!r} reads a dataset tree; expected a path, got None")
    if lay.reader is None:
        return ClipDataset(root, split, layout=lay.name, **options)  # type: ignore[arg-type]
    return lay.reader(root, split, **options)
