"""Parameter-free flow operations: temporal interpolation, resizing and smoothness.

All flows follow the library convention (see :mod:`stvsr_blocks.ops.warp`): ``flow_0to1`` warps
frame 0 onto frame 1 (it lives on frame 1's grid), ``flow_1to0`` warps frame 1 onto frame 0.
"""

from __future__ import annotations

from typing import Literal

import torch.nn.functional as F
from torch import Tensor, nn

from stvsr_blocks._check import check_float_range, check_same_shape, check_shape, check_time

__all__ = [
    "quadratic_flow_interpolation",
    "linear_flow_interpolation",
    "resize_flow",
    "flow_smoothness",
    "reverse_flow",
    "scale_flow_xy",
    "QuadraticFlowInterpolation",
]


def _check_pair(flow_0to1: Tensor, flow_1to0: Tensor) -> None:
    check_shape(flow_0to1, ["B", 2, "H", "W"], "flow_0to1")
    check_shape(flow_1to0, ["B", 2, "H", "W"], "flow_1to0")
    check_same_shape(flow_0to1, flow_1to0, "flow_0to1", "flow_1to0")


def quadratic_flow_interpolation(
    flow_0to1: Tensor,
    flow_1to0: Tensor,
    t: float = 0.5,
    *,
    coefficients: Literal["slomo", "paper"] = "slomo",
) -> tuple[Tensor, Tensor]:
    r"""Approximate the flows that warp each endpoint frame to an intermediate time ``t``.

    With the default ``coefficients="slomo"`` (the consistent form, SPEC §5):

    $$F_{0\to t} = t^2 F_{0\to 1} - t(1-t) F_{1\to 0}, \qquad
      F_{1\to t} = (1-t)^2 F_{1\to 0} - t(1-t) F_{0\to 1}$$

    ``coefficients="paper"`` uses the paper's Eq. 2-3 literally, whose squared coefficients are
    swapped ($(1-t)^2$ on $F_{0\to 1}$ and $t^2$ on $F_{1\to 0}$); both agree at ``t = 0.5``.

    Args:
        flow_0to1: flow warping frame 0 onto frame 1 (paper: ``flow_{t-1->t+1}``), ``(B, 2, H, W)``.
        flow_1to0: flow warping frame 1 onto frame 0 (paper: ``flow_{t-1<-t+1}``), ``(B, 2, H, W)``.
        t: intermediate time in ``[0, 1]`` (0.5 for the middle frame), or a ``(B,)`` tensor of one time per
            batch item.
        coefficients: ``"slomo"`` (default) or ``"paper"``.

    Returns:
        ``(flow_0tot, flow_1tot)``: flows on the time-``t`` grid warping frame 0, resp. frame 1, to
        time ``t`` (paper: ``flow_{t-1->t}``, ``flow_{t<-t+1}``), each ``(B, 2, H, W)``.

    Raises:
        TypeError: if the flows are not floating tensors or ``t`` is not a number.
        ValueError: if the shapes are wrong or differ, ``t`` is outside ``[0, 1]`` or
            ``coefficients`` is unknown.

    Example:
        >>> f01 = torch.full((1, 2, 2, 2), -2.0)  # content moves +2 px from frame 0 to 1
        >>> f0t, f1t = quadratic_flow_interpolation(f01, -f01, 0.5)
        >>> f0t[0, 0, 0, 0].item(), f1t[0, 0, 0, 0].item()
        (-1.0, 1.0)
    """
    _check_pair(flow_0to1, flow_1to0)
    t = check_time(t, "t", flow_0to1.shape[0], flow_0to1)
    if coefficients == "slomo":
        a0, a1 = t * t, (1.0 - t) * (1.0 - t)
    elif coefficients == "paper":
        a0, a1 = (1.0 - t) * (1.0 - t), t * t
    else:
        raise ValueError(f"coefficients: expected 'slomo' or 'paper', got {coefficients!r}")
    c = t * (1.0 - t)
    flow_0tot = a0 * flow_0to1 - c * flow_1to0
    flow_1tot = a1 * flow_1to0 - c * flow_0to1
    return flow_0tot, flow_1tot


