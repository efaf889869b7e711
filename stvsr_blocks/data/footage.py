"""Your own footage as training data: every window of every clip is a sample, the clip's tail is held out.

A dataset reader (:mod:`stvsr_blocks.data.datasets`) yields one :class:`~stvsr_blocks.data.datasets.Clip`
per video file or frame folder; training on it directly would give one sample per *clip* per epoch.
:class:`ClipWindows` turns each clip of ``T`` frames into its windows of ``window`` consecutive frames:

- **Samples per clip**: the training part of a clip has ``T_train = T - T_val`` frames and yields one
  window per start position ``0, stride, 2·stride, ...`` with ``start + window <= T_train``: a 120-frame
  video gives ``~106`` training windows of 3 frames (``stride=1``).
- **Held-out validation**: the last ``T_val = max(window, ceil(holdout · T))`` frames of each clip (default
  ``holdout=0.1``) are never in a training window; ``part="val"`` yields non-overlapping windows from them.
  A clip too short for both (``T - T_val < window``) is used for training only.
- **No decoding per sample**: a clip is decoded once and kept (as ``uint8``, 1/4 of float32) in a small
  per-process LRU cache, so consecutive samples of one clip cost a slice. Give a ``DataLoader`` with
  workers a sampler that keeps clips together, or a cache large enough for the clips in flight
  (``cache_clips``).

Example:
    >>> import torch
    >>> from stvsr_blocks.data.datasets import Clip
    >>> src = [Clip("a", torch.rand(20, 3, 8, 8)), Clip("b", torch.rand(10, 3, 8, 8))]
    >>> train, val = ClipWindows(src, window=3), ClipWindows(src, window=3, part="val")
    >>> len(train), train[0].name, tuple(train[0].hr.shape), len(val)
    (20, 'a@0', (3, 3, 8, 8), 2)
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Literal

import torch
from torch import Tensor
from torch.utils.data import Dataset

from stvsr_blocks._check import check_positive_int
from stvsr_blocks.data.datasets import Clip

__all__ = ["ClipWindows", "clip_lengths"]


def clip_lengths(source: object) -> list[int]:
    """Frame counts of every clip of a source, without decoding frame pixels where the source allows it.

    Frame folders are counted from their listing, video files from their stream header (decoded once to
    count when the header has no frame count); any other source is loaded clip by clip.

    Args:
        source: a dataset reader (with ``specs``) or any sized, indexable collection of clips.

    Returns:
        One frame count per clip (``max_frames`` of a reader applied).
    """
    specs = getattr(source, "specs", None)
    cap = getattr(source, "max_frames", None)
    out = []
    if specs is not None:
        from stvsr_blocks.data.video import read_video_frames, video_info

        for spec in specs:
            if spec.video is not None:
                n = int(video_info(spec.video).num_frames or 0)
                if n <= 0:
                    n = sum(1 for _ in read_video_frames(spec.video, max_frames=cap))
            else:
                n = len(spec.hr) if spec.hr else len(spec.lr or ())
            out.append(min(n, cap) if cap else n)
        return out
    return [int(source[i].hr.shape[0]) for i in range(len(source))]  # type: ignore[index, arg-type]


class ClipWindows(Dataset[Clip]):
    """Every window of ``window`` consecutive frames of every clip of ``source`` (see the module docstring).

    Args:
        source: a dataset reader or any sized, indexable collection of :class:`Clip` with ``hr`` frames.
        window: frames per sample (3 for STVSR training: LR = frames 0 and 2, the middle frame is the target).
        stride: step between window starts in the training part.
        holdout: fraction of each clip's frames, at its end, held out for validation (``0 <= holdout < 1``).
        part: ``"train"`` (windows before the held-out tail) or ``"val"`` (non-overlapping windows of the tail).
        cache_clips: decoded clips kept in memory per process.

    Raises:
        TypeError: if ``source`` is not sized and indexable.
        ValueError: on a bad ``window``/``stride``/``holdout``/``part``, or if no window fits.
    """

    def __init__(self, source: object, *, window: int = 3, stride: int = 1, holdout: float = 0.1,
                 part: Literal["train", "val"] = "train", cache_clips: int = 2) -> None:
        if not (hasattr(source, "__len__") and hasattr(source, "__getitem__")):
            raise TypeError(f"source: expected a sized, indexable collection of clips, got {type(source).__name__}")
        self.window = check_positive_int(window, "window")
        self.stride = check_positive_int(stride, "stride")
        self.cache_clips = check_positive_int(cache_clips, "cache_clips")
        if isinstance(holdout, bool) or not isinstance(holdout, (int, float)) or not 0 <= holdout < 1:
            raise ValueError(f"holdout: expected a fraction in [0, 1), got {holdout!r}")
        if part not in ("train", "val"):
            raise ValueError(f"part: expected 'train' or 'val', got {part!r}")
        self.source, self.holdout, self.part = source, float(holdout), part
        self.lengths = clip_lengths(source)
        self.index: list[tuple[int, int]] = []
        for c, n in enumerate(self.lengths):
            n_val = max(self.window, math.ceil(self.holdout * n)) if self.holdout > 0 else 0
            if n - n_val < self.window:  # too short to split: training only
                n_val = 0
            if part == "train":
                self.index += [(c, s) for s in range(0, n - n_val - self.window + 1, self.stride)]
            elif n_val:
                self.index += [(c, s) for s in range(n - n_val, n - self.window + 1, self.window)]
        if not self.index:
            raise ValueError(f"source: no {part} window of {self.window} frames fits in clips of "
                             f"{sorted(set(self.lengths))} frames (holdout={self.holdout})")
        self._cache: OrderedDict[int, tuple[str, Tensor]] = OrderedDict()

    def __len__(self) -> int:
        """Number of windows."""
        return len(self.index)

    def _frames(self, c: int) -> tuple[str, Tensor]:
        if c in self._cache:
            self._cache.move_to_end(c)
            return self._cache[c]
        clip = self.source[c]  # type: ignore[index]
        hr = getattr(clip, "hr", None)
        if not isinstance(hr, Tensor) or hr.ndim != 4:
            raise TypeError(f"source[{c}]: expected a Clip with hr frames (T, 3, H, W), got {type(clip).__name__}")
        entry = (str(getattr(clip, "name", c)), (hr.clamp(0, 1) * 255).round().to(torch.uint8))
        self._cache[c] = entry
        while len(self._cache) > self.cache_clips:
            self._cache.popitem(last=False)
        return entry

    def __getitem__(self, index: int) -> Clip:
        """Window ``index`` as a clip named ``"<clip>@<start>"`` (frames as float in ``[0, 1]``).

        Args:
            index: window index.

        Returns:
            The window.

        Raises:
            IndexError: if ``index`` is out of range.
        """
        if not 0 <= index < len(self.index):
            raise IndexError(f"index: window {index} out of range for {len(self.index)} windows")
        c, start = self.index[index]
        name, frames = self._frames(c)
        return Clip(f"{name}@{start}", frames[start : start + self.window].float() / 255.0, dataset="footage")
