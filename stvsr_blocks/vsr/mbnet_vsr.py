r"""MBnet's VSR net ``NET_SR`` (paper Eq. 5, SPEC §3): one RDN super-resolving both frames jointly.

The LR-resolution input concatenates, in this order (channel counts for RGB, scale ``s``):

1. ``[lr0, lr1]`` (6)
2. ``s2d([sr_prev0, sr_prev1])`` (``6 s²``, 96 for ``s = 4``)
3. ``[lr_warped0, lr_warped1]`` (6)
4. ``s2d([feedback0, feedback1])`` (``6 s²``)

i.e. ``12 (1 + s²)`` = 204 channels at ``s = 4``. The RDN outputs 6 channels at ``s·h × s·w``:
``sr0`` is the first 3, ``sr1`` the last 3. The exposed ``feature`` is the SFENet2 output
(the paper's "second convolution layer"), ``(B, G0, h, w)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from stvsr_blocks._check import check_positive_int, check_shape
from stvsr_blocks.baselines import upsample
from stvsr_blocks.interfaces import VSRInput, VSRNet, VSROutput
from stvsr_blocks.ops.shuffle import space_to_depth
from stvsr_blocks.vsr.rdn import RDN

__all__ = ["RDNVSRConfig", "RDNVSRNet"]

_LR_FIELDS = ("lr1", "lr_warped0", "lr_warped1")
_HR_FIELDS = ("sr_prev0", "sr_prev1", "feedback0", "feedback1")


@dataclass(frozen=True)
class RDNVSRConfig:
    """Hyper-parameters of :class:`RDNVSRNet`.

    Attributes:
        D: residual dense blocks (8 in the paper's baseline, 16 for the ~30M model).
        C: dense layers per block.
        G0: feature width; also the channel count of the exposed feature.
        G: growth rate.
        scale: spatial upscaling factor (1, 2, 3 or 4).
        residual: add the ``residual_mode`` upsampled LR frame to each output (SPEC A11: off).
        residual_mode: ``"bicubic"`` or ``"bilinear"`` (``align_corners=False``, not clamped).

    Raises:
        TypeError: if an integer field is not an int or ``residual`` is not a bool.
        ValueError: if a field is out of range or ``residual_mode`` is unknown.

    Example:
        >>> RDNVSRConfig(D=1, C=1).in_channels
        204
    """

    D: int = 8
    C: int = 8
    G0: int = 64
    G: int = 64
    scale: int = 4
    residual: bool = False
    residual_mode: Literal["bicubic", "bilinear"] = "bicubic"

    def __post_init__(self) -> None:
        for name in ("D", "C", "G0", "G", "scale"):
            check_positive_int(getattr(self, name), name)
        if self.scale not in (1, 2, 3, 4):
            raise ValueError(f"scale: expected 1, 2, 3 or 4, got {self.scale}")
        if not isinstance(self.residual, bool):
            raise TypeError(f"residual: expected a bool, got {type(self.residual).__name__}")
        if self.residual_mode not in ("bicubic", "bilinear"):
            raise ValueError(f"residual_mode: expected 'bicubic' or 'bilinear', got {self.residual_mode!r}")

    @property
    def in_channels(self) -> int:
        """Input channels of the RDN: ``12 (1 + scale²)`` (204 for ``scale = 4``).

        Example:
            >>> RDNVSRConfig(scale=2).in_channels
            60
        """
        return 12 * (1 + self.scale * self.scale)


class RDNVSRNet(VSRNet):
    """MBnet ``NET_SR``: a single RDN over the stacked inputs of both frames (see module docstring).

    Parameter counts (``scale = 4``): D8C8 11,439,494 (paper baseline), D8C4 3,638,662,
    D16C8 22,388,614.

    Args:
        config: hyper-parameters; ``None`` uses :class:`RDNVSRConfig` defaults (D8 C8 G64, ×4).

    Raises:
        TypeError: if ``config`` is not an :class:`RDNVSRConfig`.

    Example:
        >>> from stvsr_blocks.testing import make_vsr_input
        >>> net = RDNVSRNet(RDNVSRConfig(D=1, C=1, G0=4, G=4, scale=2))
        >>> out = net(make_vsr_input(1, (4, 4), scale=2))
        >>> tuple(out.sr0.shape), tuple(out.feature.shape)
        ((1, 3, 8, 8), (1, 4, 4, 4))
    """

    def __init__(self, config: RDNVSRConfig | None = None) -> None:
        super().__init__()
        if config is None:
            config = RDNVSRConfig()
        if not isinstance(config, RDNVSRConfig):
            raise TypeError(f"config: expected an RDNVSRConfig, got {type(config).__name__}")
        self.config = config
        self.scale = config.scale
        self.feature_channels = config.G0
        self.rdn = RDN(config.in_channels, 6, scale=config.scale, D=config.D, C=config.C, G0=config.G0, G=config.G)

    def _validate(self, inputs: VSRInput) -> None:
        if not isinstance(inputs, VSRInput):
            raise TypeError(f"inputs: expected a VSRInput, got {type(inputs).__name__}")
        lr0 = check_shape(inputs.lr0, ["B", 3, "h", "w"], "inputs.lr0")
        b, _, h, w = lr0.shape
        s = self.scale
        expected = {**dict.fromkeys(_LR_FIELDS, (b, 3, h, w)), **dict.fromkeys(_HR_FIELDS, (b, 3, s * h, s * w))}
        for name, shape in expected.items():
            x = check_shape(getattr(inputs, name), ["B", 3, "H", "W"], f"inputs.{name}")
            if tuple(x.shape) != shape:
                raise ValueError(
                    f"inputs.{name}: expected shape {shape} (lr0 is {tuple(lr0.shape)}, scale {s}), "
                    f"got {tuple(x.shape)}"
                )

    def stack_inputs(self, inputs: VSRInput) -> Tensor:
        """Build the RDN input: ``[lr pair, s2d(sr_prev pair), warped lr pair, s2d(feedback pair)]``.

        Args:
            inputs: the per-iteration inputs (``lr*``/``lr_warped*`` ``(B, 3, h, w)``, the others
                ``(B, 3, s·h, s·w)``).

        Returns:
            ``(B, 12 (1 + s²), h, w)`` tensor (204 channels for ``s = 4``).

        Raises:
            TypeError: if ``inputs`` is not a :class:`~stvsr_blocks.interfaces.VSRInput` or a field
                is not a floating tensor.
            ValueError: if a field has the wrong shape (the message names the field).

        Example:
            >>> from stvsr_blocks.testing import make_vsr_input
            >>> net = RDNVSRNet(RDNVSRConfig(D=1, C=1, G0=4, G=4))
            >>> net.stack_inputs(make_vsr_input(1, (4, 4))).shape
            torch.Size([1, 204, 4, 4])
        """
        self._validate(inputs)
        s = self.scale
        return torch.cat(
            (
                inputs.lr0,
                inputs.lr1,
                space_to_depth(torch.cat((inputs.sr_prev0, inputs.sr_prev1), dim=1), s),
                inputs.lr_warped0,
                inputs.lr_warped1,
                space_to_depth(torch.cat((inputs.feedback0, inputs.feedback1), dim=1), s),
            ),
            dim=1,
        )

    def forward(self, inputs: VSRInput) -> VSROutput:
        """Super-resolve both frames.

        Args:
            inputs: the per-iteration inputs; ``flows`` and ``iteration`` are not used.

        Returns:
            ``VSROutput(sr0, sr1, feature)`` with ``sr0``/``sr1`` ``(B, 3, s·h, s·w)`` and
            ``feature`` the SFENet2 output ``(B, G0, h, w)``.

        Raises:
            TypeError: if ``inputs`` is not a :class:`~stvsr_blocks.interfaces.VSRInput` or a field
                is not a floating tensor.
            ValueError: if a field has the wrong shape (the message names the field).

        Example:
            >>> from stvsr_blocks.testing import make_vsr_input
            >>> net = RDNVSRNet(RDNVSRConfig(D=1, C=1, G0=4, G=4, scale=4, residual=True))
            >>> out = net(make_vsr_input(2, (3, 5), scale=4))
            >>> tuple(out.sr1.shape), tuple(out.feature.shape)
            ((2, 3, 12, 20), (2, 4, 3, 5))
        """
        out, feature = self.rdn.forward_with_feature(self.stack_inputs(inputs))
        sr0, sr1 = out.chunk(2, dim=1)
        if self.config.residual:
            mode = self.config.residual_mode
            sr0 = sr0 + upsample(inputs.lr0, self.scale, mode, clamp=False)
            sr1 = sr1 + upsample(inputs.lr1, self.scale, mode, clamp=False)
        return VSROutput(sr0, sr1, feature)