def linear_flow_interpolation(flow_0to1: Tensor, flow_1to0: Tensor, t: float = 0.5) -> tuple[Tensor, Tensor]:
    r"""Linear-motion approximation: $F_{0\to t} = t F_{0\to 1}$, $F_{1\to t} = (1-t) F_{1\to 0}$.

    Args:
        flow_0to1: flow warping frame 0 onto frame 1, ``(B, 2, H, W)``.
        flow_1to0: flow warping frame 1 onto frame 0, ``(B, 2, H, W)``.
        t: intermediate time in ``[0, 1]``, or a ``(B,)`` tensor of one time per batch item.

    Returns:
        ``(flow_0tot, flow_1tot)``, each ``(B, 2, H, W)``.

    Raises:
        TypeError: if the flows are not floating tensors.
        ValueError: on wrong shapes or ``t`` outside ``[0, 1]``.

    Example:
        >>> f = torch.ones(1, 2, 2, 2)
        >>> linear_flow_interpolation(f, -f, 0.25)[0][0, 0, 0, 0].item()
        0.25
    """
    _check_pair(flow_0to1, flow_1to0)
    t = check_time(t, "t", flow_0to1.shape[0], flow_0to1)
    return t * flow_0to1, (1.0 - t) * flow_1to0


def resize_flow(
    flow: Tensor,
    size: tuple[int, int] | None = None,
    *,
    scale: float | None = None,
    mode: Literal["bilinear", "bicubic", "nearest", "area"] = "bilinear",
) -> Tensor:
    r"""Resize a flow field and scale its values with the resize.

    Horizontal values are multiplied by ``W_out / W_in`` and vertical ones by ``H_out / H_in``
    (both equal ``scale`` when ``scale`` is given), so the flow stays in pixels of its new grid.
    Uses ``F.interpolate(..., align_corners=False)`` for the interpolating modes.

    Args:
        flow: ``(B, 2, H, W)`` flow in pixels.
        size: target ``(H_out, W_out)``; exactly one of ``size`` and ``scale`` must be given.
        scale: uniform scale factor (> 0).
        mode: interpolation mode.

    Returns:
        ``(B, 2, H_out, W_out)`` flow in pixels of the new grid.

    Raises:
        TypeError: if ``flow`` is not a floating tensor.
        ValueError: on a wrong shape, both/neither of ``size``/``scale``, or non-positive sizes.

    Example:
        >>> resize_flow(torch.ones(1, 2, 4, 4), scale=2)[0, :, 0, 0]
        tensor([2., 2.])
    """
    check_shape(flow, ["B", 2, "H", "W"], "flow")
    if (size is None) == (scale is None):
        raise ValueError("resize_flow: give exactly one of size and scale")
    h, w = flow.shape[-2:]
    if scale is not None:
        if not isinstance(scale, (int, float)) or isinstance(scale, bool) or scale <= 0:
            raise ValueError(f"scale: expected a positive number, got {scale!r}")
        out_h, out_w = int(round(h * scale)), int(round(w * scale))
    else:
        if len(size) != 2 or any((not isinstance(s, int)) or s < 1 for s in size):
            raise ValueError(f"size: expected two positive ints (H_out, W_out), got {size!r}")
        out_h, out_w = size
    if (out_h, out_w) == (h, w):
        return flow
    kwargs = {"align_corners": False} if mode in ("bilinear", "bicubic") else {}
    out = F.interpolate(flow, size=(out_h, out_w), mode=mode, **kwargs)
    sx, sy = out_w / w, out_h / h
    if sx == sy:
        return out * sx
    return scale_flow_xy(out, sx, sy)


