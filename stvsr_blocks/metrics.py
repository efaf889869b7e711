r"""Image-quality metrics and the evaluation protocols of the STVSR / VFI literature.

**Conventions** (those of the Zooming-SloMo / EDVR / BasicSR evaluation scripts that STVSR papers use):

* Inputs are RGB float tensors ``(3, H, W)`` or ``(B, 3, H, W)`` in ``[0, data_range]`` (default 1).
* ``round_uint8=True`` first quantises both images as saving them to 8-bit PNG does:
  ``round(clamp(x, 0, 1) · 255) / 255`` (round half to even, like ``np.round``).
* ``channel="y"`` scores the BT.601 luma of ITU-R BT.601 "studio swing" (the MATLAB ``rgb2ycbcr`` /
  ``bgr2ycbcr(only_y=True)`` formula), on the 0-255 scale
  $Y = 16 + 65.481 R + 128.553 G + 24.966 B$ for $R, G, B \in [0, 1]$ (white → 235, black → 16).
  $Y$ is *not* rounded again (the scripts compute it in floating point). kornia's
  ``rgb_to_ycbcr`` is the full-range JPEG transform (white → 255, no 16 offset, different
  weights' scale) and gives different numbers, so the formula is written out here.
* PSNR uses the peak 255 on the 0-255 scale, i.e. $10\log_{10}(255^2/\mathrm{MSE}_{255})$, identical to
  $10\log_{10}(1/\mathrm{MSE})$ on the 0-1 scale; identical images give ``inf``.
* SSIM (Wang et al. 2004): 11×11 Gaussian window with $\sigma = 1.5$, $C_1 = (0.01 L)^2$,
  $C_2 = (0.03 L)^2$, *valid* filtering (no padding: the SSIM map is 10 pixels smaller in each
  dimension), mean of the map; for RGB the mean of the three channel SSIMs. ``kornia.metrics.ssim``
  pads by default (``padding="same"``), which changes the border statistics and the result; with
  ``padding="valid"`` it agrees with :func:`ssim` to about 1e-11 (checked in the tests). The valid
  version is written here with ``conv2d`` in float64.
* ``crop`` removes that many pixels from every border before scoring (STVSR papers: 0).
* Clip-level results average per clip first, then over clips (:class:`MetricAccumulator`).

NIQE (Mittal, Soundararajan & Bovik 2013) follows the authors' MATLAB release (``computequality.m``):
see :func:`niqe`. The authors' pristine model ships with the library (provenance and licence in
``stvsr_blocks/_niqe_pristine.py``); see :func:`load_niqe_model`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from stvsr_blocks.data.degrade import imresize_matlab

__all__ = [
    "rgb_to_y_bt601",
    "quantize_uint8",
    "psnr",
    "ssim",
    "interpolation_error",
    "MetricAccumulator",
    "MetricSummary",
    "EvalProtocol",
    "PROTOCOLS",
    "get_protocol",
    "NiqeModel",
    "NIQE_PARAMS_ENV",
    "bundled_niqe_model",
    "load_niqe_model",
    "niqe_features",
    "niqe",
    "fit_niqe_model",
]

Channel = Literal["y", "rgb"]

#: Environment variable naming a file with the NIQE pristine model (see :func:`load_niqe_model`).
NIQE_PARAMS_ENV = "STVSR_NIQE_PARAMS"


# --------------------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------------------
def _check_image(x: object, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
    if x.ndim not in (3, 4):
        raise ValueError(f"{name}: expected shape (C, H, W) or (B, C, H, W), got shape {tuple(x.shape)}")
    return x


def _check_int(value: object, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int >= {low}, got {type(value).__name__} {value!r}")
    if value < low:
        raise ValueError(f"{name}: expected an int >= {low}, got {value}")
    return value


def _check_channel(channel: object) -> str:
    if channel not in ("y", "rgb"):
        raise ValueError(f"channel: expected 'y' or 'rgb', got {channel!r}")
    return str(channel)


def _check_range(data_range: object) -> float:
    if isinstance(data_range, bool) or not isinstance(data_range, (int, float)):
        raise TypeError(f"data_range: expected a positive real number, got {type(data_range).__name__}")
    if not (math.isfinite(data_range) and data_range > 0):
        raise ValueError(f"data_range: expected a positive finite number, got {data_range}")
    return float(data_range)


def _prepare_pair(
    pred: object, target: object, channel: object, crop: object, round_uint8: object, data_range: object
) -> tuple[Tensor, Tensor, bool]:
    """Validate, batch, normalise to [0, 1] float64, quantise, convert channel and crop."""
    pred = _check_image(pred, "pred")
    target = _check_image(target, "target")
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target must have the same shape: got pred {tuple(pred.shape)} and target {tuple(target.shape)}"
        )
    channel = _check_channel(channel)
    crop = _check_int(crop, "crop", 0)
    if not isinstance(round_uint8, bool):
        raise TypeError(f"round_uint8: expected a bool, got {type(round_uint8).__name__}")
    data_range = _check_range(data_range)
    single = pred.ndim == 3
    if single:
        pred, target = pred[None], target[None]
    if channel == "y" and pred.shape[1] != 3:
        raise ValueError(f"pred: channel='y' needs 3 (RGB) channels, got shape {tuple(pred.shape)}")
    h, w = pred.shape[-2:]
    if 2 * crop >= h or 2 * crop >= w:
        raise ValueError(f"crop: {crop} pixels per border leaves nothing of a {h}x{w} image")
    out = []
    for x in (pred, target):
        x = x.detach().to(torch.float64) / data_range
        if round_uint8:
            x = quantize_uint8(x)
        if channel == "y":
            x = rgb_to_y_bt601(x)
        if crop:
            x = x[..., crop : h - crop, crop : w - crop]
        out.append(x)
    return out[0], out[1], single


def rgb_to_y_bt601(image: Tensor) -> Tensor:
    r"""BT.601 studio-swing luma, normalised to ``[16/255, 235/255]``.

    $$Y_{255} = 16 + 65.481 R + 128.553 G + 24.966 B,\qquad R, G, B \in [0, 1],$$

    returned as $Y_{255}/255$ (same formula as MATLAB ``rgb2ycbcr`` on doubles and BasicSR's
    ``rgb2ycbcr(y_only=True)``; not kornia's full-range JPEG ``rgb_to_ycbcr``).

    Args:
        image: ``(..., 3, H, W)`` RGB in ``[0, 1]``.

    Returns:
        ``(..., 1, H, W)`` luma on the 0-1 scale.

    Raises:
        TypeError: if ``image`` is not a floating tensor.
        ValueError: if the channel dimension (third from last) is not 3.

    Example:
        >>> (rgb_to_y_bt601(torch.ones(3, 1, 1)) * 255).item(), (rgb_to_y_bt601(torch.zeros(3, 1, 1)) * 255).item()
        (235.0, 16.0)
    """
    if not isinstance(image, Tensor) or not image.is_floating_point():
        raise TypeError(f"image: expected a floating-point torch.Tensor, got {type(image).__name__}")
    if image.ndim < 3 or image.shape[-3] != 3:
        raise ValueError(f"image: expected shape (..., 3, H, W), got shape {tuple(image.shape)}")
    r, g, b = image.unbind(dim=-3)
    y = (16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0
    return y.unsqueeze(-3)


def quantize_uint8(image: Tensor) -> Tensor:
    """Quantise ``[0, 1]`` values to the 256 levels of an 8-bit image: ``round(clamp(x, 0, 1)·255)/255``.

    Rounds half to even, like ``np.round`` (so it equals saving to uint8 PNG and reloading).

    Args:
        image: float tensor of any shape, values nominally in ``[0, 1]``.

    Returns:
        The quantised tensor (same shape and dtype).

    Raises:
        TypeError: if ``image`` is not a floating tensor.

    Example:
        >>> quantize_uint8(torch.tensor([0.5, 1.2, -0.1])) * 255
        tensor([128., 255.,   0.])
    """
    if not isinstance(image, Tensor) or not image.is_floating_point():
        raise TypeError(f"image: expected a floating-point torch.Tensor, got {type(image).__name__}")
    return torch.round(image.clamp(0.0, 1.0) * 255.0) / 255.0


# --------------------------------------------------------------------------------------------------
# PSNR / SSIM / IE
# --------------------------------------------------------------------------------------------------
def psnr(
    pred: Tensor,
    target: Tensor,
    *,
    channel: Channel = "y",
    crop: int = 0,
    round_uint8: bool = True,
    data_range: float = 1.0,
) -> Tensor:
    r"""Peak signal-to-noise ratio per image, $10\log_{10}(1/\mathrm{MSE})$ on the 0-1 scale.

    Equivalent to the 0-255 formula with peak 255 used by the STVSR scripts. The MSE averages over
    the scored channels (one for Y, three for RGB) and the (cropped) pixels.

    Args:
        pred: ``(3, H, W)`` or ``(B, 3, H, W)`` prediction in ``[0, data_range]`` (``channel="rgb"``
            accepts any channel count).
        target: ground truth of the same shape.
        channel: ``"y"`` (BT.601 luma, see :func:`rgb_to_y_bt601`) or ``"rgb"``.
        crop: pixels removed from every border before scoring.
        round_uint8: quantise both images to 8 bits first (:func:`quantize_uint8`).
        data_range: the value of white in the inputs (1.0 for ``[0, 1]``, 255.0 for ``[0, 255]``).

    Returns:
        float64 tensor ``(B,)`` (0-dim for a single ``(C, H, W)`` image); ``inf`` where the images are
        identical.

    Raises:
        TypeError: if an image is not a floating tensor, or an option has the wrong type.
        ValueError: on a shape mismatch, a wrong channel count for ``"y"``, an unknown ``channel``, a crop
            that removes the whole image, or a non-positive ``data_range``.

    Example:
        >>> a = torch.zeros(1, 3, 4, 4)
        >>> b = torch.full((1, 3, 4, 4), 0.1)
        >>> psnr(a, b, channel="rgb", round_uint8=False)
        tensor([20.0000], dtype=torch.float64)
    """
    p, t, single = _prepare_pair(pred, target, channel, crop, round_uint8, data_range)
    mse = (p - t).square().flatten(1).mean(dim=1)
    out = 10.0 * torch.log10(1.0 / mse)
    return out[0] if single else out


def _gaussian_window1d(size: int = 11, sigma: float = 1.5) -> Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


def _filter_valid(x: Tensor, g: Tensor) -> Tensor:
    """Valid separable filtering of ``(N, H, W)`` with the 1-D kernel ``g`` along both axes."""
    k = g.shape[0]
    h, w = x.shape[-2:]
    rows = sum(g[i] * x[..., :, i : w - k + 1 + i] for i in range(k))
    return sum(g[i] * rows[..., i : h - k + 1 + i, :] for i in range(k))


def ssim(
    pred: Tensor,
    target: Tensor,
    *,
    channel: Channel = "y",
    crop: int = 0,
    round_uint8: bool = True,
    data_range: float = 1.0,
) -> Tensor:
    r"""Structural similarity per image (Wang et al. 2004, valid filtering, as MATLAB ``ssim_index``).

    $$\mathrm{SSIM} = \operatorname{mean}\frac{(2\mu_x\mu_y + C_1)(2\sigma_{xy} + C_2)}
    {(\mu_x^2 + \mu_y^2 + C_1)(\sigma_x^2 + \sigma_y^2 + C_2)}$$

    with Gaussian-weighted local statistics (11×11, $\sigma = 1.5$) over every fully-inside window,
    $C_1 = 0.01^2$, $C_2 = 0.03^2$ on the 0-1 scale. RGB: mean of the per-channel SSIMs.

    Args:
        pred: ``(3, H, W)`` or ``(B, 3, H, W)`` prediction in ``[0, data_range]``.
        target: ground truth of the same shape.
        channel: ``"y"`` or ``"rgb"`` (see :func:`psnr`).
        crop: pixels removed from every border before scoring.
        round_uint8: quantise both images to 8 bits first.
        data_range: the value of white in the inputs.

    Returns:
        float64 tensor ``(B,)`` (0-dim for a single image); 1 for identical images.

    Raises:
        TypeError: if an image is not a floating tensor, or an option has the wrong type.
        ValueError: as :func:`psnr`, or if the (cropped) image is smaller than 11×11.

    Example:
        >>> x = torch.rand(2, 3, 16, 16)
        >>> ssim(x, x)
        tensor([1., 1.], dtype=torch.float64)
    """
    p, t, single = _prepare_pair(pred, target, channel, crop, round_uint8, data_range)
    b, c, h, w = p.shape
    if h < 11 or w < 11:
        raise ValueError(f"pred: SSIM needs images of at least 11x11 after cropping, got {h}x{w}")
    g = _gaussian_window1d().to(p.device)
    x = p.reshape(b * c, h, w)
    y = t.reshape(b * c, h, w)
    # separable valid filtering as weighted sums of shifted slices: memory and time linear in the image
    # (a float64 2-D convolution on CPU unfolds 121 copies of the image: 13 GB for one 720p RGB frame)
    mx, my, xx, yy, xy = (_filter_valid(z, g) for z in (x, y, x * x, y * y, x * y))
    c1, c2 = 0.01**2, 0.03**2
    vx, vy, cxy = xx - mx * mx, yy - my * my, xy - mx * my
    smap = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    out = smap.reshape(b, c, -1).mean(dim=2).mean(dim=1)
    return out[0] if single else out


def interpolation_error(
    pred: Tensor, target: Tensor, *, crop: int = 0, round_uint8: bool = True, data_range: float = 1.0
) -> Tensor:
    r"""Middlebury interpolation error: RMS difference on the 0-255 scale over all RGB values.

    $$\mathrm{IE} = \sqrt{\operatorname{mean}\big(255\,(\hat I - I)\big)^2}$$

    (Baker et al. 2011; lower is better).

    Args:
        pred: ``(C, H, W)`` or ``(B, C, H, W)`` interpolated frame in ``[0, data_range]``.
        target: ground-truth frame of the same shape.
        crop: pixels removed from every border before scoring.
        round_uint8: quantise both images to 8 bits first.
        data_range: the value of white in the inputs.

    Returns:
        float64 tensor ``(B,)`` (0-dim for a single image).

    Raises:
        TypeError: if an image is not a floating tensor, or an option has the wrong type.
        ValueError: on a shape mismatch or a crop that removes the whole image.

    Example:
        >>> interpolation_error(torch.zeros(3, 2, 2), torch.full((3, 2, 2), 2 / 255))
        tensor(2., dtype=torch.float64)
    """
    p, t, single = _prepare_pair(pred, target, "rgb", crop, round_uint8, data_range)
    out = (255.0 * (p - t)).square().flatten(1).mean(dim=1).sqrt()
    return out[0] if single else out


# --------------------------------------------------------------------------------------------------
# Aggregation
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
        _check_int(frame, "frame", 0)
        if kind is None:
            kind = "vsr" if frame % 2 == 0 else "vfi"
        if kind not in ("vsr", "vfi"):
            raise ValueError(f"kind: expected 'vsr', 'vfi' or None, got {kind!r}")
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
    _check_channel(proto.channel)
    if proto.task not in ("stvsr", "vfi"):
        raise ValueError(f"task: expected 'stvsr' or 'vfi', got {proto.task!r}")
    _check_int(proto.crop, "crop", 0)
    _check_int(proto.scale, "scale", 1)
    return proto


# --------------------------------------------------------------------------------------------------
# NIQE
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NiqeModel:
    """A NIQE multivariate-Gaussian model of natural-image features.

    Args:
        mu: ``(36,)`` float64 mean feature vector.
        cov: ``(36, 36)`` float64 feature covariance.
        patch_size: patch size the features were computed on (96 for the standard model).
        source: where the model came from (a path or ``"fitted"``), for reports.
    """

    mu: Tensor
    cov: Tensor
    patch_size: int = 96
    source: str = field(default="")

    def __post_init__(self) -> None:
        if not isinstance(self.mu, Tensor) or self.mu.shape != (36,):
            raise ValueError(f"mu: expected a tensor of shape (36,), got {getattr(self.mu, 'shape', type(self.mu))}")
        if not isinstance(self.cov, Tensor) or self.cov.shape != (36, 36):
            raise ValueError(
                f"cov: expected a tensor of shape (36, 36), got {getattr(self.cov, 'shape', type(self.cov))}"
            )
        _check_int(self.patch_size, "patch_size", 4)
        if self.patch_size % 2:
            raise ValueError(f"patch_size: expected an even int (halved for the second scale), got {self.patch_size}")


_MU_KEYS = ("pop_mu", "mu_prisparam", "mu_pris_param", "mu")
_COV_KEYS = ("pop_cov", "cov_prisparam", "cov_pris_param", "cov")


def _read_params(path: Path) -> NiqeModel:
    if not path.is_file():
        raise FileNotFoundError(f"NIQE model file not found: {path}")
    if path.suffix == ".mat":
        try:
            from scipy.io import loadmat
        except ImportError as err:  # pragma: no cover - scipy is a dev dependency
            raise ImportError("reading a .mat NIQE model needs scipy (pip install scipy), or convert it to .npz") from err
        data = {k: v for k, v in loadmat(str(path)).items() if not k.startswith("__")}
    else:
        with np.load(path) as npz:
            data = {k: npz[k] for k in npz.files}
    mu_key = next((k for k in _MU_KEYS if k in data), None)
    cov_key = next((k for k in _COV_KEYS if k in data), None)
    if mu_key is None or cov_key is None:
        raise ValueError(
            f"{path}: expected arrays named one of {_MU_KEYS} and one of {_COV_KEYS}, found {sorted(data)}"
        )
    mu = torch.as_tensor(np.asarray(data[mu_key], dtype=np.float64).reshape(-1))
    cov = torch.as_tensor(np.asarray(data[cov_key], dtype=np.float64))
    return NiqeModel(mu=mu, cov=cov, patch_size=96, source=str(path))


def bundled_niqe_model() -> NiqeModel:
    """The authors' pristine NIQE model as shipped with stvsr_blocks (96×96 patches, 36 features).

    The values are ``mu_prisparam`` / ``cov_prisparam`` of the NIQE MATLAB release's
    ``modelparameters.mat`` (LIVE, UT Austin); provenance, checksum and the release's licence notice
    are in ``stvsr_blocks/_niqe_pristine.py``.

    Returns:
        The :class:`NiqeModel` (``source`` names the release).

    Example:
        >>> m = bundled_niqe_model()
        >>> tuple(m.mu.shape), tuple(m.cov.shape), m.patch_size
        ((36,), (36, 36), 96)
    """
    from stvsr_blocks import _niqe_pristine as params

    return NiqeModel(mu=torch.tensor(params.MU, dtype=torch.float64), cov=torch.tensor(params.COV, dtype=torch.float64),
                     patch_size=params.PATCH_SIZE, source=params.SOURCE)


def load_niqe_model(path: str | os.PathLike[str] | None = None) -> NiqeModel:
    """Load a pristine NIQE model; by default the authors' one, which ships with stvsr_blocks.

    It is looked up, in order:

    1. ``path``, if given;
    2. the file named by the environment variable ``STVSR_NIQE_PARAMS``;
    3. the bundled model of :func:`bundled_niqe_model` (the authors' ``modelparameters.mat``).

    Accepted files: ``.mat`` (needs scipy) or ``.npz`` holding a 36-vector and a 36×36 matrix under
    the names ``mu_prisparam``/``cov_prisparam`` (the authors' release), ``mu_pris_param``/
    ``cov_pris_param`` (BasicSR), ``pop_mu``/``pop_cov`` or ``mu``/``cov``.

    Args:
        path: explicit model file.

    Returns:
        The :class:`NiqeModel`.

    Raises:
        FileNotFoundError: if ``path`` or the environment variable points to a missing file.
        ValueError: if the file lacks the arrays or they have the wrong shapes.
    """
    if path is not None:
        return _read_params(Path(path))
    env = os.environ.get(NIQE_PARAMS_ENV)
    if env:
        try:
            return _read_params(Path(env))
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"{NIQE_PARAMS_ENV}: {exc} (unset it to use the bundled model)") from exc
    return bundled_niqe_model()


_GAM = torch.arange(200, 10001, dtype=torch.float64) / 1000.0  # 0.2 : 0.001 : 10, as MATLAB
_R_GAM = torch.exp(2 * torch.lgamma(2 / _GAM) - torch.lgamma(1 / _GAM) - torch.lgamma(3 / _GAM))


def _aggd(v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """AGGD fit per row of ``v`` ``(P, N)`` (MATLAB ``estimateaggdparam``): alpha, beta_left, beta_right."""
    neg, pos = v < 0, v > 0
    left = torch.sqrt((v.square() * neg).sum(1) / neg.sum(1))
    right = torch.sqrt((v.square() * pos).sum(1) / pos.sum(1))
    gammahat = left / right
    rhat = v.abs().mean(1).square() / v.square().mean(1)
    rhatnorm = rhat * (gammahat**3 + 1) * (gammahat + 1) / (gammahat.square() + 1).square()
    idx = (_R_GAM.to(v.device)[None] - rhatnorm[:, None]).square().argmin(dim=1)
    alpha = _GAM.to(v.device)[idx]
    # An all-NaN search (flat patch) picks the first grid value, like MATLAB's min; the scales stay NaN.
    ratio = torch.exp(0.5 * (torch.lgamma(1 / alpha) - torch.lgamma(3 / alpha)))
    return alpha, left * ratio, right * ratio


def _patch_features(mscn: Tensor, size: int) -> Tensor:
    """18 features per non-overlapping ``size``×``size`` patch of ``mscn`` ``(H, W)`` (``computefeature.m``)."""
    p = mscn.unfold(0, size, size).unfold(1, size, size).reshape(-1, size, size)
    feats = []
    alpha, bl, br = _aggd(p.flatten(1))
    feats += [alpha, (bl + br) / 2]
    for shift in ((0, 1), (1, 0), (1, 1), (1, -1)):  # circshift within the patch, as MATLAB
        pair = (p * torch.roll(p, shifts=shift, dims=(1, 2))).flatten(1)
        alpha, bl, br = _aggd(pair)
        mean = (br - bl) * torch.exp(torch.lgamma(2 / alpha) - torch.lgamma(1 / alpha))
        feats += [alpha, mean, bl, br]
    return torch.stack(feats, dim=1)


def _mscn(img: Tensor) -> tuple[Tensor, Tensor]:
    """MSCN coefficients and local deviation (7×7 Gaussian, σ = 7/6, replicate borders)."""
    coords = torch.arange(7, dtype=torch.float64) - 3
    g = torch.exp(-(coords**2) / (2 * (7 / 6) ** 2))
    win = torch.outer(g, g)
    win = (win / win.sum())[None, None].to(img.device)
    x = img[None, None]
    mu = F.conv2d(F.pad(x, (3, 3, 3, 3), mode="replicate"), win)
    sq = F.conv2d(F.pad(x * x, (3, 3, 3, 3), mode="replicate"), win)
    sigma = torch.sqrt((sq - mu * mu).abs())
    return ((x - mu) / (sigma + 1))[0, 0], sigma[0, 0]


def _luminance(image: Tensor, color: str, round_uint8: bool) -> Tensor:
    """``(B, H, W)`` luminance on the 0-255 scale from ``(B, C, H, W)`` in [0, 1]."""
    x = image.detach().to(torch.float64)
    if round_uint8:
        x = quantize_uint8(x)
    if x.shape[1] == 1:
        lum = x[:, 0] * 255.0
    elif color == "gray":  # MATLAB rgb2gray
        lum = (0.298936021293775 * x[:, 0] + 0.587043074451121 * x[:, 1] + 0.114020904255103 * x[:, 2]) * 255.0
    else:
        lum = rgb_to_y_bt601(x)[:, 0] * 255.0
    return torch.round(lum) if round_uint8 else lum


def _check_niqe_input(image: object, color: object, crop: object, round_uint8: object) -> tuple[Tensor, bool]:
    image = _check_image(image, "image")
    single = image.ndim == 3
    if single:
        image = image[None]
    if image.shape[1] not in (1, 3):
        raise ValueError(f"image: expected 1 (luminance) or 3 (RGB) channels, got shape {tuple(image.shape)}")
    if color not in ("gray", "y"):
        raise ValueError(f"color: expected 'gray' or 'y', got {color!r}")
    crop = _check_int(crop, "crop", 0)
    if not isinstance(round_uint8, bool):
        raise TypeError(f"round_uint8: expected a bool, got {type(round_uint8).__name__}")
    h, w = image.shape[-2:]
    if 2 * crop >= h or 2 * crop >= w:
        raise ValueError(f"crop: {crop} pixels per border leaves nothing of a {h}x{w} image")
    if crop:
        image = image[..., crop : h - crop, crop : w - crop]
    return image, single


def _features_and_sharpness(lum: Tensor, patch_size: int) -> tuple[Tensor, Tensor]:
    h, w = lum.shape
    rows, cols = h // patch_size, w // patch_size
    if rows * cols < 2:
        raise ValueError(
            f"image: NIQE needs at least two {patch_size}x{patch_size} patches, got a {h}x{w} image "
            f"(use a smaller patch_size only with a model fitted on that patch size)"
        )
    img = lum[: rows * patch_size, : cols * patch_size]
    feats = []
    sharpness = None
    for scale in (1, 2):
        mscn, sigma = _mscn(img)
        feats.append(_patch_features(mscn, patch_size // scale))
        if scale == 1:
            sharpness = sigma.unfold(0, patch_size, patch_size).unfold(1, patch_size, patch_size).mean(dim=(-1, -2))
        img = imresize_matlab(img, 0.5)
    assert sharpness is not None
    return torch.cat(feats, dim=1), sharpness.reshape(-1)


def niqe_features(
    image: Tensor, *, patch_size: int = 96, color: Literal["gray", "y"] = "gray", round_uint8: bool = True
) -> Tensor:
    """The 36 NIQE features of every ``patch_size`` patch of one image (MATLAB ``computequality.m``).

    The luminance (0-255) is cropped to whole patches. At two scales (full, then MATLAB-bicubic ½):
    MSCN coefficients (7×7 Gaussian σ = 7/6, replicate borders, ``(I-μ)/(σ+1)``), then per
    non-overlapping patch (``patch_size``, then ``patch_size/2``) an AGGD fit of the coefficients
    (shape, mean of the two scales) and of their products with the 4 neighbours (horizontal, vertical,
    two diagonals; shape, mean, left and right scale) — 18 features per scale.

    Args:
        image: ``(3, H, W)`` RGB or ``(1, H, W)`` luminance in ``[0, 1]``.
        patch_size: patch side at full scale (even).
        color: luminance of RGB input: ``"gray"`` (MATLAB ``rgb2gray``, as the reference NIQE) or
            ``"y"`` (BT.601 Y, as BasicSR's ``calculate_niqe``).
        round_uint8: quantise to 8 bits and round the luminance, as MATLAB does for uint8 images.

    Returns:
        ``(P, 36)`` float64 features, one row per patch (rows may hold NaN for flat patches).

    Raises:
        TypeError: if ``image`` is not a floating tensor or an option has the wrong type.
        ValueError: on a wrong shape, unknown ``color``, odd ``patch_size``, or fewer than two patches.
    """
    image = _check_image(image, "image")
    if image.ndim != 3:
        raise ValueError(f"image: expected one image (C, H, W), got shape {tuple(image.shape)}")
    _check_int(patch_size, "patch_size", 4)
    if patch_size % 2:
        raise ValueError(f"patch_size: expected an even int, got {patch_size}")
    image, _ = _check_niqe_input(image, color, 0, round_uint8)
    return _features_and_sharpness(_luminance(image, color, round_uint8)[0], patch_size)[0]


def _nan_mean_cov(feats: Tensor) -> tuple[Tensor, Tensor]:
    """Column means ignoring NaN and covariance over complete rows (MATLAB ``nanmean``/``nancov``)."""
    ok = torch.isfinite(feats).all(dim=1)
    f = feats[ok]
    if f.shape[0] < 2:
        raise ValueError(f"image: NIQE needs at least two patches with finite features, got {f.shape[0]}")
    return torch.nanmean(feats, dim=0), torch.cov(f.T)


def niqe(
    image: Tensor,
    model: NiqeModel | None = None,
    *,
    color: Literal["gray", "y"] = "gray",
    crop: int = 0,
    round_uint8: bool = True,
) -> Tensor:
    r"""Naturalness Image Quality Evaluator (lower is more natural), per image.

    $$\mathrm{NIQE} = \sqrt{(\mu_p - \mu_d)^\top \Big(\tfrac{\Sigma_p + \Sigma_d}{2}\Big)^{+} (\mu_p - \mu_d)}$$

    with $(\mu_p, \Sigma_p)$ the pristine model and $(\mu_d, \Sigma_d)$ the mean and covariance of the
    image's patch features (:func:`niqe_features`; patches with NaN features dropped), ``+`` the
    pseudo-inverse. Follows the authors' MATLAB ``computequality.m``; with ``color="y"`` it follows
    BasicSR's ``calculate_niqe`` instead.

    Args:
        image: ``(3, H, W)`` / ``(B, 3, H, W)`` RGB, or 1-channel luminance, in ``[0, 1]``; at least two
            patches (e.g. 96×192 for the standard model).
        model: pristine model; default :func:`load_niqe_model` (the authors' model, bundled).
        color: ``"gray"`` (MATLAB ``rgb2gray``) or ``"y"`` (BT.601 luma).
        crop: pixels removed from every border first.
        round_uint8: quantise to 8 bits and round the luminance first.

    Returns:
        float64 tensor ``(B,)`` (0-dim for one image).

    Raises:
        TypeError: if ``image`` is not a floating tensor or ``model`` not a :class:`NiqeModel`.
        ValueError: on a wrong shape, unknown ``color``, a crop that removes the image, or too few patches.
        FileNotFoundError: if ``model`` is ``None`` and ``STVSR_NIQE_PARAMS`` names a missing file.
    """
    image, single = _check_niqe_input(image, color, crop, round_uint8)
    if model is None:
        model = load_niqe_model()
    if not isinstance(model, NiqeModel):
        raise TypeError(f"model: expected a NiqeModel or None, got {type(model).__name__}")
    lum = _luminance(image, color, round_uint8)
    mu_p, cov_p = model.mu.to(torch.float64), model.cov.to(torch.float64)
    scores = []
    for b in range(lum.shape[0]):
        feats, _ = _features_and_sharpness(lum[b], model.patch_size)
        mu_d, cov_d = _nan_mean_cov(feats)
        d = (mu_p.to(lum.device) - mu_d)[:, None]
        inv = torch.linalg.pinv((cov_p.to(lum.device) + cov_d) / 2)
        scores.append(torch.sqrt((d.T @ inv @ d).clamp_min(0)).reshape(()))
    out = torch.stack(scores)
    return out[0] if single else out


def fit_niqe_model(
    images: Iterable[Tensor],
    *,
    patch_size: int = 96,
    sharpness_threshold: float = 0.75,
    color: Literal["gray", "y"] = "gray",
    round_uint8: bool = True,
) -> NiqeModel:
    """Fit a NIQE model to pristine images (the authors' ``estimatemodelparam.m``).

    From each image keep the patches whose mean local deviation $\\sigma$ (sharpness) exceeds
    ``sharpness_threshold`` × that image's sharpest patch, then fit a Gaussian (mean, covariance) to
    all kept 36-feature vectors.

    Args:
        images: iterable of ``(3, H, W)`` / ``(1, H, W)`` images (or ``(B, C, H, W)`` batches) in ``[0, 1]``.
        patch_size: patch side (even; 96 in the reference model).
        sharpness_threshold: relative sharpness cut in ``[0, 1]`` (0.75 in the reference).
        color: ``"gray"`` or ``"y"`` (see :func:`niqe`).
        round_uint8: quantise to 8 bits first.

    Returns:
        The fitted :class:`NiqeModel` (``source="fitted"``).

    Raises:
        TypeError: if an image is not a floating tensor or an option has the wrong type.
        ValueError: on a wrong shape, an invalid option, or fewer than two usable patches in total.
    """
    _check_int(patch_size, "patch_size", 4)
    if patch_size % 2:
        raise ValueError(f"patch_size: expected an even int, got {patch_size}")
    if isinstance(sharpness_threshold, bool) or not isinstance(sharpness_threshold, (int, float)):
        raise TypeError(f"sharpness_threshold: expected a float in [0, 1], got {type(sharpness_threshold).__name__}")
    if not 0 <= sharpness_threshold <= 1:
        raise ValueError(f"sharpness_threshold: expected a value in [0, 1], got {sharpness_threshold}")
    kept = []
    for image in images:
        batch, _ = _check_niqe_input(image, color, 0, round_uint8)
        for lum in _luminance(batch, color, round_uint8):
            feats, sharp = _features_and_sharpness(lum, patch_size)
            kept.append(feats[sharp > sharpness_threshold * sharp.max()])
    if not kept:
        raise ValueError("images: expected at least one image")
    mu, cov = _nan_mean_cov(torch.cat(kept))
    return NiqeModel(mu=mu, cov=cov, patch_size=patch_size, source="fitted")
