"""Padding to a size multiple and cropping back."""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from stvsr_blocks._check import check_positive_int, check_tensor

__all__ = ["Padding", "pad_to_multiple", "crop_padding"]


class Padding(NamedTuple):
    """Amount of padding added on each side, in pixels (same order as ``F.pad``'s last two dims)."""

    left: int
    right: int
    top: int
    bottom: int

    def scaled(self, factor: int) -> Padding:
        """The same padding expressed at a resolution ``factor`` times larger.

        Args:
            factor: integer resolution factor.

        Returns:
            A new :class:`Padding` with every side multiplied by ``factor``.
        """
        return Padding(self.left * factor, self.right * factor, self.top * factor, self.bottom * factor)


def pad_to_multiple(
    x: Tensor,
    multiple: int,
    *,
    mode: Literal["replicate", "reflect", "constant"] = "replicate",
    min_size: int = 0,
) -> tuple[Tensor, Padding]:
    """Pad the last two dims of ``x`` on the right/bottom up to a multiple of ``multiple``.

    Args:
        x: tensor ``(..., H, W)`` with at least 3 dims (e.g. ``(B, C, H, W)`` or ``(B, T, C, H, W)``).
        multiple: the required divisor of the padded height and width.
        mode: ``F.pad`` mode (``reflect`` falls back to ``replicate`` where the pad exceeds the size).
        min_size: also pad up to at least this height and width.

    Returns:
        ``(padded, padding)``; ``crop_padding(padded, padding)`` returns ``x``.

    Raises:
        TypeError: if ``x`` is not a tensor or ``multiple`` is not an int.
        ValueError: if ``x`` has fewer than 3 dims or ``multiple`` < 1.

    Example:
        >>> y, pad = pad_to_multiple(torch.zeros(1, 3, 5, 8), 4)
        >>> tuple(y.shape), pad
        ((1, 3, 8, 8), Padding(left=0, right=0, top=0, bottom=3))
    """
    check_tensor(x, "x", floating=False)
    multiple = check_positive_int(multiple, "multiple")
    if x.ndim < 3:
        raise ValueError(f"x: expected at least 3 dims (..., H, W), got shape {tuple(x.shape)}")
    h, w = x.shape[-2:]
    th = max(-(-h // multiple) * multiple, -(-min_size // multiple) * multiple)
    tw = max(-(-w // multiple) * multiple, -(-min_size // multiple) * multiple)
    pad = Padding(0, tw - w, 0, th - h)
    if pad.right == 0 and pad.bottom == 0:
        return x, pad
    if mode == "reflect" and (pad.right >= w or pad.bottom >= h):
        mode = "replicate"
    lead = x.shape[:-3]
    flat = x.reshape(-1, *x.shape[-3:]) if x.ndim != 4 else x
    if mode == "constant":
        out = F.pad(flat, (pad.left, pad.right, pad.top, pad.bottom), mode="constant", value=0.0)
    else:
        out = F.pad(flat, (pad.left, pad.right, pad.top, pad.bottom), mode=mode)
    if x.ndim != 4:
        out = out.reshape(*lead, *out.shape[-3:])
    return out, pad


def crop_padding(x: Tensor, padding: Padding, scale: int = 1) -> Tensor:
    """Remove ``padding`` (given at ``1/scale`` of ``x``'s resolution) from the last two dims.

    Args:
        x: tensor ``(..., H, W)``.
        padding: the :class:`Padding` returned by :func:`pad_to_multiple`.
        scale: resolution factor between ``x`` and the padded input (e.g. 4 for SR outputs).

    Returns:
        The cropped view.

    Raises:
        ValueError: if the padding does not fit inside ``x``.

    Example:
        >>> y, pad = pad_to_multiple(torch.zeros(1, 3, 5, 7), 4)
        >>> crop_padding(y, pad).shape
        torch.Size([1, 3, 5, 7])
    """
    p = padding.scaled(scale) if scale != 1 else padding
    h, w = x.shape[-2:]
    if p.top + p.bottom >= h or p.left + p.right >= w:
        raise ValueError(f"padding {tuple(p)} does not fit inside a {h}x{w} tensor")
    return x[..., p.top : h - p.bottom, p.left : w - p.right]


_ = torch  # re-exported for doctests
