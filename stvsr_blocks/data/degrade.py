r"""Degradations that turn HR/HFR clips into LR/LFR inputs.

Three bicubic kernels are offered because published results depend on which one made the LR data:

* ``"matlab"`` — :func:`imresize_matlab`, a re-implementation of MATLAB's ``imresize(x, 1/s, 'bicubic')``
  (the STVSR standard): cubic convolution kernel with $a = -0.5$, support widened by $1/s$ when
  downscaling (antialiasing), input coordinate $u = x/s + \tfrac12(1 - 1/s)$ (1-based), symmetric
  (mirrored) borders and weights normalised per output pixel.
* ``"pil"`` — :func:`imresize_pil`, ``PIL.Image.resize(..., BICUBIC)`` per channel in float mode ``"F"``
  (same kernel and antialiasing, but borders are handled by renormalising the truncated kernel).
* ``"torch"`` — :func:`imresize_torch`, ``F.interpolate(mode="bicubic")`` with optional antialiasing.

:func:`downscale` is the single entry point; :class:`Degradation` records the choice (its
:attr:`~Degradation.name` belongs in every result table). :func:`make_stvsr_pair` builds the standard
space-time training/evaluation pair: LR frames are the odd (1st, 3rd, ...) HR frames, bicubically
downscaled after cropping HR to a multiple of the scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from stvsr_blocks._check import check_positive_int, check_tensor

__all__ = [
    "KERNELS",
    "Kernel",
    "cubic",
    "matlab_resize_weights",
    "imresize_matlab",
    "imresize_pil",
    "imresize_torch",
    "downscale",
    "Degradation",
    "crop_to_multiple",
    "keep_odd_frames",
    "make_stvsr_pair",
]

Kernel = Literal["matlab", "pil", "torch"]
#: The kernel names accepted by :func:`downscale`.
KERNELS: tuple[str, ...] = ("matlab", "pil", "torch")


def cubic(x: Tensor, a: float = -0.5) -> Tensor:
    r"""Keys' cubic convolution kernel (MATLAB's ``cubic``, $a = -0.5$).

    $$k(x) = \begin{cases} (a+2)|x|^3 - (a+3)|x|^2 + 1 & |x| \le 1 \\
    a|x|^3 - 5a|x|^2 + 8a|x| - 4a & 1 < |x| \le 2 \\ 0 & \text{otherwise} \end{cases}$$

    Args:
        x: any tensor of positions.
        a: the kernel parameter (MATLAB and PIL use -0.5, ``F.interpolate`` uses -0.75).

    Returns:
        $k(x)$, same shape and dtype as ``x``.

    Example:
        >>> cubic(torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0], dtype=torch.float64)).tolist()
        [1.0, 0.5625, 0.0, -0.0625, 0.0]
    """
    ax = x.abs()
    ax2 = ax * ax
    ax3 = ax2 * ax
    inner = (a + 2) * ax3 - (a + 3) * ax2 + 1
    outer = a * ax3 - 5 * a * ax2 + 8 * a * ax - 4 * a
    return torch.where(ax <= 1, inner, torch.where(ax <= 2, outer, torch.zeros_like(x)))


def matlab_resize_weights(
    in_len: int, out_len: int, scale: float, *, antialias: bool = True, dtype: torch.dtype = torch.float64
) -> Tensor:
    r"""The dense ``out_len × in_len`` matrix that MATLAB's bicubic ``imresize`` applies along one axis.

    Output pixel $x$ (1-based) samples input coordinate $u = x/s + \tfrac12(1 - 1/s)$; the kernel
    $h$ is ``cubic`` (or $s\,k(s\,\cdot)$ with support $4/s$ when downscaling with antialiasing); the
    taps $\lfloor u - w/2 \rfloor + 0..\lceil w \rceil + 1$ are weighted by $h(u - j)$, normalised to sum 1,
    and out-of-range taps are mirrored (``[1..n, n..1]`` repeated), so duplicated taps add up.

    Args:
        in_len: input length along the axis.
        out_len: output length along the axis.
        scale: the scale factor $s$ (output / input, e.g. 0.25 for ×4 downscaling).
        antialias: widen the kernel by $1/s$ when $s < 1$ (MATLAB's default).
        dtype: dtype of the returned matrix.

    Returns:
        ``out_len × in_len`` tensor whose rows sum to 1.

    Raises:
        TypeError: if ``in_len`` or ``out_len`` is not an int.
        ValueError: if ``in_len``/``out_len`` < 1 or ``scale`` <= 0.

    Example:
        >>> w = matlab_resize_weights(8, 4, 0.5)
        >>> w.shape, bool(torch.allclose(w.sum(1), torch.ones(4, dtype=torch.float64)))
        (torch.Size([4, 8]), True)
    """
    in_len = check_positive_int(in_len, "in_len")
    out_len = check_positive_int(out_len, "out_len")
    if not scale > 0:
        raise ValueError(f"scale: expected a positive scale factor, got {scale}")
    kernel_width = 4.0
    if scale < 1 and antialias:
        kernel_width /= scale
    x = torch.arange(1, out_len + 1, dtype=torch.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    idx = left[:, None] + torch.arange(taps, dtype=torch.float64)[None, :]  # 1-based, out × taps
    dist = u[:, None] - idx
    if scale < 1 and antialias:
        w = scale * cubic(scale * dist)
    else:
        w = cubic(dist)
    w = w / w.sum(dim=1, keepdim=True)
    # MATLAB's symmetric padding: aux = [1:n, n:-1:1]; idx = aux(mod(idx - 1, 2n) + 1)
    period = 2 * in_len
    m = torch.remainder(idx.long() - 1, period)  # 0-based position in aux
    idx0 = torch.where(m < in_len, m, period - 1 - m)  # 0-based input index
    mat = torch.zeros(out_len, in_len, dtype=torch.float64)
    mat.scatter_add_(1, idx0, w)
    return mat.to(dtype)


def _check_image(x: object, name: str) -> Tensor:
    t = check_tensor(x, name)
    if t.ndim < 2:
        raise ValueError(f"{name}: expected a tensor of shape (..., H, W), got shape {tuple(t.shape)}")
    return t


def _out_size(h: int, w: int, scale: float | None, size: tuple[int, int] | None) -> tuple[int, int, float, float]:
    if (scale is None) == (size is None):
        raise ValueError("exactly one of scale and size must be given")
    if size is not None:
        if len(size) != 2:
            raise ValueError(f"size: expected (height, width), got {size!r}")
        oh, ow = (check_positive_int(s, "size") for s in size)
        return oh, ow, oh / h, ow / w
    assert scale is not None
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
        raise ValueError(f"scale: expected a positive number, got {scale!r}")
    scale = float(scale)
    # MATLAB: output size = ceil(scale * input size); tolerate float noise such as 0.25 * 28 = 7.000000001
    oh = math.ceil(round(h * scale, 9))
    ow = math.ceil(round(w * scale, 9))
    return oh, ow, scale, scale


def imresize_matlab(
    x: Tensor, scale: float | None = None, *, size: tuple[int, int] | None = None, antialias: bool = True
) -> Tensor:
    """MATLAB-compatible bicubic ``imresize`` on the last two dims (vectorised, any float dtype).

    Matches ``imresize(x, scale)`` / ``imresize(x, [h w])`` of MATLAB for double input (no rounding or
    clamping; MATLAB rounds only for integer images). Height is resized first, then width.

    Args:
        x: float tensor ``(..., H, W)``, e.g. ``C×H×W``, ``B×C×H×W`` or ``B×T×C×H×W``.
        scale: scale factor (0.25 for ×4 downscaling, 2 for ×2 upscaling); output size ``ceil(scale·H)``.
        size: output ``(height, width)`` instead of ``scale``.
        antialias: widen the kernel when downscaling (MATLAB default ``true``); upscaling never widens.

    Returns:
        The resized tensor ``(..., H', W')`` with ``x``'s dtype and device.

    Raises:
        TypeError: if ``x`` is not a floating tensor.
        ValueError: if ``x`` has fewer than 2 dims, or not exactly one of ``scale``/``size`` is valid.

    Example:
        >>> row = torch.arange(1.0, 9.0, dtype=torch.float64).reshape(1, 8)
        >>> [round(v, 4) for v in imresize_matlab(row, size=(1, 4))[0].tolist()]
        [1.4492, 3.4883, 5.5117, 7.5508]
    """
    x = _check_image(x, "x")
    h, w = x.shape[-2:]
    oh, ow, sh, sw = _out_size(h, w, scale, size)
    wdtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    out = x if x.dtype == wdtype else x.to(wdtype)
    if (oh, ow) != (h, w) or sh != 1 or sw != 1:
        wh = matlab_resize_weights(h, oh, sh, antialias=antialias, dtype=wdtype).to(x.device)
        ww = matlab_resize_weights(w, ow, sw, antialias=antialias, dtype=wdtype).to(x.device)
        out = torch.matmul(wh, out)  # (..., oh, W)
        out = torch.matmul(out, ww.transpose(0, 1))  # (..., oh, ow)
    return out.to(x.dtype)


def imresize_pil(x: Tensor, scale: float | None = None, *, size: tuple[int, int] | None = None) -> Tensor:
    """Bicubic resize with ``PIL.Image.resize(BICUBIC)`` per channel in float mode ``"F"``.

    Pillow's bicubic uses $a = -0.5$ and always antialiases when downscaling; borders renormalise the
    truncated kernel (so border pixels differ from MATLAB). Computed in float32 on the CPU.

    Args:
        x: float tensor ``(..., H, W)``.
        scale: scale factor; output size ``round(scale·H)`` (at least 1).
        size: output ``(height, width)`` instead of ``scale``.

    Returns:
        The resized tensor ``(..., H', W')`` with ``x``'s dtype and device.

    Raises:
        TypeError: if ``x`` is not a floating tensor.
        ValueError: if ``x`` has fewer than 2 dims, or not exactly one of ``scale``/``size`` is valid.

    Example:
        >>> imresize_pil(torch.ones(3, 8, 8), 0.5).shape
        torch.Size([3, 4, 4])
    """
    x = _check_image(x, "x")
    h, w = x.shape[-2:]
    oh, ow, _, _ = _out_size(h, w, scale, size)
    if size is None:  # PIL has no scale argument; round like it would be computed by a user
        oh, ow = max(1, round(h * float(scale))), max(1, round(w * float(scale)))  # type: ignore[arg-type]
    planes = x.detach().to("cpu", torch.float32).reshape(-1, h, w).numpy()
    out = np.empty((planes.shape[0], oh, ow), dtype=np.float32)
    for i, plane in enumerate(planes):
        img = Image.fromarray(np.ascontiguousarray(plane))  # float32 2-D array -> mode "F"
        out[i] = np.asarray(img.resize((ow, oh), Image.Resampling.BICUBIC))
    return torch.from_numpy(out).reshape(*x.shape[:-2], oh, ow).to(device=x.device, dtype=x.dtype)


def imresize_torch(
    x: Tensor, scale: float | None = None, *, size: tuple[int, int] | None = None, antialias: bool = True
) -> Tensor:
    """Bicubic resize with ``F.interpolate(mode="bicubic", align_corners=False)``.

    With ``antialias=True`` PyTorch uses Pillow's algorithm ($a = -0.5$, widened support); without it,
    the classic $a = -0.75$ kernel with no widening.

    Args:
        x: float tensor ``(..., H, W)``.
        scale: scale factor; output size ``floor(scale·H)`` as ``F.interpolate`` computes it.
        size: output ``(height, width)`` instead of ``scale``.
        antialias: antialias when downscaling.

    Returns:
        The resized tensor ``(..., H', W')`` with ``x``'s dtype and device.

    Raises:
        TypeError: if ``x`` is not a floating tensor.
        ValueError: if ``x`` has fewer than 2 dims, or not exactly one of ``scale``/``size`` is valid.

    Example:
        >>> imresize_torch(torch.ones(2, 3, 8, 8), 0.25).shape
        torch.Size([2, 3, 2, 2])
    """
    x = _check_image(x, "x")
    h, w = x.shape[-2:]
    oh, ow, _, _ = _out_size(h, w, scale, size)
    if size is None:
        oh, ow = max(1, math.floor(h * float(scale))), max(1, math.floor(w * float(scale)))  # type: ignore[arg-type]
    flat = x.reshape(-1, 1, h, w)
    out = F.interpolate(flat, size=(oh, ow), mode="bicubic", align_corners=False, antialias=antialias)
    return out.reshape(*x.shape[:-2], oh, ow)


def crop_to_multiple(x: Tensor, scale: int) -> Tensor:
    """Crop the last two dims to multiples of ``scale``, keeping the top-left corner.

    Args:
        x: tensor ``(..., H, W)`` with ``H, W >= scale``.
        scale: the divisor.

    Returns:
        A view ``x[..., :H - H % scale, :W - W % scale]``.

    Raises:
        TypeError: if ``x`` is not a tensor or ``scale`` is not an int.
        ValueError: if ``x`` has fewer than 2 dims, ``scale`` < 1, or ``H``/``W`` < ``scale``.

    Example:
        >>> crop_to_multiple(torch.zeros(3, 10, 13), 4).shape
        torch.Size([3, 8, 12])
    """
    check_tensor(x, "x", floating=False)
    scale = check_positive_int(scale, "scale")
    if x.ndim < 2:
        raise ValueError(f"x: expected a tensor of shape (..., H, W), got shape {tuple(x.shape)}")
    h, w = x.shape[-2:]
    if h < scale or w < scale:
        raise ValueError(f"x: height and width must be at least scale={scale}, got {h}x{w}")
    return x[..., : h - h % scale, : w - w % scale]


def downscale(
    hr: Tensor,
    scale: int = 4,
    kernel: Kernel = "matlab",
    *,
    antialias: bool = True,
    clamp: bool = True,
    quantize: bool = False,
) -> Tensor:
    """Bicubically downscale HR images by an integer factor after cropping them to a multiple of it.

    Args:
        hr: float tensor ``(..., C, H, W)`` in ``[0, 1]`` (image, batch or clip).
        scale: integer downscaling factor.
        kernel: ``"matlab"`` (:func:`imresize_matlab`), ``"pil"`` (:func:`imresize_pil`) or ``"torch"``
            (:func:`imresize_torch`).
        antialias: antialias (``"matlab"`` and ``"torch"``; Pillow always antialiases).
        clamp: clamp the result to ``[0, 1]`` (bicubic overshoots; MATLAB saturates for uint8 images).
        quantize: round to multiples of 1/255, as if the LR frames had been saved as 8-bit PNGs.

    Returns:
        ``(..., C, H // scale, W // scale)`` tensor, same dtype/device as ``hr``.

    Raises:
        TypeError: if ``hr`` is not a floating tensor or ``scale`` is not an int.
        ValueError: if ``hr`` has fewer than 3 dims, ``scale`` < 1, the frame is smaller than ``scale``,
            ``kernel`` is unknown, or ``antialias=False`` with ``kernel="pil"``.

    Example:
        >>> downscale(torch.rand(7, 3, 66, 64), 4).shape
        torch.Size([7, 3, 16, 16])
    """
    check_tensor(hr, "hr")
    if hr.ndim < 3:
        raise ValueError(f"hr: expected a tensor of shape (..., C, H, W), got shape {tuple(hr.shape)}")
    scale = check_positive_int(scale, "scale")
    if kernel not in KERNELS:
        raise ValueError(f"kernel: expected one of {KERNELS}, got {kernel!r}")
    if kernel == "pil" and not antialias:
        raise ValueError(
            "antialias: Pillow's bicubic always antialiases; antialias=False needs kernel 'matlab' or 'torch'"
        )
    hr = crop_to_multiple(hr, scale)
    size = (hr.shape[-2] // scale, hr.shape[-1] // scale)
    if kernel == "matlab":
        lr = imresize_matlab(hr, size=size, antialias=antialias)
    elif kernel == "pil":
        lr = imresize_pil(hr, size=size)
    else:
        lr = imresize_torch(hr, size=size, antialias=antialias)
    if clamp:
        lr = lr.clamp(0.0, 1.0)
    if quantize:
        lr = torch.round(lr * 255.0) / 255.0
    return lr


@dataclass(frozen=True)
class Degradation:
    """A recorded LR-generation recipe: bicubic downscaling with a named kernel.

    Args:
        scale: integer downscaling factor.
        kernel: ``"matlab"``, ``"pil"`` or ``"torch"`` (see :func:`downscale`).
        antialias: antialias when downscaling.
        clamp: clamp the LR result to ``[0, 1]``.
        quantize: round the LR result to 8 bits.

    Raises:
        TypeError: if ``scale`` is not an int.
        ValueError: if ``scale`` < 1, ``kernel`` is unknown, or ``antialias=False`` with ``"pil"``.

    Example:
        >>> deg = Degradation(scale=4, kernel="matlab")
        >>> deg.name
        'bicubic-matlab-x4'
        >>> deg(torch.rand(3, 32, 32)).shape
        torch.Size([3, 8, 8])
    """

    scale: int = 4
    kernel: Kernel = "matlab"
    antialias: bool = True
    clamp: bool = True
    quantize: bool = False

    def __post_init__(self) -> None:
        check_positive_int(self.scale, "scale")
        if self.kernel not in KERNELS:
            raise ValueError(f"kernel: expected one of {KERNELS}, got {self.kernel!r}")
        if self.kernel == "pil" and not self.antialias:
            raise ValueError("antialias: Pillow's bicubic always antialiases")

    @property
    def name(self) -> str:
        """Short identifier for result tables, e.g. ``bicubic-matlab-x4`` (``-noaa``/``-u8`` suffixes)."""
        suffix = ("" if self.antialias else "-noaa") + ("-u8" if self.quantize else "")
        return f"bicubic-{self.kernel}{suffix}-x{self.scale}"

    def __call__(self, hr: Tensor) -> Tensor:
        """Downscale ``hr`` with this recipe (see :func:`downscale`).

        Args:
            hr: float tensor ``(..., C, H, W)`` in ``[0, 1]``.

        Returns:
            The LR tensor ``(..., C, H // scale, W // scale)``.
        """
        return downscale(
            hr, self.scale, self.kernel, antialias=self.antialias, clamp=self.clamp, quantize=self.quantize
        )


def keep_odd_frames(clip: Tensor) -> Tensor:
    """Keep the odd frames (1st, 3rd, 5th, ...; 0-based indices 0, 2, 4, ...) of a clip.

    This is the low-frame-rate input of space-time SR: from HR frames 1..7 the LR input is 1, 3, 5, 7.

    Args:
        clip: tensor ``(..., T, C, H, W)`` (``T×C×H×W`` or ``B×T×C×H×W``).

    Returns:
        ``(..., ceil(T / 2), C, H, W)`` view.

    Raises:
        TypeError: if ``clip`` is not a tensor.
        ValueError: if ``clip`` has fewer than 4 dims.

    Example:
        >>> keep_odd_frames(torch.arange(7.0).reshape(7, 1, 1, 1)).flatten().tolist()
        [0.0, 2.0, 4.0, 6.0]
    """
    check_tensor(clip, "clip", floating=False)
    if clip.ndim < 4:
        raise ValueError(f"clip: expected a tensor of shape (..., T, C, H, W), got shape {tuple(clip.shape)}")
    return clip[..., ::2, :, :, :]


def make_stvsr_pair(hr_clip: Tensor, scale: int = 4, kernel: Kernel | Degradation = "matlab") -> tuple[Tensor, Tensor]:
    """Build a space-time SR pair from an HR, high-frame-rate clip.

    The HR clip is cropped to a multiple of ``scale`` (top-left anchored) and trimmed to an odd number of
    frames (a trailing even frame has no right LR neighbour to interpolate from); the LR clip is its odd
    frames, bicubically downscaled.

    Args:
        hr_clip: float tensor ``(..., T, C, H, W)`` in ``[0, 1]``.
        scale: integer spatial factor (ignored when ``kernel`` is a :class:`Degradation`).
        kernel: kernel name (see :func:`downscale`) or a full :class:`Degradation`.

    Returns:
        ``(lr, hr)`` with ``lr`` ``(..., (T' + 1) / 2, C, H' / s, W' / s)`` and ``hr`` ``(..., T', C, H', W')``,
        ``T'`` = ``T`` rounded down to odd, ``H'``, ``W'`` multiples of ``s``.

    Raises:
        TypeError: if ``hr_clip`` is not a floating tensor.
        ValueError: if ``hr_clip`` has fewer than 4 dims, or the scale/kernel are invalid.

    Example:
        >>> lr, hr = make_stvsr_pair(torch.rand(7, 3, 34, 32), 4)
        >>> tuple(lr.shape), tuple(hr.shape)
        ((4, 3, 8, 8), (7, 3, 32, 32))
    """
    check_tensor(hr_clip, "hr_clip")
    if hr_clip.ndim < 4:
        raise ValueError(f"hr_clip: expected a tensor of shape (..., T, C, H, W), got shape {tuple(hr_clip.shape)}")
    deg = kernel if isinstance(kernel, Degradation) else Degradation(scale=scale, kernel=kernel)
    t = hr_clip.shape[-4]
    t_odd = t if t % 2 else t - 1
    hr = crop_to_multiple(hr_clip[..., :t_odd, :, :, :], deg.scale)
    lr = deg(keep_odd_frames(hr))
    return lr, hr
