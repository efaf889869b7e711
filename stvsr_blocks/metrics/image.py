r"""Full-reference image metrics: PSNR, SSIM and the Middlebury interpolation error, with their colour conventions.

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
  ``padding="valid"`` it computes the same map (checked in the tests; see :mod:`stvsr_blocks.metrics`
  for why the library keeps its own filtering). Scores are computed in float64.
* ``crop`` removes that many pixels from every border before scoring (STVSR papers: 0).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from stvsr_blocks._check import check_bool, check_choice, check_image, check_int, check_positive_float, check_tensor

__all__ = ["Channel", "rgb_to_y_bt601", "quantize_uint8", "psnr", "ssim", "interpolation_error"]

#: The scored channels: BT.601 luma or the three colour channels.
Channel = Literal["y", "rgb"]


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
    check_tensor(image, "image")
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
    check_tensor(image, "image")
    return torch.round(image.clamp(0.0, 1.0) * 255.0) / 255.0


# --------------------------------------------------------------------------------------------------
# Input handling shared by the metrics
# --------------------------------------------------------------------------------------------------
def _crop_border(x: Tensor, crop: object) -> Tensor:
    """Remove ``crop`` pixels from every border of ``(..., H, W)``, refusing a crop that leaves nothing.

    Args:
        x: the tensor.
        crop: pixels per border (an int >= 0).

    Returns:
        The cropped view (``x`` itself for 0).

    Raises:
        TypeError: if ``crop`` is not an int.
        ValueError: if ``crop`` < 0 or ``2 · crop`` >= H or W.
    """
    crop = check_int(crop, "crop", low=0)
    h, w = x.shape[-2:]
    if 2 * crop >= h or 2 * crop >= w:
        raise ValueError(f"crop: {crop} pixels per border leaves nothing of a {h}x{w} image")
    return x[..., crop : h - crop, crop : w - crop] if crop else x


def _prepare_pair(
    pred: object, target: object, channel: object, crop: object, round_uint8: object, data_range: object
) -> tuple[Tensor, Tensor, bool]:
    """Validate, batch, normalise to [0, 1] float64, quantise, convert channel and crop."""
    pred = check_image(pred, "pred")
    target = check_image(target, "target")
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target must have the same shape: got pred {tuple(pred.shape)} and target {tuple(target.shape)}"
        )
    check_choice(channel, "channel", ("y", "rgb"))
    check_int(crop, "crop", low=0)
    check_bool(round_uint8, "round_uint8")
    data_range = check_positive_float(data_range, "data_range")
    single = pred.ndim == 3
    if single:
        pred, target = pred[None], target[None]
    if channel == "y" and pred.shape[1] != 3:
        raise ValueError(f"pred: channel='y' needs 3 (RGB) channels, got shape {tuple(pred.shape)}")
    _crop_border(pred, crop)  # the size check, before any work
    out = []
    for x in (pred, target):
        x = x.detach().to(torch.float64) / data_range
        if round_uint8:
            x = quantize_uint8(x)
        if channel == "y":
            x = rgb_to_y_bt601(x)
        out.append(_crop_border(x, crop))
    return out[0], out[1], single


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

