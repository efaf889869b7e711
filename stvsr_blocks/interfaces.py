"""Abstract block interfaces and their typed inputs/outputs.

An :class:`~stvsr_blocks.loop.InteractionLoop` composes four kinds of block. Any ``nn.Module``
subclassing the matching abstract class and honouring its contract can be plugged in; run the
checkers in :mod:`stvsr_blocks.testing` on your own block to verify it.

Naming of the two input frames: ``frame 0`` is ``LR_{t-1}`` and ``frame 1`` is ``LR_{t+1}``; the
intermediate time ``t`` lies in ``(0, 1)`` (0.5 for the paper's middle frame). Flow names follow the
library convention: ``flow_0to1`` warps frame 0 onto frame 1 (``backward_warp(I_0, flow_0to1) ~= I_1``),
``flow_0tot`` warps frame 0 to time ``t``.

All images are float tensors in ``[0, 1]``, RGB, ``(B, 3, H, W)``; LR tensors are ``h x w`` and HR
tensors ``(s*h) x (s*w)`` for the block's ``scale`` ``s``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from torch import Tensor, nn

__all__ = [
    "FlowPyramid",
    "MidFlows",
    "VSRInput",
    "VSROutput",
    "VFIInput",
    "FlowEstimator",
    "FlowRefiner",
    "VSRNet",
    "VFINet",
    "FeatureExtractor",
]


@dataclass
class FlowPyramid:
    """Bidirectional LR flows between the two input frames, finest level first-class.

    Attributes:
        flow_0to1: ``(B, 2, h, w)`` flow warping frame 0 onto frame 1 (paper ``flow_{t-1->t+1}``).
        flow_1to0: ``(B, 2, h, w)`` flow warping frame 1 onto frame 0 (paper ``flow_{t-1<-t+1}``).
        levels: every pyramid level, coarse to fine, each ``(flow_0to1, flow_1to0)`` at its own
            resolution (``(h/4, w/4)``, ``(h/2, w/2)``, ``(h, w)`` for OFR). The last entry is
            ``(flow_0to1, flow_1to0)``. Used by the multi-scale flow loss; a single-level estimator
            returns one entry.
    """

    flow_0to1: Tensor
    flow_1to0: Tensor
    levels: tuple[tuple[Tensor, Tensor], ...]


@dataclass
class MidFlows:
    """The two flows that warp each endpoint frame to the intermediate time ``t``.

    Attributes:
        flow_0tot: ``(B, 2, H, W)`` warps frame 0 to time ``t`` (paper ``Flow_{t-1->t}``).
        flow_1tot: ``(B, 2, H, W)`` warps frame 1 to time ``t`` (paper ``Flow_{t<-t+1}``).
    """

    flow_0tot: Tensor
    flow_1tot: Tensor


@dataclass
class VSRInput:
    """Everything the VSR net receives in one iteration (paper Eq. 5).

    Attributes:
        lr0: ``(B, 3, h, w)`` LR frame 0 (``LR_{t-1}``).
        lr1: ``(B, 3, h, w)`` LR frame 1 (``LR_{t+1}``).
        sr_prev0: ``(B, 3, sh, sw)`` previous iteration's SR of frame 0 (bilinear upsampling of
            ``lr0`` in the first iteration).
        sr_prev1: ``(B, 3, sh, sw)`` previous iteration's SR of frame 1.
        lr_warped0: ``(B, 3, h, w)`` ``backward_warp(lr1, flow_1to0)``: frame 1 aligned to frame 0.
        lr_warped1: ``(B, 3, h, w)`` ``backward_warp(lr0, flow_0to1)``: frame 0 aligned to frame 1.
        feedback0: ``(B, 3, sh, sw)`` HR feedback aligned to frame 0 (paper ``SR^_{t-1<-t}``: the
            previous middle frame warped back to frame 0; see the loop for iteration 1).
        feedback1: ``(B, 3, sh, sw)`` HR feedback aligned to frame 1 (paper ``SR^_{t->t+1}``).
        flows: the LR flow pyramid, for nets that use flows directly.
        iteration: 1-based iteration index.
    """

    lr0: Tensor
    lr1: Tensor
    sr_prev0: Tensor
    sr_prev1: Tensor
    lr_warped0: Tensor
    lr_warped1: Tensor
    feedback0: Tensor
    feedback1: Tensor
    flows: FlowPyramid
    iteration: int = 1


@dataclass
class VSROutput:
    """VSR net output.

    Attributes:
        sr0: ``(B, 3, sh, sw)`` super-resolved frame 0 (``SR_{t-1}``).
        sr1: ``(B, 3, sh, sw)`` super-resolved frame 1 (``SR_{t+1}``).
        feature: ``(B, F, h, w)`` LR-resolution context feature for the VFI net (``F`` =
            ``feature_channels``), or ``None`` if the net exposes none.
    """

    sr0: Tensor
    sr1: Tensor
    feature: Tensor | None = None


@dataclass
class VFIInput:
    """Everything the VFI net receives (paper Eq. 6).

    Attributes:
        warped0: ``(B, 3, H, W)`` ``backward_warp(sr0, flow_0tot)``: frame 0 moved to time ``t``.
        warped1: ``(B, 3, H, W)`` ``backward_warp(sr1, flow_1tot)``: frame 1 moved to time ``t``.
        sr0: ``(B, 3, H, W)`` the unwarped HR frame 0.
        sr1: ``(B, 3, H, W)`` the unwarped HR frame 1.
        flows: the HR mid flows used for the warps.
        feature: ``(B, F, H/s, W/s)`` context feature, or ``None`` (no-feature ablation).
        t: intermediate time in ``(0, 1)``: a number, or a ``(B,)`` tensor of one time per batch item
            (training on random times).
    """

    warped0: Tensor
    warped1: Tensor
    sr0: Tensor
    sr1: Tensor
    flows: MidFlows
    feature: Tensor | None = None
    t: float | Tensor = 0.5

    def time(self) -> float | Tensor:
        """``t`` as a number or a ``(B, 1, 1, 1)`` tensor that broadcasts against the frames.

        Returns:
            The time.

        Raises:
            ValueError: if ``t`` is outside ``[0, 1]`` or has the wrong shape.
        """
        from stvsr_blocks._check import check_time

        return check_time(self.t, "inputs.t", self.warped0.shape[0], self.warped0)

    def blend(self) -> Tensor:
        """The time-weighted blend ``(1 - t) warped0 + t warped1`` (the residual base of the VFI nets).

        Returns:
            ``(B, 3, H, W)``.
        """
        t = self.time()
        return (1.0 - t) * self.warped0 + t * self.warped1


class FlowEstimator(nn.Module, abc.ABC):
    """Estimates bidirectional LR optical flow between two frames (paper ``NET_flow``, Eq. 1).

    Contract:
        - ``forward(frame0, frame1)`` takes two ``(B, 3, h, w)`` frames in ``[0, 1]`` and returns a
          :class:`FlowPyramid` whose finest flows are ``(B, 2, h, w)`` in pixels.
        - ``h`` and ``w`` must be multiples of ``size_multiple``; the loop pads for you.
    """

    #: Height and width of the inputs must be multiples of this.
    size_multiple: int = 1

    @abc.abstractmethod
    def forward(self, frame0: Tensor, frame1: Tensor) -> FlowPyramid:
        """Estimate flows.

        Args:
            frame0: ``(B, 3, h, w)`` first frame.
            frame1: ``(B, 3, h, w)`` second frame.

        Returns:
            The flow pyramid.
        """


class FlowRefiner(nn.Module, abc.ABC):
    """Upsamples and refines LR mid flows to HR, guided by the HR frames (paper ``NET_re``, Eq. 4).

    Contract:
        - ``forward(flows, guide0, guide1)`` takes LR :class:`MidFlows` ``(B, 2, h, w)`` in LR pixels
          and the HR frames ``(B, 3, sh, sw)``; returns HR :class:`MidFlows` ``(B, 2, sh, sw)`` in HR
          pixels.
    """

    #: Spatial scale factor between LR flows and HR flows.
    scale: int = 4
    #: Height and width of the LR flows must be multiples of this.
    size_multiple: int = 1

    @abc.abstractmethod
    def forward(self, flows: MidFlows, guide0: Tensor, guide1: Tensor) -> MidFlows:
        """Refine.

        Args:
            flows: LR mid flows.
            guide0: ``(B, 3, sh, sw)`` HR frame 0.
            guide1: ``(B, 3, sh, sw)`` HR frame 1.

        Returns:
            HR mid flows.
        """


class VSRNet(nn.Module, abc.ABC):
    """Super-resolves both input frames jointly (paper ``NET_SR``, Eq. 5).

    Contract:
        - ``forward(inputs: VSRInput) -> VSROutput`` with both SR frames ``(B, 3, sh, sw)``.
        - A net may ignore any field of :class:`VSRInput` (a plain single-image SR net uses only
          ``lr0``/``lr1``), but must accept them all.
        - ``feature_channels`` is the channel count of ``VSROutput.feature`` (0 if always ``None``);
          the feature lives at LR resolution.
    """

    #: Spatial upscaling factor.
    scale: int = 4
    #: Channels of the exposed context feature (0: none).
    feature_channels: int = 0
    #: Height and width of LR inputs must be multiples of this.
    size_multiple: int = 1

    @abc.abstractmethod
    def forward(self, inputs: VSRInput) -> VSROutput:
        """Super-resolve.

        Args:
            inputs: the per-iteration inputs.

        Returns:
            The two SR frames and the optional feature.
        """


class VFINet(nn.Module, abc.ABC):
    """Synthesises the HR intermediate frame (paper ``NET_FI``, Eq. 6).

    Contract:
        - ``forward(inputs: VFIInput) -> Tensor`` of shape ``(B, 3, H, W)``.
        - ``feature_channels`` is the channel count the net expects in ``VFIInput.feature``
          (0: the net ignores features and ``feature`` may be ``None``). A net with
          ``feature_channels > 0`` must also accept ``feature=None`` (treated as zeros) unless
          documented otherwise.
        - ``scale`` is the resolution ratio between the HR frames and the feature.
    """

    #: Resolution ratio between HR frames and the context feature.
    scale: int = 4
    #: Channels expected in ``VFIInput.feature`` (0: no feature).
    feature_channels: int = 0
    #: Height and width of HR inputs must be multiples of this.
    size_multiple: int = 1

    @abc.abstractmethod
    def forward(self, inputs: VFIInput) -> Tensor:
        """Interpolate.

        Args:
            inputs: warped/unwarped HR frames, flows and optional feature.

        Returns:
            ``(B, 3, H, W)`` the frame at time ``t``.
        """


class FeatureExtractor(nn.Module, abc.ABC):
    """An external context-feature source for the VFI net (paper Table 1 row 2: a ResNet feature).

    Contract:
        - ``forward(frame0, frame1)`` takes the two LR frames ``(B, 3, h, w)`` and returns a
          ``(B, out_channels, h, w)`` feature at LR resolution, replacing the VSR feature.
        - ``out_channels`` must equal the VFI net's ``feature_channels``.
    """

    #: Channels of the returned feature.
    out_channels: int = 0

    @abc.abstractmethod
    def forward(self, frame0: Tensor, frame1: Tensor) -> Tensor:
        """Extract the context feature.

        Args:
            frame0: ``(B, 3, h, w)`` LR frame 0.
            frame1: ``(B, 3, h, w)`` LR frame 1.

        Returns:
            ``(B, out_channels, h, w)``.
        """
