"""InteractionLoop: composes a flow estimator, a VSR net, a VFI net and an optional flow refiner.

One forward pass follows MBnet (paper Sec. 3, DESIGN.md §4) with the same sub-network weights in
every iteration ("weighted shared")::

    flows_lr      = flow(lr0, lr1)                                    # Eq. 1, once
    mid_lr        = quadratic_flow_interpolation(flows_lr, t)         # Eq. 2-3, once
    sr_prev       = bilinear_up(lr0), bilinear_up(lr1)                # SR^(0)
    fb            = bilinear_up(lr0), bilinear_up(lr1)                # A4: no SR_t exists yet
    for i in 1..iterations:
        sr0, sr1, feat = vsr(lr pair, sr_prev, warped lr pair, fb)    # Eq. 5
        mid_hr   = refiner(mid_lr, sr0, sr1) or resize_flow(mid_lr)   # Eq. 4
        sr_mid   = vfi(warp(sr0, mid_hr.0), warp(sr1, mid_hr.1), feat) # Eq. 6
        fb       = warp(sr_mid, -mid_hr.0), warp(sr_mid, -mid_hr.1)    # VFI feedback
                   (feedback=False: warp(sr1 -> 0), warp(sr0 -> 1), VSR feeding back itself)
        sr_prev  = sr0, sr1
    return SR_{t-1}, SR_t, SR_{t+1} of the last iteration
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from stvsr_blocks._check import (
    check_interpolation_options,
    check_pair_call,
    check_positive_int,
    check_shape,
)
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
)
from stvsr_blocks.ops.flow import linear_flow_interpolation, quadratic_flow_interpolation, resize_flow
from stvsr_blocks.ops.padding import Padding, crop_padding, pad_to_multiple
from stvsr_blocks.ops.warp import backward_warp

__all__ = ["InteractionLoop", "IterationOutput", "LoopOutput"]

# einops legend: b batch, n frames, c channels, h/w height/width.


@dataclass
class IterationOutput:
    """Everything one iteration produced, for losses and inspection (all cropped to the input size).

    Attributes:
        sr0: ``(B, 3, sh, sw)`` VSR output for frame 0.
        sr1: ``(B, 3, sh, sw)`` VSR output for frame 1.
        sr_mid: ``(B, 3, sh, sw)`` VFI output at time ``t``.
        feature: the context feature given to the VFI net (``None`` when the loop uses none).
        mid_flows_hr: the HR flows that warped ``sr0``/``sr1`` to time ``t``.
        warped0: ``backward_warp(sr0, mid_flows_hr.flow_0tot)``.
        warped1: ``backward_warp(sr1, mid_flows_hr.flow_1tot)``.
        feedback0: the HR feedback frame given to the VSR net for frame 0 in this iteration.
        feedback1: the HR feedback frame given to the VSR net for frame 1 in this iteration.
    """

    sr0: Tensor
    sr1: Tensor
    sr_mid: Tensor
    feature: Tensor | None
    mid_flows_hr: MidFlows
    warped0: Tensor
    warped1: Tensor
    feedback0: Tensor
    feedback1: Tensor


@dataclass
class LoopOutput:
    """Result of :meth:`InteractionLoop.forward`.

    Attributes:
        frames: ``(SR_{t-1}, SR_t, SR_{t+1})`` of the last iteration, each ``(B, 3, sh, sw)``.
        flows_lr: the LR flow pyramid of the flow estimator (levels cropped to the input size).
        mid_flows_lr: the LR flows to time ``t`` from quadratic (or linear) interpolation.
        mid_flows_hr: the HR flows to time ``t`` of the last iteration.
        iterations: every iteration's intermediates, first to last.
    """

    frames: tuple[Tensor, Tensor, Tensor]
    flows_lr: FlowPyramid
    mid_flows_lr: MidFlows
    mid_flows_hr: MidFlows
    iterations: tuple[IterationOutput, ...]

    def stacked(self) -> Tensor:
        """The three output frames as one clip tensor.

        Returns:
            ``(B, 3, 3, sh, sw)`` ordered ``SR_{t-1}, SR_t, SR_{t+1}``.
        """
        return torch.stack(self.frames, dim=1)


def _lcm(*values: int) -> int:
    out = 1
    for v in values:
        out = out * v // math.gcd(out, v)
    return out


def _mid_flows(flows: FlowPyramid, t: float | Tensor, interpolation: str, coefficients: str) -> MidFlows:
    if interpolation == "quadratic":
        return MidFlows(*quadratic_flow_interpolation(flows.flow_0to1, flows.flow_1to0, t,
                                                      coefficients=coefficients))  # type: ignore[arg-type]
    return MidFlows(*linear_flow_interpolation(flows.flow_0to1, flows.flow_1to0, t))


class InteractionLoop(nn.Module):
    """Composes Flow / VSR / VFI blocks (and an optional flow refiner) into MBnet or a variant.

    Any modules implementing :mod:`stvsr_blocks.interfaces` can be injected, including your own.
    The same modules are reused in every iteration, so the parameter count does not depend on
    ``iterations``.

    Args:
        flow: LR flow estimator (paper ``NET_flow``).
        vsr: VSR net producing both endpoint HR frames (paper ``NET_SR``). Its ``scale`` sets the
            loop's scale.
        vfi: VFI net producing the HR frame at time ``t`` (paper ``NET_FI``).
        refiner: HR flow refiner (paper ``NET_re``); ``None`` uses bilinear upsampling of the LR mid
            flows (:func:`~stvsr_blocks.ops.resize_flow`).
        iterations: number of VSR/VFI passes (paper: 2). ``1`` is the "w/o interaction" control.
        feedback: feed the VFI result back to the VSR net (paper). ``False`` feeds back the VSR
            net's own frames warped onto each other instead (Table 1 row 4), so the VFI result
            never reaches the VSR net.
        feature: context feature for the VFI net: ``"vsr"`` (the VSR net's feature, paper),
            ``None`` (no feature, Table 1 row 3), or a
            :class:`~stvsr_blocks.interfaces.FeatureExtractor` run on the LR frames (Table 1
            row 2).
        t: intermediate time in ``(0, 1)``.
        interpolation: ``"quadratic"`` (paper Eq. 2-3) or ``"linear"`` mid-flow approximation.
        quadratic_coefficients: coefficients of the quadratic interpolation (A15):
            ``"slomo"`` (default, consistent for every ``t``) or ``"paper"`` (Eq. 2-3 literally); see
            :func:`~stvsr_blocks.ops.quadratic_flow_interpolation`. Both agree at ``t = 0.5``.
        feedback_init: content of the feedback slot in iteration 1, before any ``SR_t`` exists
            (A4): ``"bilinear"`` upsampled LR frames (default) or ``"zeros"``.
        pad_mode: how inputs whose size is not a multiple of what the blocks need are padded
            (outputs are cropped back): ``"replicate"`` or ``"reflect"``.

    Attributes:
        check_inputs: validate the inputs of :meth:`forward` (dtype and device against the model's,
            batch size, finite values in ``[0, 1]``; see :func:`forward`). ``True`` by default; set it
            to ``False`` on an instance only where the one host synchronisation it costs matters (e.g.
            CUDA graphs).

    Raises:
        TypeError: if a block does not implement its interface.
        ValueError: on inconsistent scales/feature channels or invalid options.

    Example:
        >>> from stvsr_blocks.baselines import BicubicVSR, LinearBlendVFI, ZeroFlowEstimator
        >>> loop = InteractionLoop(flow=ZeroFlowEstimator(), vsr=BicubicVSR(4), vfi=LinearBlendVFI(4),
        ...                        feature=None)
        >>> out = loop(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8))
        >>> [tuple(f.shape) for f in out.frames]
        [(1, 3, 32, 32), (1, 3, 32, 32), (1, 3, 32, 32)]
    """

    check_inputs: bool = True

    def __init__(
        self,
        *,
        flow: FlowEstimator,
        vsr: VSRNet,
        vfi: VFINet,
        refiner: FlowRefiner | None = None,
        iterations: int = 2,
        feedback: bool = True,
        feature: Literal["vsr"] | None | FeatureExtractor = "vsr",
        t: float = 0.5,
        interpolation: Literal["quadratic", "linear"] = "quadratic",
        quadratic_coefficients: Literal["slomo", "paper"] = "slomo",
        feedback_init: Literal["bilinear", "zeros"] = "bilinear",
        pad_mode: Literal["replicate", "reflect"] = "replicate",
    ) -> None:
        super().__init__()
        for name, obj, cls in (("flow", flow, FlowEstimator), ("vsr", vsr, VSRNet), ("vfi", vfi, VFINet)):
            if not isinstance(obj, cls):
                raise TypeError(f"{name}: expected a {cls.__name__} (stvsr_blocks.interfaces), got {type(obj).__name__}")
        if refiner is not None and not isinstance(refiner, FlowRefiner):
            raise TypeError(f"refiner: expected a FlowRefiner or None, got {type(refiner).__name__}")
        self.iterations = check_positive_int(iterations, "iterations")
        if not isinstance(feedback, bool):
            raise TypeError(f"feedback: expected a bool, got {type(feedback).__name__}")
        self.feedback = feedback
        self.t = check_interpolation_options(t, interpolation, quadratic_coefficients)
        self.quadratic_coefficients = quadratic_coefficients
        if feedback_init not in ("bilinear", "zeros"):
            raise ValueError(f"feedback_init: expected 'bilinear' or 'zeros', got {feedback_init!r}")
        if pad_mode not in ("replicate", "reflect"):
            raise ValueError(f"pad_mode: expected 'replicate' or 'reflect', got {pad_mode!r}")
        self.interpolation = interpolation
        self.feedback_init = feedback_init
        self.pad_mode = pad_mode

        self.scale = int(vsr.scale)
        if int(vfi.scale) != self.scale:
            raise ValueError(f"vfi.scale ({vfi.scale}) must equal vsr.scale ({vsr.scale})")
        if refiner is not None and int(refiner.scale) != self.scale:
            raise ValueError(f"refiner.scale ({refiner.scale}) must equal vsr.scale ({vsr.scale})")

        self.feature_extractor: FeatureExtractor | None = None
        if feature == "vsr":
            have = int(vsr.feature_channels)
            if have == 0:
                raise ValueError("feature='vsr' but the VSR net exposes no feature (feature_channels=0); use feature=None")
        elif feature is None:
            have = 0
        elif isinstance(feature, FeatureExtractor):
            self.feature_extractor = feature
            have = int(feature.out_channels)
        else:
            raise TypeError(f"feature: expected 'vsr', None or a FeatureExtractor, got {feature!r}")
        want = int(vfi.feature_channels)
        if have and want and have != want:
            raise ValueError(f"feature channels mismatch: the feature source gives {have}, vfi.feature_channels is {want}")
        if have and not want:
            raise ValueError(f"the feature source gives {have} channels but the VFI net takes no feature")
        self.feature_source = "vsr" if feature == "vsr" else ("extractor" if self.feature_extractor else "none")

        self.flow = flow
        self.vsr = vsr
        self.vfi = vfi
        self.refiner = refiner
        hr_mult = int(getattr(vfi, "size_multiple", 1))
        self.size_multiple = _lcm(
            int(getattr(flow, "size_multiple", 1)),
            int(getattr(vsr, "size_multiple", 1)),
            int(getattr(refiner, "size_multiple", 1)) if refiner is not None else 1,
            max(1, -(-hr_mult // self.scale)),
        )

    # ------------------------------------------------------------------ helpers
    def _up(self, x: Tensor) -> Tensor:
        return F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)

    def _mid_flows_lr(self, flows: FlowPyramid, t: float | Tensor) -> MidFlows:
        return _mid_flows(flows, t, self.interpolation, self.quadratic_coefficients)

    @staticmethod
    def _crop_pyramid(flows: FlowPyramid, h: int, w: int) -> FlowPyramid:
        levels = []
        for a, b in flows.levels:
            fy, fx = a.shape[-2], a.shape[-1]
            # levels may be coarser than the input: keep the part covering the unpadded region
            hh = max(1, math.ceil(h * fy / flows.flow_0to1.shape[-2]))
            ww = max(1, math.ceil(w * fx / flows.flow_0to1.shape[-1]))
            levels.append((a[..., :hh, :ww], b[..., :hh, :ww]))
        return FlowPyramid(flows.flow_0to1[..., :h, :w], flows.flow_1to0[..., :h, :w], tuple(levels))

    # ------------------------------------------------------------------ forward
    def forward(self, lr0: Tensor, lr1: Tensor, *, t: float | Tensor | None = None) -> LoopOutput:
        """Super-resolve two LR frames and synthesise the HR frame at time ``t`` between them.

        Args:
            lr0: ``(B, 3, h, w)`` LR frame ``t-1`` in ``[0, 1]``.
            lr1: ``(B, 3, h, w)`` LR frame ``t+1``.
            t: time of the synthesised frame in ``(0, 1)`` (``None``: the loop's ``t``), or a ``(B,)``
                tensor of one time per batch item. ``k/N`` for ``k = 1..N-1`` gives an ×N frame rate.

        Returns:
            A :class:`LoopOutput`; ``frames`` are ``(B, 3, s*h, s*w)``.

        Raises:
            TypeError: if an input is not a floating tensor, or its dtype is not the model's (outside
                :func:`torch.autocast`).
            ValueError: if the shapes are wrong or differ, the batch is empty, an input is on another
                device than the model, holds NaN/Inf or values far outside ``[0, 1]`` (e.g. 0-255
                data), or ``t`` is outside ``[0, 1]``.
        """
        t = check_pair_call(self, lr0, lr1, t)
        h, w = lr0.shape[-2:]
        pair, pad = pad_to_multiple(torch.stack((lr0, lr1), 1), self.size_multiple, mode=self.pad_mode)
        lr0p, lr1p = pair.unbind(1)
        out = self._forward_padded(lr0p, lr1p, t)
        if pad == Padding(0, 0, 0, 0):
            return out
        return self._crop_output(out, pad, h, w)

    def _forward_padded(self, lr0: Tensor, lr1: Tensor, t: float | Tensor) -> LoopOutput:
        s = self.scale
        flows = self.flow(lr0, lr1)
        mid_lr = self._mid_flows_lr(flows, t)
        lr_warped0 = backward_warp(lr1, flows.flow_1to0)
        lr_warped1 = backward_warp(lr0, flows.flow_0to1)
        sr_prev0, sr_prev1 = self._up(lr0), self._up(lr1)
        if self.feedback_init == "bilinear":
            fb0, fb1 = sr_prev0, sr_prev1
        else:
            fb0, fb1 = torch.zeros_like(sr_prev0), torch.zeros_like(sr_prev1)
        ext_feature = self.feature_extractor(lr0, lr1) if self.feature_extractor is not None else None
        hr_full: tuple[Tensor, Tensor] | None = None

        records: list[IterationOutput] = []
        mid_hr = MidFlows(resize_flow(mid_lr.flow_0tot, scale=s), resize_flow(mid_lr.flow_1tot, scale=s))
        for i in range(1, self.iterations + 1):
            vout = self.vsr(VSRInput(lr0, lr1, sr_prev0, sr_prev1, lr_warped0, lr_warped1, fb0, fb1, flows, i))
            sr0, sr1 = vout.sr0, vout.sr1
            if self.refiner is not None:
                mid_hr = self.refiner(mid_lr, sr0, sr1)
            warped0 = backward_warp(sr0, mid_hr.flow_0tot)
            warped1 = backward_warp(sr1, mid_hr.flow_1tot)
            if self.feature_source == "vsr":
                feature = vout.feature
            else:
                feature = ext_feature
            sr_mid = self.vfi(VFIInput(warped0, warped1, sr0, sr1, mid_hr, feature, t))
            records.append(IterationOutput(sr0, sr1, sr_mid, feature, mid_hr, warped0, warped1, fb0, fb1))
            if self.feedback:
                fb0 = backward_warp(sr_mid, -mid_hr.flow_0tot)
                fb1 = backward_warp(sr_mid, -mid_hr.flow_1tot)
            else:
                if hr_full is None:
                    hr_full = (resize_flow(flows.flow_0to1, scale=s), resize_flow(flows.flow_1to0, scale=s))
                fb0 = backward_warp(sr1, hr_full[1])
                fb1 = backward_warp(sr0, hr_full[0])
            sr_prev0, sr_prev1 = sr0, sr1
        last = records[-1]
        return LoopOutput((last.sr0, last.sr_mid, last.sr1), flows, mid_lr, last.mid_flows_hr, tuple(records))

    def _crop_output(self, out: LoopOutput, pad: Padding, h: int, w: int) -> LoopOutput:
        s = self.scale

        def hr(x: Tensor | None) -> Tensor | None:
            return None if x is None else crop_padding(x, pad, scale=s)

        def lr(x: Tensor | None) -> Tensor | None:
            return None if x is None else crop_padding(x, pad)

        def mf(m: MidFlows, crop) -> MidFlows:
            return MidFlows(crop(m.flow_0tot), crop(m.flow_1tot))

        recs = tuple(
            IterationOutput(hr(r.sr0), hr(r.sr1), hr(r.sr_mid), lr(r.feature), mf(r.mid_flows_hr, hr),
                            hr(r.warped0), hr(r.warped1), hr(r.feedback0), hr(r.feedback1))
            for r in out.iterations
        )
        last = recs[-1]
        return LoopOutput((last.sr0, last.sr_mid, last.sr1), self._crop_pyramid(out.flows_lr, h, w),
                          mf(out.mid_flows_lr, lr), last.mid_flows_hr, recs)

    # ------------------------------------------------------------------ clips
    def forward_clip(self, lr_clip: Tensor, *, overlap: Literal["first", "average"] = "first") -> Tensor:
        """Run over every consecutive pair of a clip of ``N`` LR frames, returning ``2N - 1`` HR frames.

        Window ``i`` takes LR frames ``(i, i+1)`` and yields HR frames ``2i, 2i+1, 2i+2``. Each inner
        LR frame is super-resolved by two windows (as frame 1 of window ``i-1`` and frame 0 of
        window ``i``). ``overlap="first"`` keeps the first occurrence (window ``i-1``), matching
        the usual evaluation scripts; ``"average"`` averages both.

        Args:
            lr_clip: ``(B, N, 3, h, w)`` with ``N >= 2``.
            overlap: ``"first"`` or ``"average"``.

        Returns:
            ``(B, 2N-1, 3, s*h, s*w)``.

        Raises:
            ValueError: on a wrong shape, ``N < 2`` or an unknown ``overlap``.
        """
        check_shape(lr_clip, ["B", "N", 3, "h", "w"], "lr_clip")
        n = lr_clip.shape[1]
        if n < 2:
            raise ValueError(f"lr_clip: expected at least 2 frames (dim 1), got {n}")
        if overlap not in ("first", "average"):
            raise ValueError(f"overlap: expected 'first' or 'average', got {overlap!r}")
        b = lr_clip.shape[0]
        # All windows in one batch: (B*(N-1)) pairs.
        lr0 = rearrange(lr_clip[:, :-1], "b n c h w -> (b n) c h w")
        lr1 = rearrange(lr_clip[:, 1:], "b n c h w -> (b n) c h w")
        out = self(lr0, lr1)
        sr0, mid, sr1 = (rearrange(f, "(b n) c h w -> b n c h w", b=b) for f in out.frames)
        frames: list[Tensor] = [sr0[:, 0]]
        for i in range(n - 1):
            frames.append(mid[:, i])
            if i + 1 < n - 1 and overlap == "average":
                frames.append(0.5 * (sr1[:, i] + sr0[:, i + 1]))
            else:
                frames.append(sr1[:, i])
        return torch.stack(frames, dim=1)