def scale_flow_xy(flow: Tensor, sx: float, sy: float) -> Tensor:
    """Multiply channel 0 of ``flow`` by ``sx`` and channel 1 by ``sy`` (out of place).

    Args:
        flow: ``(B, 2, H, W)`` flow.
        sx: horizontal factor.
        sy: vertical factor.

    Returns:
        The scaled flow.
    """
    return flow * flow.new_tensor([sx, sy]).view(1, 2, 1, 1)


def reverse_flow(flow: Tensor) -> Tensor:
    r"""First-order reversal $F_{b\to a} \approx -F_{a\to b}$ used for the VFI feedback (SPEC §5).

    Args:
        flow: ``(B, 2, H, W)`` flow.

    Returns:
        ``-flow``.

    Raises:
        TypeError: if ``flow`` is not a floating tensor.
        ValueError: on a wrong shape.

    Example:
        >>> reverse_flow(torch.ones(1, 2, 1, 1)).flatten().tolist()
        [-1.0, -1.0]
    """
    check_shape(flow, ["B", 2, "H", "W"], "flow")
    return -flow


def flow_smoothness(flow: Tensor) -> Tensor:
    r"""SOF-VSR smoothness term: mean absolute forward difference of the flow.

    $$S(F) = \frac{1}{B(H-1)(W-1)} \sum \big(|F_{y,x} - F_{y+1,x}| + |F_{y,x} - F_{y,x+1}|\big)$$

    over ``y < H-1, x < W-1``, summed over both flow channels.

    Args:
        flow: ``(B, 2, H, W)`` flow.

    Returns:
        A scalar tensor (zero when ``H`` or ``W`` is 1: there are no neighbour pairs).

    Raises:
        TypeError: if ``flow`` is not a floating tensor.
        ValueError: on a wrong shape.

    Example:
        >>> f = torch.zeros(1, 2, 3, 3); f[:, 0, :, 2] = 1.0
        >>> flow_smoothness(f).item()
        0.5
    """
    check_shape(flow, ["B", 2, "H", "W"], "flow")
    b, _, h, w = flow.shape
    if h < 2 or w < 2:  # no interior neighbour pairs: nothing to penalise
        return flow.new_zeros(())
    core = flow[:, :, :-1, :-1]
    dy = (core - flow[:, :, 1:, :-1]).abs()
    dx = (core - flow[:, :, :-1, 1:]).abs()
    return (dy + dx).sum() / (b * (h - 1) * (w - 1))


class QuadraticFlowInterpolation(nn.Module):
    """Module form of :func:`quadratic_flow_interpolation` with a fixed ``t``.

    Args:
        t: intermediate time in ``[0, 1]``.
        coefficients: ``"slomo"`` or ``"paper"``.

    Example:
        >>> m = QuadraticFlowInterpolation(0.5)
        >>> f = torch.zeros(1, 2, 4, 4)
        >>> [x.shape for x in m(f, f)]
        [torch.Size([1, 2, 4, 4]), torch.Size([1, 2, 4, 4])]
    """

    def __init__(self, t: float = 0.5, coefficients: Literal["slomo", "paper"] = "slomo") -> None:
        super().__init__()
        self.t = check_float_range(t, "t", 0.0, 1.0)
        if coefficients not in ("slomo", "paper"):
            raise ValueError(f"coefficients: expected 'slomo' or 'paper', got {coefficients!r}")
        self.coefficients = coefficients

    def forward(self, flow_0to1: Tensor, flow_1to0: Tensor) -> tuple[Tensor, Tensor]:
        """Interpolate; see :func:`quadratic_flow_interpolation`.

        Args:
            flow_0to1: ``(B, 2, H, W)``.
            flow_1to0: ``(B, 2, H, W)``.

        Returns:
            ``(flow_0tot, flow_1tot)``.
        """
        return quadratic_flow_interpolation(flow_0to1, flow_1to0, self.t, coefficients=self.coefficients)
