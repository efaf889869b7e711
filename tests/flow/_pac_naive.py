"""Naive (pacnet-style) PAC reference: materialises the ``(B, C, kH, kW, H, W)`` unfold.

Written independently of :mod:`stvsr_blocks.flow.pac` from the textbook formulation (SPEC §2), so
that the tests and ``benchmarks/bench_pac.py`` compare the offset-loop implementation against it.
Same conventions: ``x`` zero padded, guide edge (replicate) padded, transposed op = zero insertion +
stride-1 PAC with the flipped, in/out-transposed weight and a "same"-padded guide at output size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["naive_pac_conv2d", "naive_pac_conv_transpose2d", "naive_pac_pool2d"]


def _p2(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)  # type: ignore[return-value]


def _unfold6(x: Tensor, k: tuple[int, int], dilation, padding, stride) -> Tensor:
    """``(B, C, kH, kW, H_out, W_out)`` view of the sliding windows of ``x`` (already padded)."""
    b, c, h, w = x.shape
    (kh, kw), (dh, dw), (sh, sw) = k, dilation, stride
    ho = (h + 2 * padding[0] - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * padding[1] - dw * (kw - 1) - 1) // sw + 1
    cols = F.unfold(x, (kh, kw), dilation=dilation, padding=padding, stride=stride)
    return cols.view(b, c, kh, kw, ho, wo)


def _kernel6(
    guide: Tensor, k, stride, dilation, g_pad: tuple[int, int], mask6: Tensor | None, normalize: bool,
    channel_wise: bool = False,
) -> Tensor:
    gp = F.pad(guide, (g_pad[1], g_pad[1], g_pad[0], g_pad[0]), mode="replicate") if any(g_pad) else guide
    gu = _unfold6(gp, k, dilation, (0, 0), stride)
    centre = gu[:, :, k[0] // 2, k[1] // 2][:, :, None, None]
    d2 = (gu - centre) ** 2
    kern = torch.exp(-0.5 * (d2 if channel_wise else d2.sum(1, keepdim=True)))
    if normalize:
        kern = kern * mask6
        total = kern.sum((2, 3), keepdim=True)
        kern = kern / torch.where(total > 0, total, torch.ones_like(total))
    return kern


def naive_pac_conv2d(
    x: Tensor, guide: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
    normalize_kernel: bool = False,
) -> Tensor:
    """Reference ``pac_conv2d`` via ``F.unfold``.

    Args:
        x: ``(B, C_in, H, W)``.
        guide: ``(B, C_g, H, W)``.
        weight: ``(C_out, C_in, kH, kW)``.
        bias: ``(C_out,)`` or ``None``.
        stride: int or pair.
        padding: int or pair.
        dilation: int or pair.
        normalize_kernel: normalise over in-image taps.

    Returns:
        ``(B, C_out, H_out, W_out)``.
    """
    k = tuple(weight.shape[-2:])
    stride, padding, dilation = _p2(stride), _p2(padding), _p2(dilation)
    xu = _unfold6(x, k, dilation, padding, stride)
    mask = _unfold6(torch.ones_like(x[:1, :1]), k, dilation, padding, stride) if normalize_kernel else None
    kern = _kernel6(guide, k, stride, dilation, padding, mask, normalize_kernel)
    out = torch.einsum("bcklhw,ockl->bohw", xu * kern, weight)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


def naive_pac_conv_transpose2d(
    x: Tensor, guide: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, output_padding=0,
    dilation=1, normalize_kernel: bool = False,
) -> Tensor:
    """Reference ``pac_conv_transpose2d``: zero insertion + stride-1 naive PAC.

    Args:
        x: ``(B, C_in, h, w)``.
        guide: ``(B, C_g, H_out, W_out)``.
        weight: ``(C_in, C_out, kH, kW)``.
        bias: ``(C_out,)`` or ``None``.
        stride: int or pair.
        padding: int or pair.
        output_padding: int or pair.
        dilation: int or pair.
        normalize_kernel: normalise over taps on real input pixels.

    Returns:
        ``(B, C_out, H_out, W_out)``.
    """
    kh, kw = weight.shape[-2:]
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = _p2(stride), _p2(padding), _p2(output_padding), _p2(dilation)
    b, c, h, w = x.shape

    def insert(t: Tensor) -> Tensor:
        z = t.new_zeros(t.shape[0], t.shape[1], (h - 1) * sh + 1, (w - 1) * sw + 1)
        z[:, :, ::sh, ::sw] = t
        qh, qw = (kh - 1) * dh - ph, (kw - 1) * dw - pw
        return F.pad(z, (qw, qw + opw, qh, qh + oph))

    xz = insert(x)
    k, one = (kh, kw), (1, 1)
    xu = _unfold6(xz, k, (dh, dw), (0, 0), one)
    mask = _unfold6(insert(torch.ones_like(x[:1, :1])), k, (dh, dw), (0, 0), one) if normalize_kernel else None
    kern = _kernel6(guide, k, one, (dh, dw), ((kh // 2) * dh, (kw // 2) * dw), mask, normalize_kernel)
    w_eq = weight.flip(-1, -2).transpose(0, 1)
    out = torch.einsum("bcklhw,ockl->bohw", xu * kern, w_eq)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


def naive_pac_pool2d(
    x: Tensor, guide: Tensor, kernel_size, stride=1, padding=0, dilation=1, normalize_kernel: bool = True,
    channel_wise: bool = False,
) -> Tensor:
    """Reference ``pac_pool2d`` via ``F.unfold``.

    Args:
        x: ``(B, C, H, W)``.
        guide: ``(B, C_g, H, W)``.
        kernel_size: int or pair.
        stride: int or pair.
        padding: int or pair.
        dilation: int or pair.
        normalize_kernel: normalise over in-image taps.
        channel_wise: per-channel kernels.

    Returns:
        ``(B, C, H_out, W_out)``.
    """
    k = _p2(kernel_size)
    stride, padding, dilation = _p2(stride), _p2(padding), _p2(dilation)
    xu = _unfold6(x, k, dilation, padding, stride)
    mask = _unfold6(torch.ones_like(x[:1, :1]), k, dilation, padding, stride) if normalize_kernel else None
    kern = _kernel6(guide, k, stride, dilation, padding, mask, normalize_kernel, channel_wise)
    return (xu * kern).sum((2, 3))
