"""Space-to-depth and depth-to-space (the library's single definition of both).

``space_to_depth(x, r)`` maps ``(B, C, rH, rW)`` to ``(B, C*r*r, H, W)`` with output channel
``c*r*r + i*r + j`` holding ``x[:, c, r*y + i, r*x + j]`` (``F.pixel_unshuffle`` order, the same as
SOF-VSR's ``x[..., i::r, j::r]`` slicing). ``depth_to_space`` is its exact inverse.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from stvsr_blocks._check import check_positive_int, check_shape

__all__ = ["space_to_depth", "depth_to_space"]


def space_to_depth(x: Tensor, factor: int) -> Tensor:
    """Rearrange ``(B, C, rH, rW)`` into ``(B, C*r^2, H, W)``.

    Args:
        x: input ``(B, C, H, W)`` with ``H`` and ``W`` divisible by ``factor``.
        factor: block size ``r``.

    Returns:
        ``(B, C*r*r, H/r, W/r)``.

    Raises:
        TypeError: if ``x`` is not a tensor or ``factor`` not an int.
        ValueError: on a wrong rank or sizes not divisible by ``factor``.

    Example:
        >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
        >>> space_to_depth(x, 2)[0, :, 0, 0]
        tensor([0., 1., 4., 5.])
    """
    check_shape(x, ["B", "C", "H", "W"], "x", floating=False)
    r = check_positive_int(factor, "factor")
    h, w = x.shape[-2:]
    if h % r or w % r:
        raise ValueError(f"x: height and width must be divisible by factor={r}, got {h}x{w}")
    return F.pixel_unshuffle(x, r)


def depth_to_space(x: Tensor, factor: int) -> Tensor:
    """Rearrange ``(B, C*r^2, H, W)`` into ``(B, C, rH, rW)``; the inverse of :func:`space_to_depth`.

    Args:
        x: input ``(B, C*r*r, H, W)``.
        factor: block size ``r``.

    Returns:
        ``(B, C, H*r, W*r)``.

    Raises:
        TypeError: if ``x`` is not a tensor or ``factor`` not an int.
        ValueError: on a wrong rank or a channel count not divisible by ``r*r``.

    Example:
        >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
        >>> torch.equal(depth_to_space(space_to_depth(x, 2), 2), x)
        True
    """
    check_shape(x, ["B", "C", "H", "W"], "x", floating=False)
    r = check_positive_int(factor, "factor")
    if x.shape[1] % (r * r):
        raise ValueError(f"x: channel count must be divisible by factor**2={r * r}, got {x.shape[1]}")
    return F.pixel_shuffle(x, r)


_ = torch
