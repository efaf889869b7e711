"""Evaluation protocols of the STVSR / VFI literature and the per-clip accumulation of frame scores.

:class:`EvalProtocol` says how LR inputs are made and how outputs are scored (channel, crop, rounding,
metrics); :data:`PROTOCOLS` holds the presets of the papers and :func:`get_protocol` returns one with
overrides. :class:`MetricAccumulator` collects per-frame scores and averages them per clip first, then
over clips, for all frames and for the frames with an LR input (``vsr``) and the interpolated ones (``vfi``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from torch import Tensor

from stvsr_blocks._check import check_choice, check_int
from stvsr_blocks.metrics.image import Channel, interpolation_error, psnr, ssim
from stvsr_blocks.metrics.niqe import niqe

__all__ = ["MetricSummary", "MetricAccumulator", "EvalProtocol", "PROTOCOLS", "get_protocol"]

# --------------------------------------------------------------------------------------------------
# Accumulation: per frame, averaged per clip, then over clips
# --------------------------------------------------------------------------------------------------
_GROUPS = ("all", "vsr", "vfi")


@dataclass(frozen=True)
class MetricSummary:
    """Averages produced by :meth:`MetricAccumulator.summary`.

    Args:
        groups: ``{group: {metric: value}}`` for the groups ``"all"``, ``"vsr"`` and ``"vfi"`` that have
            frames; each value is the mean over clips of the per-clip mean over that group's frames.
        per_clip: ``{clip: {group: {metric: value}}}`` per-clip means.
        n_clips: number of clips.
        n_frames: number of scored frames (all clips).
    """

    groups: dict[str, dict[str, float]]
    per_clip: dict[str, dict[str, dict[str, float]]]
    n_clips: int
    n_frames: int

    def to_dict(self) -> dict[str, object]:
        """Plain nested dictionary (JSON-serialisable except for ``inf``).

        Returns:
            ``{"groups": ..., "per_clip": ..., "n_clips": ..., "n_frames": ...}``.
        """
        return {"groups": self.groups, "per_clip": self.per_clip, "n_clips": self.n_clips, "n_frames": self.n_frames}


class MetricAccumulator:
    """Collect per-frame metric values and average them per clip, then over clips.

    Frames belong to the group ``"vsr"`` (frames that have an LR input: in the STVSR protocol the
    odd frames im1, im3, ... — *even* 0-based indices) or ``"vfi"`` (interpolated frames: odd 0-based
    indices), and always to ``"all"``. Pass ``kind`` to override the parity rule.

    Example:
        >>> acc = MetricAccumulator()
        >>> acc.update("a", 0, {"psnr": 30.0})
        >>> acc.update("b", 0, {"psnr": 20.0})
        >>> acc.update("b", 1, {"psnr": 40.0})
        >>> acc.summary().groups["all"]["psnr"]  # mean of clip means (30 and 30)
        30.0
    """

    def __init__(self) -> None:
        self._values: dict[str, list[tuple[int, str, dict[str, float]]]] = {}

    def update(
        self, clip: str, frame: int, values: Mapping[str, float | Tensor], *, kind: Literal["vsr", "vfi"] | None = None
    ) -> None:
        """Record the metrics of one frame.

        Args:
            clip: clip name.
            frame: 0-based frame index within the clip.
            values: ``{metric_name: value}``; 0-dim / one-element tensors are accepted.
            kind: ``"vsr"`` or ``"vfi"``; default by parity (even index → ``"vsr"``, odd → ``"vfi"``).

        Raises:
            TypeError: if ``clip`` is not a str, ``frame`` not an int, ``values`` not a mapping of names to
                numbers.
            ValueError: if ``frame`` < 0, ``kind`` is unknown, ``values`` is empty, or the metric names
                differ from earlier frames'.
        """
        if not isinstance(clip, str):
            raise TypeError(f"clip: expected a str, got {type(clip).__name__}")
        check_int(frame, "frame", low=0)
        check_choice(kind, "kind", ("vsr", "vfi", None))
        if kind is None:
            kind = "vsr" if frame % 2 == 0 else "vfi"
        if not isinstance(values, Mapping):
            raise TypeError(f"values: expected a mapping of metric names to numbers, got {type(values).__name__}")
        if not values:
            raise ValueError("values: expected at least one metric")
        clean: dict[str, float] = {}
        for key, v in values.items():
            if isinstance(v, Tensor):
                if v.numel() != 1:
                    raise TypeError(f"values[{key!r}]: expected a number or one-element tensor, got shape {tuple(v.shape)}")
                v = v.item()
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise TypeError(f"values[{key!r}]: expected a number, got {type(v).__name__}")
            clean[str(key)] = float(v)
        for entries in self._values.values():
            if entries and set(entries[0][2]) != set(clean):
                raise ValueError(f"values: metric names {sorted(clean)} differ from earlier {sorted(entries[0][2])}")
            break
        self._values.setdefault(clip, []).append((frame, kind, clean))

    def __len__(self) -> int:
        """Number of recorded frames."""
        return sum(len(v) for v in self._values.values())

    def summary(self) -> MetricSummary:
        """Average per clip (over that clip's frames of each group), then over clips.

        Returns:
            The :class:`MetricSummary`.

        Raises:
            ValueError: if nothing was recorded.
        """
        if not self._values:
            raise ValueError("MetricAccumulator.summary: no values recorded (call update first)")
        per_clip: dict[str, dict[str, dict[str, float]]] = {}
        for clip, entries in self._values.items():
            per_clip[clip] = {}
            for group in _GROUPS:
                rows = [vals for _, kind, vals in entries if group in ("all", kind)]
                if rows:
                    per_clip[clip][group] = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        groups: dict[str, dict[str, float]] = {}
        for group in _GROUPS:
            clip_means = [pc[group] for pc in per_clip.values() if group in pc]
            if clip_means:
                groups[group] = {k: float(np.mean([m[k] for m in clip_means])) for k in clip_means[0]}
        return MetricSummary(groups=groups, per_clip=per_clip, n_clips=len(per_clip), n_frames=len(self))


# --------------------------------------------------------------------------------------------------
# Protocols
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvalProtocol:
    """An evaluation protocol: how LR inputs are made and how outputs are scored.

    Override a field with ``dataclasses.replace(protocol, crop=4)`` or ``get_protocol(name, crop=4)``.

    Args:
        name: preset name.
        task: ``"stvsr"`` (×``scale`` space, ×2 time) or ``"vfi"`` (frame interpolation only).
        channel: ``"y"`` or ``"rgb"``, passed to :func:`psnr` / :func:`ssim`.
        crop: border crop in pixels.
        round_uint8: quantise to 8 bits before scoring.
        scale: spatial scale factor (1 for VFI).
        lr_kernel: LR kernel name of :func:`stvsr_blocks.data.degrade.downscale` (``"matlab"``,
            ``"pil"``, ``"torch"``), or ``None`` when inputs are not downscaled.
        metrics: metric names computed by :meth:`compute` (``"psnr"``, ``"ssim"``, ``"ie"``, and the
            no-reference ``"niqe"`` of the prediction, which needs frames of at least 96×192).
        description: what the protocol reproduces (data layout, windows, reference papers).
    """

    name: str
    task: Literal["stvsr", "vfi"]
    channel: Channel
    crop: int = 0
    round_uint8: bool = True
    scale: int = 4
    lr_kernel: str | None = "matlab"
    metrics: tuple[str, ...] = ("psnr", "ssim")
    description: str = ""

    def compute(self, pred: Tensor, target: Tensor) -> dict[str, Tensor]:
        """Score a batch under this protocol.

        Args:
            pred: ``(B, 3, H, W)`` (or ``(3, H, W)``) predictions in ``[0, 1]``.
            target: ground truth of the same shape.

        Returns:
            ``{metric: (B,) float64 tensor}`` for every name in :attr:`metrics`.

        Raises:
            ValueError: if a metric name is unknown, or as :func:`psnr`.

        Example:
            >>> import torch
            >>> x = torch.rand(1, 3, 16, 16)
            >>> sorted(get_protocol("stvsr-vimeo").compute(x, x))
            ['psnr', 'ssim']
        """
        out: dict[str, Tensor] = {}
        for m in self.metrics:
            if m == "psnr":
                out[m] = psnr(pred, target, channel=self.channel, crop=self.crop, round_uint8=self.round_uint8)
            elif m == "ssim":
                out[m] = ssim(pred, target, channel=self.channel, crop=self.crop, round_uint8=self.round_uint8)
            elif m == "ie":
                out[m] = interpolation_error(pred, target, crop=self.crop, round_uint8=self.round_uint8)
            elif m == "niqe":
                out[m] = niqe(pred, crop=self.crop, round_uint8=self.round_uint8)
            else:
                raise ValueError(f"metrics: unknown metric {m!r}; expected 'psnr', 'ssim', 'ie' or 'niqe'")
        return out


_STVSR_WINDOWS = (
    "LR frames are the odd HR frames (im1, im3, ...) bicubically downscaled ×4 (MATLAB imresize, after "
    "cropping HR to a multiple of 4); 2 LR inputs → 3 HR outputs, windows share endpoints, every GT frame "
    "scored once; Y channel (BT.601) after uint8 rounding, no border crop, SSIM 11×11 σ=1.5 valid; mean per "
    "clip then over clips (Zooming-SloMo / STARnet / TMNet / MBnet tables)."
)

#: Evaluation presets. ``stvsr-*`` follow the space-time SR papers (Y channel). The VFI presets score
#: RGB as DAIN / softmax-splatting / RIFE report UCF101 and Middlebury results (PSNR/SSIM over the three
#: colour channels on 8-bit outputs); Middlebury's official benchmark metric is the interpolation
#: error ``ie``. Override any choice with :func:`get_protocol`'s keyword arguments.
PROTOCOLS: dict[str, EvalProtocol] = {
    "stvsr-vimeo": EvalProtocol(
        name="stvsr-vimeo", task="stvsr", channel="y", scale=4, lr_kernel="matlab",
        description="Vimeo-90K septuplet test list (sep_testlist.txt): LR im1,3,5,7 → HR im1..7. " + _STVSR_WINDOWS,
    ),
    "stvsr-vid4": EvalProtocol(
        name="stvsr-vid4", task="stvsr", channel="y", scale=4, lr_kernel="matlab",
        description="Vid4 (calendar, city, foliage, walk), whole clips, even-length tail by an extra window. "
        + _STVSR_WINDOWS,
    ),
    "vfi-ucf101": EvalProtocol(
        name="vfi-ucf101", task="vfi", channel="rgb", scale=1, lr_kernel=None,
        description="UCF101 triplets (frame_00, frame_02 → frame_01_gt), 256×256, RGB PSNR/SSIM on 8-bit "
        "outputs, no crop (DAIN / softmax splatting protocol).",
    ),
    "vfi-middlebury": EvalProtocol(
        name="vfi-middlebury", task="vfi", channel="rgb", scale=1, lr_kernel=None, metrics=("ie", "psnr", "ssim"),
        description="Middlebury 'other' set (frame10, frame11 → frame10i11): interpolation error (RMS over RGB, "
        "0-255) plus RGB PSNR/SSIM on 8-bit outputs.",
    ),
}


def get_protocol(name: str, **overrides: object) -> EvalProtocol:
    """Look up a preset of :data:`PROTOCOLS`, optionally overriding fields.

    Args:
        name: preset name, e.g. ``"stvsr-vimeo"``.
        **overrides: :class:`EvalProtocol` fields to replace (e.g. ``channel="rgb"``, ``crop=4``).

    Returns:
        The (possibly modified) protocol.

    Raises:
        KeyError: if ``name`` is not a preset (the message lists the valid names).
        TypeError: if an override names no field of :class:`EvalProtocol`.
        ValueError: if an override has an invalid ``channel``, ``task``, ``crop`` or ``scale``.

    Example:
        >>> get_protocol("vfi-ucf101", crop=2).crop
        2
    """
    if name not in PROTOCOLS:
        raise KeyError(f"unknown protocol {name!r}; valid names: {', '.join(sorted(PROTOCOLS))}")
    proto = replace(PROTOCOLS[name], **overrides)  # TypeError on an unknown field
    check_choice(proto.channel, "channel", ("y", "rgb"))
    check_choice(proto.task, "task", ("stvsr", "vfi"))
    check_int(proto.crop, "crop", low=0)
    check_int(proto.scale, "scale", low=1)
    return proto
