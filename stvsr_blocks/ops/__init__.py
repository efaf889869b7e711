"""Parameter-free operations: warping, flow interpolation/resizing/smoothness, padding, shuffles."""

from __future__ import annotations

from stvsr_blocks.ops.flow import (
    QuadraticFlowInterpolation,
    flow_smoothness,
    linear_flow_interpolation,
    quadratic_flow_interpolation,
    resize_flow,
    reverse_flow,
    scale_flow_xy,
)
from stvsr_blocks.ops.padding import Padding, crop_padding, pad_to_multiple
from stvsr_blocks.ops.shuffle import depth_to_space, space_to_depth
from stvsr_blocks.ops.warp import BackwardWarp, backward_warp, base_grid

__all__ = [
    "BackwardWarp",
    "Padding",
    "QuadraticFlowInterpolation",
    "backward_warp",
    "base_grid",
    "crop_padding",
    "depth_to_space",
    "flow_smoothness",
    "linear_flow_interpolation",
    "pad_to_multiple",
    "quadratic_flow_interpolation",
    "resize_flow",
    "reverse_flow",
    "scale_flow_xy",
    "space_to_depth",
]
