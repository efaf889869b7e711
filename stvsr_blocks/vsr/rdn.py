r"""Residual dense blocks and the Residual Dense Network (Zhang et al., CVPR 2018), SPEC §3.

Notation follows the RDN paper: ``D`` residual dense blocks, ``C`` conv layers per block,
``G0`` feature width between blocks, ``G`` growth rate inside a block.

- SFENet1 conv3×3(``in`` → G0) → SFENet2 conv3×3(G0 → G0).
- ``D`` × :class:`RDB`; their outputs are concatenated and fused by GFF:
  conv1×1(D·G0 → G0) → conv3×3(G0 → G0), plus the SFENet1 output (global residual).
- Upsampler: ×4: conv(G0 → 4G), PS2, conv(G → 4G), PS2, conv(G → out);
  ×2/×3: conv(G0 → G·r²), PSr, conv(G → out); ×1: conv(G0 → out). All 3×3.

All convolutions have a bias; there is no activation outside the RDBs. One RDB has
$\sum_{c<C}\big(9(G_0 + cG)G + G\big) + (G_0 + CG)G_0 + G_0$ parameters; the standard RGB ×4
RDN (D16 C8 G64) has 22,271,107.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from stvsr_blocks._check import check_positive_int, check_shape

__all__ = ["RDB", "RDN"]


def _conv3x3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


class RDB(nn.Module):
    """Residual dense block: ``C`` densely connected conv3×3 + ReLU layers, 1×1 local fusion, local residual.

    Layer ``c`` maps the concatenation of the block input and all previous layer outputs
    (``G0 + c·G`` channels) to ``G`` channels; LFF conv1×1(``G0 + C·G`` → ``G0``) fuses them and
    the block input is added back.

    Args:
        G0: input/output channels.
        G: growth rate (channels added by each layer).
        C: number of dense layers.

    Raises:
        TypeError: if an argument is not an int.
        ValueError: if an argument is < 1.

    Shape:
        - input: $(B, G_0, H, W)$
        - output: $(B, G_0, H, W)$

    Example:
        >>> blk = RDB(G0=8, G=4, C=2)
        >>> blk(torch.rand(1, 8, 5, 5)).shape
        torch.Size([1, 8, 5, 5])
    """

    def __init__(self, G0: int = 64, G: int = 64, C: int = 8) -> None:
        super().__init__()
        for name, v in (("G0", G0), ("G", G), ("C", C)):
            check_positive_int(v, name)
        self.G0 = G0
        self.layers = nn.ModuleList(
            nn.Sequential(_conv3x3(G0 + c * G, G), nn.ReLU(inplace=True)) for c in range(C)
        )
        self.lff = nn.Conv2d(G0 + C * G, G0, 1)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block.

        Args:
            x: ``(B, G0, H, W)`` features.

        Returns:
            ``(B, G0, H, W)`` features.

        Raises:
            TypeError: if ``x`` is not a floating tensor.
            ValueError: if ``x`` is not ``(B, G0, H, W)``.

        Example:
            >>> RDB(G0=4, G=2, C=1)(torch.rand(2, 4, 3, 3)).shape
            torch.Size([2, 4, 3, 3])
        """
        check_shape(x, ["B", self.G0, "H", "W"], "x")
        feats = [x]
        for layer in self.layers:
            feats.append(layer(torch.cat(feats, dim=1)))
        return x + self.lff(torch.cat(feats, dim=1))


class RDN(nn.Module):
    """Residual Dense Network with a sub-pixel upsampler (module docstring gives the structure).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        scale: upscaling factor, one of 1, 2, 3, 4 (1: a single conv3×3(G0 → out), no upsampling).
        D: number of residual dense blocks.
        C: dense layers per block.
        G0: feature width between blocks (output width of SFENet1/SFENet2, the "feature").
        G: growth rate inside the blocks (and width of the upsampler).

    Raises:
        TypeError: if an argument is not an int.
        ValueError: if an argument is < 1 or ``scale`` is not 1, 2, 3 or 4.

    Shape:
        - input: $(B, C_{in}, H, W)$
        - output: $(B, C_{out}, sH, sW)$

    Example:
        >>> net = RDN(3, 3, scale=2, D=1, C=1, G0=4, G=4)
        >>> net(torch.rand(1, 3, 5, 5)).shape
        torch.Size([1, 3, 10, 10])
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        *,
        scale: int = 4,
        D: int = 16,
        C: int = 8,
        G0: int = 64,
        G: int = 64,
    ) -> None:
        super().__init__()
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels), ("scale", scale),
                        ("D", D), ("C", C), ("G0", G0), ("G", G)):
            check_positive_int(v, name)
        if scale not in (1, 2, 3, 4):
            raise ValueError(f"scale: expected 1, 2, 3 or 4, got {scale}")
        self.in_channels, self.out_channels, self.scale = in_channels, out_channels, scale
        self.sfe1 = _conv3x3(in_channels, G0)
        self.sfe2 = _conv3x3(G0, G0)
        self.blocks = nn.ModuleList(RDB(G0, G, C) for _ in range(D))
        self.gff = nn.Sequential(nn.Conv2d(D * G0, G0, 1), _conv3x3(G0, G0))
        if scale == 1:
            self.upsample = _conv3x3(G0, out_channels)
        elif scale == 4:
            self.upsample = nn.Sequential(
                _conv3x3(G0, 4 * G), nn.PixelShuffle(2), _conv3x3(G, 4 * G), nn.PixelShuffle(2),
                _conv3x3(G, out_channels),
            )
        else:
            self.upsample = nn.Sequential(
                _conv3x3(G0, G * scale * scale), nn.PixelShuffle(scale), _conv3x3(G, out_channels)
            )

    def forward_with_feature(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Run the network and also return the SFENet2 output (the "second convolution layer").

        Args:
            x: ``(B, in_channels, H, W)`` input.

        Returns:
            ``(output, feature)``: ``(B, out_channels, sH, sW)`` and ``(B, G0, H, W)``.

        Raises:
            TypeError: if ``x`` is not a floating tensor.
            ValueError: if ``x`` is not ``(B, in_channels, H, W)``.

        Example:
            >>> net = RDN(3, 3, scale=2, D=1, C=1, G0=4, G=4)
            >>> out, feat = net.forward_with_feature(torch.rand(1, 3, 5, 5))
            >>> tuple(out.shape), tuple(feat.shape)
            ((1, 3, 10, 10), (1, 4, 5, 5))
        """
        check_shape(x, ["B", self.in_channels, "H", "W"], "x")
        f1 = self.sfe1(x)
        feat = self.sfe2(f1)
        h = feat
        outs = []
        for block in self.blocks:
            h = block(h)
            outs.append(h)
        h = self.gff(torch.cat(outs, dim=1)) + f1
        return self.upsample(h), feat

    def forward(self, x: Tensor) -> Tensor:
        """Super-resolve ``x``.

        Args:
            x: ``(B, in_channels, H, W)`` input.

        Returns:
            ``(B, out_channels, scale*H, scale*W)`` output.

        Raises:
            TypeError: if ``x`` is not a floating tensor.
            ValueError: if ``x`` is not ``(B, in_channels, H, W)``.

        Example:
            >>> RDN(1, 2, scale=3, D=1, C=1, G0=4, G=4)(torch.rand(1, 1, 2, 2)).shape
            torch.Size([1, 2, 6, 6])
        """
        return self.forward_with_feature(x)[0]
