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

from typing import Any, Literal

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

__all__ = ["ZeroFlowEstimator", "UpsampleFlowRefiner", "BicubicVSR", "LinearBlendVFI", "FFmpegBaseline", "FFMPEG_FILTERS", "upsample"]


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


#: The FFmpeg filter chain of :class:`FFmpegBaseline` (``{w}``, ``{h}``, ``{fps}`` filled in per clip).
FFMPEG_FILTERS: tuple[str, ...] = (
    "scale={w}:{h}:flags=lanczos",
    "format=yuv444p",
    "minterpolate=fps={fps}:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1",
)


class FFmpegBaseline(torch.nn.Module):
    """What a user gets from FFmpeg alone: ``scale=…:flags=lanczos`` then ``minterpolate`` (motion compensated).

    The frames go through libavfilter (PyAV's bundled FFmpeg) exactly as
    ``ffmpeg -vf "scale=iw*4:ih*4:flags=lanczos,format=yuv444p,minterpolate=fps=2*r:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1"``
    would filter them (4:4:4 so chroma subsampling does not penalise it). :meth:`upscale_clip`
    filters a whole clip at once (``minterpolate``'s motion search uses its neighbours); calling the
    module on one LR pair filters that 2-frame clip, so it fits any window-based code path.

    Args:
        scale: spatial factor.

    Example:
        >>> ff = FFmpegBaseline()
        >>> out = ff.upscale_clip(torch.rand(3, 3, 16, 16))
        >>> tuple(out.shape)
        (5, 3, 64, 64)
    """

    parameter_free = True

    def __init__(self, scale: int = 4) -> None:
        super().__init__()
        self.scale = check_positive_int(scale, "scale")
        self.size_multiple = 1

    def upscale_clip(self, lr_clip: Tensor) -> Tensor:
        """Upscale ``N`` LR frames ×``scale`` in space and ×2 in time.

        Args:
            lr_clip: ``(N, 3, h, w)`` frames in ``[0, 1]``, ``N >= 2``.

        Returns:
            ``(2N - 1, 3, s*h, s*w)``: even indices are the scaled inputs, odd ones interpolated.

        Raises:
            ValueError: on a wrong shape or fewer than 2 frames.
        """
        from fractions import Fraction

        import av
        import numpy as np

        check_shape(lr_clip, ["N", 3, "h", "w"], "lr_clip")
        n, _, h, w = lr_clip.shape
        if n < 2:
            raise ValueError(f"lr_clip: expected at least 2 frames, got {n}")
        s = self.scale
        graph = av.filter.Graph()
        src = graph.add_buffer(width=w, height=h, format="rgb24", time_base=Fraction(1, 2))
        chain = [src]
        for spec in FFMPEG_FILTERS:
            name, args = spec.split("=", 1)
            chain.append(graph.add(name, args.format(w=w * s, h=h * s, fps=2)))
        chain.append(graph.add("format", "rgb24"))
        chain.append(graph.add("buffersink"))
        for a, b in zip(chain[:-1], chain[1:]):
            a.link_to(b)
        graph.configure()
        arrays = (lr_clip.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        out: dict[int, Tensor] = {}

        def drain() -> None:
            while True:
                try:
                    frame = graph.pull()
                except (av.error.BlockingIOError, av.error.EOFError):
                    return
                idx = int(round(float(frame.pts * frame.time_base) * 2))
                out[idx] = torch.from_numpy(np.array(frame.to_ndarray(format="rgb24")))

        # minterpolate emits a frame only once the next input has arrived: repeat the last frame twice
        # (the extra outputs past the clip are dropped)
        for i, arr in enumerate([*arrays, arrays[-1], arrays[-1]]):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")
            vf.pts = i * 2  # time_base 1/2: input frame i at time i (fps 1 in, fps 2 out)
            vf.time_base = Fraction(1, 2)
            graph.push(vf)
            drain()
        graph.push(None)
        drain()
        frames = []
        for k in range(2 * n - 1):
            if k not in out:
                raise RuntimeError(f"FFmpeg's minterpolate returned no frame at output index {k} (got {sorted(out)})")
            frames.append(out[k])
        hr = torch.stack(frames).permute(0, 3, 1, 2).float() / 255.0
        return hr.to(lr_clip.device)

    def forward(self, lr0: Tensor, lr1: Tensor, *, t: float | Tensor | None = None) -> Any:
        """Filter the 2-frame clip ``(lr0, lr1)`` (batch items one by one; ``t`` must be 0.5).

        Args:
            lr0: ``(B, 3, h, w)``.
            lr1: ``(B, 3, h, w)``.
            t: ``None`` or ``0.5`` (FFmpeg's ×2 filter has no other time).

        Returns:
            An object with ``frames = (SR_0, SR_mid, SR_1)``, each ``(B, 3, s*h, s*w)``.

        Raises:
            ValueError: for another ``t``.
        """
        from types import SimpleNamespace

        if t is not None and not (isinstance(t, (int, float)) and float(t) == 0.5):
            raise ValueError(f"t: FFmpegBaseline interpolates only the middle frame (t=0.5), got {t!r}")
        outs = [self.upscale_clip(torch.stack((a, b))) for a, b in zip(lr0, lr1)]
        return SimpleNamespace(frames=tuple(torch.stack([o[k] for o in outs]) for k in range(3)))
