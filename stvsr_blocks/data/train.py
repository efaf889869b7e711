"""Training samples: random aligned LR/HR crops with clip-wide augmentation, reproducible per (seed, epoch, index).

Reproducibility: every random choice of a sample (temporal window, crop position, flips, rotation,
temporal reversal) comes from a private ``numpy.random.Generator`` seeded with ``(seed, epoch, index)``
— never from the global RNGs — so a sample is the same whichever ``DataLoader`` worker or
``DistributedSampler`` rank loads it. Call :meth:`STVSRTrainDataset.set_epoch` at the start of every epoch
(next to ``DistributedSampler.set_epoch``) *before* iterating the loader; with ``persistent_workers=True``
the workers keep the dataset copy they were started with, so either leave it ``False`` or accept that the
augmentation does not change between epochs.

Alignment: LR frames are made from the whole (scale-cropped) HR frame, then the LR patch at
``(top, left)`` and the HR patch at ``(top·s, left·s)`` are cut, so the LR patch is exactly the
corresponding region of the full LR frame (no border effects of downscaling a patch).
"""

from __future__ import annotations

from typing import Literal, NamedTuple, Protocol

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from stvsr_blocks._check import check_positive_int
from stvsr_blocks.data.degrade import Degradation, Kernel, crop_to_multiple, keep_odd_frames

__all__ = ["ClipSource", "TrainSample", "SampleParams", "augment_clip", "augment_flows", "STVSRTrainDataset"]


class ClipSource(Protocol):
    """What :class:`STVSRTrainDataset` needs from its source: a sized, indexable collection of clips.

    Items must have an ``hr`` attribute (``T×3×H×W`` float tensor) and may have ``lr`` and ``name``
    (e.g. :class:`stvsr_blocks.data.datasets.Clip`).
    """

    def __len__(self) -> int:
        """Number of clips.

        Returns:
            The number of clips.
        """
        ...

    def __getitem__(self, index: int) -> object:
        """Clip ``index``.

        Args:
            index: clip index in ``[0, len(self))``.

        Returns:
            The clip (an object with an ``hr`` tensor).
        """
        ...


class TrainSample(NamedTuple):
    """One training sample (a tuple, so ``default_collate`` batches it into ``B×...`` fields).

    Attributes:
        lr: LR input frames ``T_lr×3×p×p``.
        hr: HR target frames ``T_hr×3×(p·s)×(p·s)``.
        t: time of the middle HR frame between the two LR frames (a 0-d float tensor; ``0.5`` for
            evenly spaced frames, random for the photo renderer's ``random_time`` clips).
        flows: exact HR flows ``2×2×(p·s)×(p·s)``: ``flow_{0->t}`` and ``flow_{1->t}`` on the middle frame's
            grid (the model's :class:`~stvsr_blocks.interfaces.MidFlows`), where the source knows its motion
            (the synthetic and photo renderers); zeros otherwise.
        flow_mask: ``2×1×(p·s)×(p·s)`` bool validity of ``flows`` (all ``False`` where no exact flow exists).
    """

    lr: Tensor
    hr: Tensor
    t: Tensor
    flows: Tensor
    flow_mask: Tensor


class SampleParams(NamedTuple):
    """The random choices behind one sample.

    Attributes:
        start: first HR frame of the temporal window.
        top: top row of the LR crop (the HR crop starts at ``top·scale``).
        left: left column of the LR crop (the HR crop starts at ``left·scale``).
        hflip: flip left-right.
        vflip: flip upside-down.
        rot90: number of counter-clockwise quarter turns (0..3), applied after the flips.
        reverse: reverse the temporal order.
    """

    start: int
    top: int
    left: int
    hflip: bool
    vflip: bool
    rot90: int
    reverse: bool


