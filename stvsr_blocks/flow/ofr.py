r"""MBnet's LR flow network ``NET_flow``: a three-level OFRnet pyramid (SOF-VSR) on LR frames.

Structure (SPEC §1, "MBnet NET_flow (recommended)"). For ``levels = 3`` the pyramid works at
``h/4``, ``h/2`` and ``h``; each level $l$ sees the frames average-pooled to its resolution:

- Level 1 (coarsest): input ``[pool(src), pool(ref), 0]`` →
  $f_1 = \mathrm{RNN2}(\mathrm{RNN1}(\cdot))$.
- Level $l$ (finer): $u = \mathrm{resize}_{\times 2}(f_{l-1})$ (values doubled), input
  ``[warp(pool(src), u), pool(ref), u]`` → $f_l = \mathrm{RNN2}(\mathrm{RNN1}(\cdot)) + u$.
- Finest level: the same, but with its own head (``n_resb`` ResB + conv3×3 → 2) instead of
  ``RNN2`` when ``level3_head`` is on.

``RNN1`` (the trunk, shared by every level) is conv3×3(``2·in + 2`` → C) + LeakyReLU + ``n_resb``
ResB; ``RNN2`` is conv3×3(C → 2). Every convolution is bias-free. A ResB splits its channels in
halves, sends the second half through 1×1 → LReLU → depthwise 3×3 → 1×1 → LReLU, concatenates it
with the untouched first half and shuffles the channels in 2 groups; it has $C^2/2 + 4.5C$
parameters.

``src`` is the frame being warped and ``ref`` the frame whose grid the flow lives on, so the
flow from ``(src, ref) = (frame0, frame1)`` is ``flow_0to1`` (``backward_warp(frame0, flow_0to1)
≈ frame1``). Both directions run as one batch: ``src = [frame0; frame1]``, ``ref = [frame1;
frame0]`` stacked along the batch dimension.

Einops letters: ``b`` batch, ``d`` direction (2), ``g`` shuffle groups, ``c`` channels, ``h w`` space.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from stvsr_blocks._check import (
    check_float_range,
    check_multiple,
    check_positive_int,
    check_same_shape,
    check_shape,
)
from stvsr_blocks.interfaces import FlowEstimator, FlowPyramid
from stvsr_blocks.ops.flow import resize_flow
from stvsr_blocks.ops.warp import backward_warp

__all__ = ["OFRConfig", "ResB", "OFRFlowNet", "ofr_paper_config", "OFR_PRESETS"]

#: Named :class:`OFRConfig` presets: ``recommended`` (C=320, 350,400 params), ``paper_params``
#: (C=480, 756,000 params, the paper's "0.76M" within 1 %), ``trunk_only`` (C=320 without the
#: finest-level head, 186,720 params) and ``tiny`` (C=16, one ResB, for tests and examples).
OFR_PRESETS: dict[str, dict[str, object]] = {
    "recommended": {"channels": 320, "n_resb": 3},
    "paper_params": {"channels": 480, "n_resb": 3},
    "trunk_only": {"channels": 320, "n_resb": 3, "level3_head": False},
    "tiny": {"channels": 16, "n_resb": 1},
}


@dataclass(frozen=True)
class OFRConfig:
    """Hyper-parameters of :class:`OFRFlowNet`.

    Attributes:
        channels: trunk width ``C`` (even). 320 is the recommended size, 480 matches the paper's
            parameter count.
        n_resb: number of ResB in the shared trunk (and in the finest-level head).
        in_channels: channels per input frame (3 for RGB, 1 for a Y-only variant).
        negative_slope: LeakyReLU slope.
        levels: pyramid levels; the coarsest works at ``1 / 2**(levels - 1)`` of the input size,
            which is therefore the required size multiple (4 for the default 3 levels).
        level3_head: give the finest level its own head (``n_resb`` ResB + conv3×3 → 2) instead of
            the shared ``RNN2`` (SPEC's recommended structure).
        head_scale: constant multiplying every raw head output before it is added to the flow.
            ``1.0`` means the heads predict pixels directly. SOF-VSR's warp made one raw unit worth
            ~15.5 px; a value > 1 reproduces that kind of coarser output unit (larger initial steps).
        zero_init_heads: initialise the last convolution of every head to zero, so the untrained
            network predicts zero flow (the identity warp). Off by default (PyTorch's default
            initialisation, as SOF-VSR).

    Raises:
        TypeError: if an integer field is not an int, a bool field not a bool, or a float field
            not a number.
        ValueError: if a field is out of range (``channels`` odd or < 2, ``levels`` < 1, ...).

    Example:
        >>> OFRConfig.from_preset("tiny").channels
        16
    """

    channels: int = 320
    n_resb: int = 3
    in_channels: int = 3
    negative_slope: float = 0.1
    levels: int = 3
    level3_head: bool = True
    head_scale: float = 1.0
    zero_init_heads: bool = False

    def __post_init__(self) -> None:
        check_positive_int(self.channels, "channels")
        if self.channels % 2:
            raise ValueError(f"channels: expected an even number (ResB splits it in halves), got {self.channels}")
        check_positive_int(self.n_resb, "n_resb")
        check_positive_int(self.in_channels, "in_channels")
        check_float_range(self.negative_slope, "negative_slope", 0.0, 1.0)
        check_positive_int(self.levels, "levels")
        for name in ("level3_head", "zero_init_heads"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name}: expected a bool, got {type(getattr(self, name)).__name__}")
        if check_float_range(self.head_scale, "head_scale", 0.0, float("inf")) == 0.0:
            raise ValueError("head_scale: expected a positive number, got 0.0")

    @classmethod
    def from_preset(cls, name: Literal["recommended", "paper_params", "trunk_only", "tiny"], **overrides: object) -> OFRConfig:
        """Build a config from a named preset (see :data:`OFR_PRESETS`), optionally overriding fields.

        Args:
            name: preset name: ``"recommended"``, ``"paper_params"``, ``"trunk_only"`` or ``"tiny"``.
            **overrides: fields replacing the preset's values (e.g. ``zero_init_heads=True``).

        Returns:
            The config.

        Raises:
            ValueError: if ``name`` is not a preset.
            TypeError: if an override is not an :class:`OFRConfig` field.

        Example:
            >>> OFRConfig.from_preset("paper_params").channels
            480
        """
        if name not in OFR_PRESETS:
            raise ValueError(f"name: expected one of {sorted(OFR_PRESETS)}, got {name!r}")
        return cls(**{**OFR_PRESETS[name], **overrides})  # type: ignore[arg-type]


def ofr_paper_config(**overrides: object) -> OFRConfig:
    """The ``paper_params`` preset: C=480, 3 ResB, 756,000 parameters (the paper's "0.76M").

    Args:
        **overrides: fields replacing the preset's values.

    Returns:
        The config.

    Example:
        >>> sum(p.numel() for p in OFRFlowNet(ofr_paper_config()).parameters())
        756000
    """
    return OFRConfig.from_preset("paper_params", **overrides)


def _conv3x3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, bias=False)


class ResB(nn.Module):
    """SOF-VSR's shuffle residual block (bias-free, no additive skip).

    The first half of the channels passes through unchanged; the second goes through
    1×1 → LReLU → depthwise 3×3 → 1×1 → LReLU; the halves are concatenated and the channels are
    shuffled in 2 groups. Parameters: $C^2/2 + 4.5C$.

    Args:
        channels: channel count ``C`` (even).
        negative_slope: LeakyReLU slope.

    Raises:
        TypeError: if ``channels`` is not an int.
        ValueError: if ``channels`` is odd or < 2.

    Shape:
        - input: $(B, C, H, W)$
        - output: $(B, C, H, W)$

    Example:
        >>> blk = ResB(8)
        >>> blk(torch.rand(1, 8, 5, 5)).shape, sum(p.numel() for p in blk.parameters())
        (torch.Size([1, 8, 5, 5]), 68)
    """

    def __init__(self, channels: int, negative_slope: float = 0.1) -> None:
        super().__init__()
        check_positive_int(channels, "channels")
        if channels % 2:
            raise ValueError(f"channels: expected an even number, got {channels}")
        self.channels = channels
        half = channels // 2
        self.branch = nn.Sequential(
            nn.Conv2d(half, half, 1, bias=False),
            nn.LeakyReLU(negative_slope),
            nn.Conv2d(half, half, 3, padding=1, groups=half, bias=False),
            nn.Conv2d(half, half, 1, bias=False),
            nn.LeakyReLU(negative_slope),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block.

        Args:
            x: ``(B, C, H, W)`` features.

        Returns:
            ``(B, C, H, W)`` features.

        Raises:
            TypeError: if ``x`` is not a floating tensor.
            ValueError: if ``x`` is not ``(B, C, H, W)`` with ``C == channels``.

        Example:
            >>> ResB(4)(torch.zeros(2, 4, 3, 3)).abs().sum().item()
            0.0
        """
        check_shape(x, ["B", self.channels, "H", "W"], "x")
        keep, work = x.chunk(2, dim=1)
        out = torch.cat((keep, self.branch(work)), dim=1)
        return rearrange(out, "b (g c) h w -> b (c g) h w", g=2)


class OFRFlowNet(FlowEstimator):
    """MBnet ``NET_flow``: bidirectional coarse-to-fine OFRnet pyramid on LR frames.

    See the module docstring for the structure. Flows are in pixels of each level's resolution
    and follow the library convention (``backward_warp(frame0, flow_0to1) ≈ frame1``). Parameter
    counts (RGB, 3 ResB): 350,400 at C=320 (``recommended``), 756,000 at C=480
    (``paper_params``), 186,720 without the finest-level head (``trunk_only``).

    Args:
        config: hyper-parameters; ``None`` uses :class:`OFRConfig` defaults (the ``recommended``
            preset).

    Raises:
        TypeError: if ``config`` is not an :class:`OFRConfig`.

    Example:
        >>> net = OFRFlowNet(OFRConfig.from_preset("tiny"))
        >>> out = net(torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16))
        >>> [tuple(f01.shape) for f01, _ in out.levels]
        [(2, 2, 4, 4), (2, 2, 8, 8), (2, 2, 16, 16)]
    """

    def __init__(self, config: OFRConfig | None = None) -> None:
        super().__init__()
        if config is None:
            config = OFRConfig()
        if not isinstance(config, OFRConfig):
            raise TypeError(f"config: expected an OFRConfig, got {type(config).__name__}")
        self.config = config
        c, slope = config.channels, config.negative_slope
        #: Height and width of the inputs must be multiples of this (``2**(levels - 1)``).
        self.size_multiple = 2 ** (config.levels - 1)
        # RNN1: shared trunk.
        self.trunk = nn.Sequential(
            _conv3x3(2 * config.in_channels + 2, c),
            nn.LeakyReLU(slope),
            *[ResB(c, slope) for _ in range(config.n_resb)],
        )
        # RNN2: shared head of the levels that do not have their own (created only when used).
        uses_shared_head = config.levels > 1 or not config.level3_head
        self.head = _conv3x3(c, 2) if uses_shared_head else None
        self.fine_head = (
            nn.Sequential(*[ResB(c, slope) for _ in range(config.n_resb)], _conv3x3(c, 2))
            if config.level3_head
            else None
        )
        if config.zero_init_heads:
            for last in (self.head, None if self.fine_head is None else self.fine_head[-1]):
                if last is not None:
                    nn.init.zeros_(last.weight)

    def _level(self, src: Tensor, ref: Tensor, init: Tensor | None, finest: bool) -> Tensor:
        if init is None:
            init = src.new_zeros(src.shape[0], 2, *src.shape[-2:])
            warped = src
        else:
            warped = backward_warp(src, init)
        feat = self.trunk(torch.cat((warped, ref, init), dim=1))
        head = self.fine_head if (finest and self.fine_head is not None) else self.head
        return init + self.config.head_scale * head(feat)

    def forward(self, frame0: Tensor, frame1: Tensor) -> FlowPyramid:
        """Estimate ``flow_0to1`` and ``flow_1to0`` at every pyramid level.

        Args:
            frame0: ``(B, in_channels, h, w)`` first frame (``LR_{t-1}``), ``h`` and ``w``
                multiples of :attr:`size_multiple`.
            frame1: ``(B, in_channels, h, w)`` second frame (``LR_{t+1}``).

        Returns:
            A :class:`~stvsr_blocks.interfaces.FlowPyramid` with ``levels`` coarse to fine at
            ``(h/2**(L-1), w/2**(L-1))``, ..., ``(h, w)``, each ``(flow_0to1, flow_1to0)`` of shape
            ``(B, 2, h_l, w_l)`` in pixels of that level.

        Raises:
            TypeError: if a frame is not a floating tensor.
            ValueError: if a frame is not ``(B, in_channels, h, w)``, the frames differ in shape,
                or ``h``/``w`` are not multiples of :attr:`size_multiple`.

        Example:
            >>> net = OFRFlowNet(OFRConfig(channels=8, n_resb=1, zero_init_heads=True))
            >>> pyr = net(torch.rand(1, 3, 8, 12), torch.rand(1, 3, 8, 12))
            >>> tuple(pyr.flow_1to0.shape), pyr.flow_0to1.abs().max().item()
            ((1, 2, 8, 12), 0.0)
        """
        cin = self.config.in_channels
        check_shape(frame0, ["B", cin, "H", "W"], "frame0")
        check_shape(frame1, ["B", cin, "H", "W"], "frame1")
        check_same_shape(frame0, frame1, "frame0", "frame1")
        check_multiple(frame0, self.size_multiple, "frame0")
        src = torch.cat((frame0, frame1), dim=0)  # warped onto ...
        ref = torch.cat((frame1, frame0), dim=0)  # ... this grid: first half 0->1, second half 1->0
        n_levels = self.config.levels
        flow: Tensor | None = None
        levels: list[tuple[Tensor, Tensor]] = []
        for lvl in range(n_levels):
            k = 2 ** (n_levels - 1 - lvl)
            src_l = F.avg_pool2d(src, k) if k > 1 else src
            ref_l = F.avg_pool2d(ref, k) if k > 1 else ref
            init = None if flow is None else resize_flow(flow, scale=2)
            flow = self._level(src_l, ref_l, init, finest=lvl == n_levels - 1)
            f01, f10 = rearrange(flow, "(d b) c h w -> d b c h w", d=2).unbind(0)
            levels.append((f01, f10))
        f01, f10 = levels[-1]
        return FlowPyramid(f01, f10, tuple(levels))
