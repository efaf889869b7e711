"""A tiny three-level U-Net frame-interpolation net: the ``NET_FI`` ablation of Table 1, row 8.

The paper replaces the GridNet of ``NET_FI`` by "a Unet of three layers" and reports a large
drop in VFI quality. :class:`UNetVFI` is that control: same inputs as
:class:`~stvsr_blocks.vfi.gridnet.GridNetVFI` (the two warped HR frames and an optional LR context
feature), a single input stream at HR and the feature concatenated at the bottom level
(HR/4 = LR for scale 4).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stvsr_blocks._check import check_bool
from stvsr_blocks.interfaces import VFIInput, VFINet
from stvsr_blocks.vfi.gridnet import Activation, _act, _check_activation, _check_vfi_input, _check_widths

__all__ = ["UNetVFIConfig", "UNetVFI"]


def _double_conv(cin: int, cout: int, act: str) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), _act(act, cout), nn.Conv2d(cout, cout, 3, padding=1), _act(act, cout)
    )


@dataclass(frozen=True)
class UNetVFIConfig:
    """Options of :class:`UNetVFI`.

    Attributes:
        widths: channels of the three levels (HR, HR/2, HR/4).
        feature_channels: channels of the LR context feature fed at the bottom level; ``0`` builds a
            net without feature input.
        scale: HR / LR ratio; only 4 is supported (the bottom level is at HR/4 = LR).
        activation: ``"relu"`` or ``"prelu"``.
        residual: add the time-weighted blend ``(1 - t) warped0 + t warped1`` to the output (the mean at ``t = 0.5``).

    Raises:
        TypeError: if a field has the wrong type.
        ValueError: if a field has an invalid value.

    Example:
        >>> UNetVFIConfig().widths
        (32, 64, 96)
    """

    widths: tuple[int, ...] = (32, 64, 96)
    feature_channels: int = 64
    scale: int = 4
    activation: Activation = "relu"
    residual: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", _check_widths(self.widths, "widths", length=3))
        fc = self.feature_channels
        if isinstance(fc, bool) or not isinstance(fc, int):
            raise TypeError(f"feature_channels: expected a non-negative int, got {type(fc).__name__} {fc!r}")
        if fc < 0:
            raise ValueError(f"feature_channels: expected a non-negative int, got {fc}")
        if isinstance(self.scale, bool) or not isinstance(self.scale, int):
            raise TypeError(f"scale: expected the int 4, got {type(self.scale).__name__} {self.scale!r}")
        if self.scale != 4:
            raise ValueError(f"scale: UNetVFI supports only scale=4 (bottom level at HR/4 = LR), got {self.scale}")
        _check_activation(self.activation)
        check_bool(self.residual, "residual")


class UNetVFI(VFINet):
    """Three-level U-Net VFI (Table 1 row 8 ablation): encoder, bottom with the feature, decoder.

    - level 0 (HR): ``[warped0, warped1]`` -> double conv (``widths[0]``);
    - level 1 (HR/2): average-pool -> double conv (``widths[1]``);
    - level 2 (HR/4): average-pool, concatenate the LR ``feature`` -> double conv (``widths[2]``);
    - decoder: bilinear x2, concatenate the encoder skip, double conv, twice; conv3x3 -> 3 channels.

    Every "double conv" is ``conv3x3 -> act -> conv3x3 -> act`` with biases. ``feature=None`` is
    treated as zeros; ``feature_channels=0`` builds a net that ignores ``inputs.feature``.

    Args:
        config: the options; ``None`` uses :class:`UNetVFIConfig` defaults.

    Raises:
        TypeError: if ``config`` is not a :class:`UNetVFIConfig`.

    Example:
        >>> from stvsr_blocks.interfaces import MidFlows, VFIInput
        >>> net = UNetVFI(UNetVFIConfig(widths=(4, 6, 8), feature_channels=5))
        >>> a, z = torch.rand(1, 3, 16, 16), torch.zeros(1, 2, 16, 16)
        >>> net(VFIInput(a, a, a, a, MidFlows(z, z), None)).shape
        torch.Size([1, 3, 16, 16])
    """

    #: HR inputs must be multiples of 4 (the HR/4 level).
    size_multiple: int = 4

    def __init__(self, config: UNetVFIConfig | None = None) -> None:
        super().__init__()
        if config is None:
            config = UNetVFIConfig()
        if not isinstance(config, UNetVFIConfig):
            raise TypeError(f"config: expected a UNetVFIConfig or None, got {type(config).__name__}")
        self.config = config
        self.scale = config.scale
        self.feature_channels = config.feature_channels
        w0, w1, w2 = config.widths
        act = config.activation
        self.enc0 = _double_conv(6, w0, act)
        self.enc1 = _double_conv(w0, w1, act)
        self.bottom = _double_conv(w1 + config.feature_channels, w2, act)
        self.dec1 = _double_conv(w2 + w1, w1, act)
        self.dec0 = _double_conv(w1 + w0, w0, act)
        self.out = nn.Conv2d(w0, 3, 3, padding=1)

    def forward(self, inputs: VFIInput) -> Tensor:
        """Synthesise the HR middle frame.

        Args:
            inputs: ``warped0``/``warped1`` ``(B, 3, H, W)`` with ``H, W`` multiples of 4 and
                ``feature`` ``(B, feature_channels, H/4, W/4)`` or ``None``; other fields unused.

        Returns:
            ``(B, 3, H, W)`` the frame at time ``t``.

        Raises:
            TypeError: if ``inputs`` is not a :class:`VFIInput` or holds non-float tensors.
            ValueError: on mismatched shapes or sizes not divisible by 4.
        """
        w0, w1, feat = _check_vfi_input(
            inputs, feature_channels=self.feature_channels, scale=self.scale, size_multiple=self.size_multiple
        )
        e0 = self.enc0(torch.cat([w0, w1], dim=1))
        e1 = self.enc1(F.avg_pool2d(e0, 2))
        x = F.avg_pool2d(e1, 2)
        if feat is not None:
            x = torch.cat([x, feat], dim=1)
        b = self.bottom(x)
        d1 = self.dec1(torch.cat([_up2(b), e1], dim=1))
        d0 = self.dec0(torch.cat([_up2(d1), e0], dim=1))
        out = self.out(d0)
        if self.config.residual:
            out = out + inputs.blend()
        return out


def _up2(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