def augment_clip(clip: Tensor, params: SampleParams) -> Tensor:
    """Apply the flips, rotation and temporal reversal of ``params`` identically to every frame.

    Args:
        clip: tensor ``T×C×H×W``.
        params: the choices (``start``, ``top``, ``left`` are ignored).

    Returns:
        The augmented clip (contiguous); ``H``/``W`` swap for an odd ``rot90``.

    Raises:
        ValueError: if ``clip`` is not 4-D.

    Example:
        >>> x = torch.arange(4.0).reshape(1, 1, 2, 2)
        >>> augment_clip(x, SampleParams(0, 0, 0, True, False, 0, False)).flatten().tolist()
        [1.0, 0.0, 3.0, 2.0]
    """
    if clip.ndim != 4:
        raise ValueError(f"clip: expected a 4-D tensor of shape (T, C, H, W), got shape {tuple(clip.shape)}")
    if params.hflip:
        clip = clip.flip(-1)
    if params.vflip:
        clip = clip.flip(-2)
    if params.rot90 % 4:
        clip = torch.rot90(clip, params.rot90 % 4, dims=(-2, -1))
    if params.reverse:
        clip = clip.flip(0)
    return clip.contiguous()


def augment_flows(flows: Tensor, mask: Tensor, t: float, params: SampleParams) -> tuple[Tensor, Tensor, float]:
    """Transform the middle frame's flows exactly as :func:`augment_clip` transforms the frames.

    Flips negate the flipped axis' component, a counter-clockwise quarter turn maps a displacement
    ``(dx, dy)`` to ``(dy, -dx)``, and temporal reversal swaps ``flow_{0->t}`` with ``flow_{1->t}`` and
    ``t`` with ``1 - t``.

    Args:
        flows: ``2×2×H×W`` (``flow_{0->t}``, ``flow_{1->t}``; channel 0 = x).
        mask: ``2×1×H×W`` validity.
        t: the middle frame's time.
        params: the choices (as for :func:`augment_clip`).

    Returns:
        ``(flows, mask, t)`` after the augmentation.

    Example:
        >>> f = torch.zeros(2, 2, 2, 2); f[:, 0] = 1.0  # motion to the right
        >>> augment_flows(f, torch.ones(2, 1, 2, 2, dtype=torch.bool), 0.25,
        ...               SampleParams(0, 0, 0, True, False, 0, True))[0][0, 0, 0, 0].item(), 1 - 0.25
        (-1.0, 0.75)
    """
    if params.hflip:
        flows = flows.flip(-1) * flows.new_tensor([-1.0, 1.0])[:, None, None]
        mask = mask.flip(-1)
    if params.vflip:
        flows = flows.flip(-2) * flows.new_tensor([1.0, -1.0])[:, None, None]
        mask = mask.flip(-2)
    for _ in range(params.rot90 % 4):
        flows = torch.rot90(flows, 1, dims=(-2, -1))
        flows = torch.stack((flows[:, 1], -flows[:, 0]), dim=1)
        mask = torch.rot90(mask, 1, dims=(-2, -1))
    if params.reverse:
        flows, mask, t = flows.flip(0), mask.flip(0), 1.0 - t
    return flows.contiguous(), mask.contiguous(), t


