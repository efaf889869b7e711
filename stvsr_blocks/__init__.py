"""stvsr_blocks: composable building blocks for space-time video super-resolution (MBnet and variants)."""

from __future__ import annotations

from stvsr_blocks import ops
from stvsr_blocks.baselines import BicubicVSR, LinearBlendVFI, UpsampleFlowRefiner, ZeroFlowEstimator
from stvsr_blocks.interfaces import (
    FeatureExtractor,
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
from stvsr_blocks.loop import InteractionLoop, IterationOutput, LoopOutput

__version__ = "0.1.0"

__all__ = [
    "BicubicVSR",
    "FeatureExtractor",
    "InteractionLoop",
    "IterationOutput",
    "LoopOutput",
    "FlowEstimator",
    "FlowPyramid",
    "FlowRefiner",
    "LinearBlendVFI",
    "MidFlows",
    "UpsampleFlowRefiner",
    "VFIInput",
    "VFINet",
    "VSRInput",
    "VSRNet",
    "VSROutput",
    "ZeroFlowEstimator",
    "__version__",
    "ops",
]
