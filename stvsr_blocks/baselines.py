"""Trivial reference blocks that satisfy the interfaces: a baseline and a test double for each role.

- :class:`ZeroFlowEstimator`: no motion.
- :class:`UpsampleFlowRefiner`: bilinear upsampling of the LR mid flows (no learning) — what the
  loop does when no refiner is given.
- :class:`BicubicVSR`: per-frame bicubic upsampling.
- :class:`LinearBlendVFI`: time-weighted blend of the two warped frames.

Composed in an :class:`~stvsr_blocks.loop.InteractionLoop` they give the classic "bicubic + blend"
(zero flow) and "bicubic + flow warp" (with a real flow estimator) baselines.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from stvsr_blocks._check import check_positive_int, check_shape
from stvsr_blocks.interfaces import (
    FlowEstimator,
    FlowPyramid,
    FlowRefiner,
    MidFlows,
    VFIInput,
    VFINet,
    VSRInput,
    VSRNet,
    VSROutput,
)
from stvsr_blocks.ops.flow import resize_flow

__all__ = ["ZeroFlowEstimator", "UpsampleFlowRefiner", "BicubicVSR", "LinearBlendVFI", "upsample"]


def upsample(x: Tensor, scale: int, mode: Literal["bicubic", "bilinear"] = "bicubic", clamp: bool = True) -> Tensor:
    """Upsample images by an integer ``scale`` (``align_corners=False``), optionally clamped to [0, 1].

    Args:
        x: ``(B, C, h, w)`` images.
        scale: integer factor.
        mode: ``"bicubic"`` or ``"bilinear"``.
        clamp: clamp the result to ``[0, 1]`` (bicubic overshoots).

    Returns:
        ``(B, C, scale*h, scale*w)``.

    Example:
        >>> upsample(torch.ones(1, 3, 2, 2), 4).shape
        torch.Size([1, 3, 8, 8])
    """
    check_shape(x, ["B", "C", "H", "W"], "x")
    scale = check_positive_int(scale, "scale")
    if mode not in ("bicubic", "bilinear"):
        raise ValueError(f"mode: expected 'bicubic' or 'bilinear', got {mode!r}")
    out = F.interpolate(x, scale_factor=scale, mode=mode, align_corners=False)
    return out.clamp(0.0, 1.0) if clamp else out


class ZeroFlowEstimator(FlowEstimator):
    """Returns zero flow (no motion) at a single pyramid level.

    Example:
        >>> est = ZeroFlowEstimator()
        >>> est(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)).flow_0to1.abs().sum().item()
        0.0
    """

    def forward(self, frame0: Tensor, frame1: Tensor) -> FlowPyramid:
        """Return zero flows.

        Args:
            frame0: ``(B, 3, h, w)``.
            frame1: ``(B, 3, h, w)``.

        Returns:
            A single-level pyramid of zeros.
        """
        check_shape(frame0, ["B", 3, "H", "W"], "frame0")
        check_shape(frame1, ["B", 3, "H", "W"], "frame1")
        b, _, h, w = frame0.shape
        zero = frame0.new_zeros(b, 2, h, w)
        return FlowPyramid(zero, zero.clone(), ((zero, zero.clone()),))


class UpsampleFlowRefiner(FlowRefiner):
    """Bilinear ×``scale`` upsampling of the LR mid flows, values scaled to HR pixels (no parameters).

    Args:
        scale: spatial scale factor.

    Example:
        >>> ref = UpsampleFlowRefiner(scale=4)
        >>> f = torch.ones(1, 2, 4, 4)
        >>> out = ref(MidFlows(f, -f), torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 16))
        >>> out.flow_0tot[0, 0, 0, 0].item()
        4.0
    """

    def __init__(self, scale: int = 4) -> None:
        super().__init__()
        self.scale = check_positive_int(scale, "scale")

    def forward(self, flows: MidFlows, guide0: Tensor, guide1: Tensor) -> MidFlows:
        """Upsample both flows.

        Args:
            flows: LR mid flows ``(B, 2, h, w)``.
            guide0: HR frame 0 (unused).
            guide1: HR frame 1 (unused).

        Returns:
            HR mid flows ``(B, 2, sh, sw)``.
        """
        return MidFlows(
            resize_flow(flows.flow_0tot, scale=self.scale), resize_flow(flows.flow_1tot, scale=self.scale)
        )


class BicubicVSR(VSRNet):
    """Per-frame bicubic upsampling (``align_corners=False``), clamped to [0, 1]; no feature.

    Args:
        scale: spatial scale factor.
        mode: ``"bicubic"`` or ``"bilinear"``.

    Example:
        >>> vsr = BicubicVSR(scale=2)
        >>> vsr.scale, vsr.feature_channels
        (2, 0)
    """

    def __init__(self, scale: int = 4, mode: Literal["bicubic", "bilinear"] = "bicubic") -> None:
        super().__init__()
        self.scale = check_positive_int(scale, "scale")
        if mode not in ("bicubic", "bilinear"):
            raise ValueError(f"mode: expected 'bicubic' or 'bilinear', got {mode!r}")
        self.mode = mode

    def forward(self, inputs: VSRInput) -> VSROutput:
        """Upsample ``lr0`` and ``lr1``; every other input is ignored.

        Args:
            inputs: the VSR inputs.

        Returns:
            The two upsampled frames, ``feature=None``.
        """
        return VSROutput(upsample(inputs.lr0, self.scale, self.mode), upsample(inputs.lr1, self.scale, self.mode))


class LinearBlendVFI(VFINet):
    """``(1 - t) * warped0 + t * warped1``: the classic blend of the two motion-compensated frames.

    Args:
        scale: resolution ratio reported to the loop (the net has no feature input).

    Example:
        >>> vfi = LinearBlendVFI()
        >>> a, b = torch.zeros(1, 3, 4, 4), torch.ones(1, 3, 4, 4)
        >>> z = torch.zeros(1, 2, 4, 4)
        >>> vfi(VFIInput(a, b, a, b, MidFlows(z, z), None, 0.25)).mean().item()
        0.25
    """

    def __init__(self, scale: int = 4) -> None:
        super().__init__()
        self.scale = check_positive_int(scale, "scale")

    def forward(self, inputs: VFIInput) -> Tensor:
        """Blend.

        Args:
            inputs: the VFI inputs.

        Returns:
            ``(B, 3, H, W)`` blended frame.
        """
        return inputs.blend()


_ = torch