class STVSRTrainDataset(Dataset[TrainSample]):
    """Random, aligned LR/HR training crops from any source of HR clips.

    For ``temporal="stvsr"`` (space-time SR) the HR window has an odd number of frames ``T_hr`` and the LR
    input is its odd frames (``T_lr = (T_hr + 1) / 2``, e.g. Vimeo septuplet: LR im1,3,5,7 → HR im1..7);
    for ``temporal="vsr"`` LR and HR have the same frames.

    Args:
        source: HR clips — any reader of :mod:`stvsr_blocks.data.datasets`, the synthetic generator, or any
            object with ``__len__`` and ``__getitem__`` returning :class:`~stvsr_blocks.data.datasets.Clip`.
        lr_patch: LR patch size ``p`` (the HR patch is ``p·scale``).
        scale: spatial factor (ignored when ``kernel`` is a :class:`~stvsr_blocks.data.degrade.Degradation`).
        kernel: bicubic kernel name (``"matlab"``, ``"pil"``, ``"torch"``) or a full ``Degradation``.
        augment: random h/v flips, 90° rotations and temporal reversal, identical for all frames.
        seed: base seed; sample ``index`` of epoch ``e`` uses the RNG seeded with ``(seed, e, index)``.
        num_frames: HR frames per sample (a random window of the clip); ``None`` takes the whole clip
            (trimmed to an odd length for ``"stvsr"``). Must be odd for ``"stvsr"``.
        temporal: ``"stvsr"`` (LR = odd HR frames) or ``"vsr"`` (LR for every HR frame).
        use_source_lr: use the clip's own ``lr`` frames when it has them (e.g. Vid4 BIx4) instead of
            generating them; they must have one frame per HR frame and size ``HR // scale``.

    Raises:
        TypeError: if ``source`` is not sized/indexable or ``lr_patch``/``scale``/``num_frames`` is not an int.
        ValueError: if a size is < 1, ``num_frames`` is even for ``"stvsr"``, ``temporal`` is unknown or
            ``kernel`` is invalid.

    Example:
        >>> from stvsr_blocks.data.datasets import Clip
        >>> src = [Clip("a", torch.rand(7, 3, 40, 48))]
        >>> ds = STVSRTrainDataset(src, lr_patch=8, scale=4)
        >>> s = ds[0]
        >>> tuple(s.lr.shape), tuple(s.hr.shape)
        ((4, 3, 8, 8), (7, 3, 32, 32))
    """

    def __init__(
        self,
        source: ClipSource,
        *,
        lr_patch: int = 32,
        scale: int = 4,
        kernel: Kernel | Degradation = "matlab",
        augment: bool = True,
        seed: int = 0,
        num_frames: int | None = None,
        temporal: Literal["stvsr", "vsr"] = "stvsr",
        use_source_lr: bool = False,
    ) -> None:
        if not (hasattr(source, "__len__") and hasattr(source, "__getitem__")):
            raise TypeError(f"source: expected an object with __len__ and __getitem__, got {type(source).__name__}")
        self.source = source
        self.lr_patch = check_positive_int(lr_patch, "lr_patch")
        self.degradation = kernel if isinstance(kernel, Degradation) else Degradation(scale=scale, kernel=kernel)
        self.scale = self.degradation.scale
        if temporal not in ("stvsr", "vsr"):
            raise ValueError(f"temporal: expected 'stvsr' or 'vsr', got {temporal!r}")
        self.temporal = temporal
        if num_frames is not None:
            num_frames = check_positive_int(num_frames, "num_frames")
            if temporal == "stvsr" and num_frames % 2 == 0:
                raise ValueError(f"num_frames: must be odd for temporal='stvsr' (LR = odd HR frames), got {num_frames}")
        self.num_frames = num_frames
        self.augment = bool(augment)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
        self.seed = seed
        self.use_source_lr = bool(use_source_lr)
        self.epoch = 0

    @property
    def hr_patch(self) -> int:
        """HR patch size ``lr_patch · scale``."""
        return self.lr_patch * self.scale

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose random choices ``__getitem__`` makes (call before iterating the loader).

        Args:
            epoch: non-negative epoch number.

        Raises:
            ValueError: if ``epoch`` is negative or not an int.
        """
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"epoch: expected a non-negative int, got {epoch!r}")
        self.epoch = epoch

    def __len__(self) -> int:
        """Number of samples per epoch (one per source clip)."""
        return len(self.source)

    def rng(self, index: int) -> np.random.Generator:
        """The private RNG of sample ``index`` in the current epoch.

        Args:
            index: sample index.

        Returns:
            ``numpy.random.default_rng([seed, epoch, index])``.
        """
        return np.random.default_rng([self.seed, self.epoch, index])

    def params(self, index: int, num_frames: int, lr_height: int, lr_width: int) -> SampleParams:
        """Draw the random choices of sample ``index`` (deterministic in ``seed``, epoch and ``index``).

        Args:
            index: sample index.
            num_frames: frames available in the clip.
            lr_height: height of the full LR frame.
            lr_width: width of the full LR frame.

        Returns:
            The :class:`SampleParams` (no augmentation fields set when ``augment=False``).

        Raises:
            ValueError: if the clip is shorter than ``num_frames`` or the LR frame smaller than ``lr_patch``.
        """
        window = self._window(num_frames)
        if num_frames < window:
            raise ValueError(f"clip {index}: needs at least {window} frames (num_frames), got {num_frames}")
        p = self.lr_patch
        if lr_height < p or lr_width < p:
            raise ValueError(
                f"clip {index}: LR frame {lr_height}x{lr_width} is smaller than lr_patch={p} "
                f"(HR must be at least {p * self.scale}x{p * self.scale})"
            )
        rng = self.rng(index)
        start = int(rng.integers(0, num_frames - window + 1))
        top = int(rng.integers(0, lr_height - p + 1))
        left = int(rng.integers(0, lr_width - p + 1))
        flips = rng.random(3) < 0.5
        rot = int(rng.integers(0, 4))
        if not self.augment:
            return SampleParams(start, top, left, False, False, 0, False)
        return SampleParams(start, top, left, bool(flips[0]), bool(flips[1]), rot, bool(flips[2]))

    def _window(self, num_frames: int) -> int:
        if self.num_frames is not None:
            return self.num_frames
        if self.temporal == "stvsr" and num_frames % 2 == 0:
            return num_frames - 1
        return num_frames

    def __getitem__(self, index: int) -> TrainSample:
        """Build sample ``index`` of the current epoch.

        Args:
            index: sample index in ``[0, len(self))``.

        Returns:
            A :class:`TrainSample` ``(lr, hr)``.

        Raises:
            IndexError: if ``index`` is out of range.
            TypeError: if the source item has no ``hr`` tensor.
            ValueError: if the clip is too short or too small, or its own LR frames do not fit the scale.
        """
        if not 0 <= index < len(self):
            raise IndexError(f"index: sample {index} out of range for {len(self)} samples")
        clip = self.source[index]
        hr_full = getattr(clip, "hr", None)
        if not isinstance(hr_full, Tensor) or hr_full.ndim != 4:
            raise TypeError(
                f"source[{index}]: expected a Clip with hr frames of shape (T, 3, H, W), got {type(clip).__name__} "
                f"with hr={type(hr_full).__name__}"
            )
        s, p = self.scale, self.lr_patch
        hr_full = crop_to_multiple(hr_full, s)
        t, lr_h, lr_w = hr_full.shape[0], hr_full.shape[-2] // s, hr_full.shape[-1] // s
        prm = self.params(index, t, lr_h, lr_w)
        hr = hr_full[prm.start : prm.start + self._window(t)]
        src_lr = getattr(clip, "lr", None) if self.use_source_lr else None
        if src_lr is not None:
            if src_lr.shape[0] != t or tuple(src_lr.shape[-2:]) != (lr_h, lr_w):
                raise ValueError(
                    f"source[{index}].lr: expected {t} frames of {lr_h}x{lr_w} (HR // {s}), got shape {tuple(src_lr.shape)}"
                )
            lr_full = src_lr[prm.start : prm.start + hr.shape[0]]
            lr_full = keep_odd_frames(lr_full) if self.temporal == "stvsr" else lr_full
        else:
            lr_full = self.degradation(keep_odd_frames(hr) if self.temporal == "stvsr" else hr)
        lr = lr_full[..., prm.top : prm.top + p, prm.left : prm.left + p]
        hr_box = (..., slice(prm.top * s, (prm.top + p) * s), slice(prm.left * s, (prm.left + p) * s))
        hr = hr[hr_box]
        t_mid, flows, mask = self._middle(clip, prm.start, hr.shape[0])
        flows, mask = flows[hr_box], mask[hr_box]
        if self.augment:
            flows, mask, t_mid = augment_flows(flows, mask, t_mid, prm)
        return TrainSample(augment_clip(lr, prm), augment_clip(hr, prm), torch.tensor(t_mid, dtype=torch.float32),
                           flows.contiguous(), mask.contiguous())

    def _middle(self, clip: object, start: int, window: int) -> tuple[float, Tensor, Tensor]:
        """Time of the middle frame and exact flows ``flow_{0->t}``, ``flow_{1->t}`` for a 3-frame window."""
        hr = clip.hr  # type: ignore[attr-defined]
        h, w = hr.shape[-2] - hr.shape[-2] % self.scale, hr.shape[-1] - hr.shape[-1] % self.scale
        t_mid = 0.5
        times = getattr(clip, "times", None)
        if window == 3 and times is not None:
            a, m, b = (float(times[start + k]) for k in range(3))
            t_mid = (m - a) / (b - a)
        flow_between = getattr(clip, "flow_between", None)
        if window == 3 and self.temporal == "stvsr" and callable(flow_between):
            f0, m0 = flow_between(start, start + 1)
            f1, m1 = flow_between(start + 2, start + 1)
            flows = torch.stack((f0, f1))[..., :h, :w]
            return t_mid, flows, torch.stack((m0, m1))[..., :h, :w]
        return t_mid, torch.zeros(2, 2, h, w), torch.zeros(2, 1, h, w, dtype=torch.bool)
