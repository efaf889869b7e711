r"""PAC flow refiner: the MBnet HR flow refinement net ``NET_re`` (paper Sec. 3.2, Fig. 4; SPEC §2).

A pacnet ``PacJointUpsample``-style network with factor $F = s = 2^n$ that upsamples the two LR
mid flows jointly, guided by the two HR frames:

- **encoder** (LR) on the 4-channel input $s\,[F_{0\to t}, F_{1\to t}]$ (flows in HR pixels):
  conv(4→C)–ReLU–conv(C→C)–ReLU–conv(C→C);
- **guidance branch** (HR) on ``cat(guide0, guide1)`` (6 channels):
  conv(6→C)–ReLU–conv(C→C)–ReLU–conv(C→k_ch·n);
- **decoder**: n × [``PacConvTranspose2d``(C→C, k, stride 2, output_padding 1) + ReLU], step $i$
  guided by channels ``[k_ch·i, k_ch·(i+1))`` of the guidance, bilinearly resized to that step's
  output size ($2^{i+1} h \times 2^{i+1} w$);
- **head**: conv(C→C)–ReLU–conv(C→4);
- **residual**: $\text{out} = \text{resize\_flow}(F_{lr}, s) + \text{net}(\ldots)$.

All kernels are $k \times k$ with "same" padding. With the defaults ($s = 4$, $C = 32$, $k = 5$,
``k_ch = 16``) the net has **190,692** parameters, as in SPEC §2/§7 (pacnet's ×4 joint upsampler
has 183,489 with a 1-channel target and a 3-channel guide; the 4-channel flow input/output and the
6-channel guide add $3 \cdot 32 \cdot 25 + 3 \cdot 32 \cdot 25 + 32 \cdot 3 \cdot 25 + 3 = 7{,}203$).
Unlike pacnet the channels are processed jointly (not folded into the batch) and the input is not
min-max normalised (ambiguity A12); ``normalize_kernel`` defaults to ``False``.

With ``zero_init_last=True`` (default) the last convolution starts at zero, so an untrained
refiner is exactly bilinear flow upsampling (:class:`~stvsr_blocks.baselines.UpsampleFlowRefiner`)
and training starts from that baseline. The other parameters then receive zero gradients on the
first step only (they are reached once the last layer moves), as with zero-initialised residual
branches.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stvsr_blocks._check import check_positive_int, check_same_shape, check_shape
from stvsr_blocks.flow.pac import PacConvTranspose2d
from stvsr_blocks.interfaces import FlowRefiner, MidFlows
from stvsr_blocks.ops.flow import resize_flow

__all__ = ["PACRefinerConfig", "PACFlowRefiner"]


@dataclass(frozen=True)
class PACRefinerConfig:
    """Hyper-parameters of :class:`PACFlowRefiner` (defaults: SPEC §2 ``NET_re``).

    Args:
        scale: spatial factor between LR and HR flows; a power of two ``>= 2`` (``n = log2(scale)``
            up-steps).
        channels: width ``C`` of the encoder, decoder and head.
        kernel_size: odd kernel size of every convolution.
        guide_channels: guidance channels per up-step (pacnet ``k_ch``).
        normalize_kernel: normalise the PAC kernels over valid taps (SPEC A12: ``False``).
        zero_init_last: zero the last convolution so that the refiner starts as bilinear upsampling.

    Raises:
        TypeError: if a field has the wrong type.
        ValueError: if ``scale`` is not a power of two ``>= 2``, a size is not positive or
            ``kernel_size`` is even.

    Example:
        >>> PACRefinerConfig(scale=8).num_steps
        3
    """

    scale: int = 4
    channels: int = 32
    kernel_size: int = 5
    guide_channels: int = 16
    normalize_kernel: bool = False
    zero_init_last: bool = True

    def __post_init__(self) -> None:
        check_positive_int(self.scale, "scale")
        if self.scale < 2 or self.scale & (self.scale - 1):
            raise ValueError(f"scale: expected a power of two >= 2, got {self.scale}")
        check_positive_int(self.channels, "channels")
        check_positive_int(self.kernel_size, "kernel_size")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size: expected an odd size, got {self.kernel_size}")
        check_positive_int(self.guide_channels, "guide_channels")
        for name in ("normalize_kernel", "zero_init_last"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name}: expected a bool, got {type(getattr(self, name)).__name__}")

    @property
    def num_steps(self) -> int:
        """Number ``n = log2(scale)`` of ×2 up-steps."""
        return self.scale.bit_length() - 1


def _conv(c_in: int, c_out: int, k: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, k, padding=k // 2)


class PACFlowRefiner(FlowRefiner):
    """``NET_re``: guided joint upsampling of the two LR mid flows with PAC (see module docs).

    Args:
        config: hyper-parameters; defaults to :class:`PACRefinerConfig` ``()`` (×4, 190,692 params).

    Raises:
        TypeError: if ``config`` is not a :class:`PACRefinerConfig`.

    Example:
        >>> ref = PACFlowRefiner()
        >>> f = torch.randn(1, 2, 4, 4)
        >>> out = ref(MidFlows(f, -f), torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16))
        >>> out.flow_0tot.shape, torch.equal(out.flow_0tot, resize_flow(f, scale=4))
        (torch.Size([1, 2, 16, 16]), True)
    """

    #: LR flows of any size are accepted (the transposed convolutions give exact ×2 steps).
    size_multiple: int = 1

    def __init__(self, config: PACRefinerConfig | None = None) -> None:
        super().__init__()
        if config is None:
            config = PACRefinerConfig()
        if not isinstance(config, PACRefinerConfig):
            raise TypeError(f"config: expected a PACRefinerConfig, got {type(config).__name__}")
        self.config = config
        self.scale = config.scale
        c, k, n = config.channels, config.kernel_size, config.num_steps
        def relu() -> nn.ReLU:  # in place: every activation follows a conv whose output no one else reads
            return nn.ReLU(inplace=True)

        self.encoder = nn.Sequential(_conv(4, c, k), relu(), _conv(c, c, k), relu(), _conv(c, c, k))
        self.guidance = nn.Sequential(
            _conv(6, c, k), relu(), _conv(c, c, k), relu(), _conv(c, config.guide_channels * n, k)
        )
        self.up = nn.ModuleList(
            PacConvTranspose2d(
                c, c, k, stride=2, padding=k // 2, output_padding=1, normalize_kernel=config.normalize_kernel
            )
            for _ in range(n)
        )
        self.head = nn.Sequential(_conv(c, c, k), relu(), _conv(c, 4, k))
        if config.zero_init_last:
            last = self.head[-1]
            assert isinstance(last, nn.Conv2d)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def forward(self, flows: MidFlows, guide0: Tensor, guide1: Tensor) -> MidFlows:
        """Upsample and refine the mid flows.

        Args:
            flows: LR mid flows, both ``(B, 2, h, w)`` in LR pixels.
            guide0: ``(B, 3, s*h, s*w)`` HR frame 0 (``SR_{t-1}``).
            guide1: ``(B, 3, s*h, s*w)`` HR frame 1 (``SR_{t+1}``).

        Returns:
            HR mid flows ``(B, 2, s*h, s*w)`` in HR pixels.

        Raises:
            TypeError: if ``flows`` is not a :class:`~stvsr_blocks.interfaces.MidFlows` or a tensor
                is not floating point.
            ValueError: on wrong or mismatched shapes.
        """
        if not isinstance(flows, MidFlows):
            raise TypeError(f"flows: expected MidFlows, got {type(flows).__name__}")
        f0 = check_shape(flows.flow_0tot, ["B", 2, "h", "w"], "flows.flow_0tot")
        f1 = check_shape(flows.flow_1tot, ["B", 2, "h", "w"], "flows.flow_1tot")
        check_same_shape(f0, f1, "flows.flow_0tot", "flows.flow_1tot")
        b, _, h, w = f0.shape
        s = self.scale
        check_shape(guide0, [b, 3, s * h, s * w], "guide0")
        check_shape(guide1, [b, 3, s * h, s * w], "guide1")

        flow_lr = torch.cat((f0, f1), dim=1)
        base = torch.cat((resize_flow(f0, scale=s), resize_flow(f1, scale=s)), dim=1)
        guide = self.guidance(torch.cat((guide0, guide1), dim=1))
        feat = self.encoder(flow_lr * s)
        kc = self.config.guide_channels
        for i, up in enumerate(self.up):
            size = (h * 2 ** (i + 1), w * 2 ** (i + 1))
            g = guide[:, kc * i : kc * (i + 1)]
            if g.shape[-2:] != size:
                g = F.interpolate(g, size=size, mode="bilinear", align_corners=False)
            feat = F.relu_(up(feat, g))
        out = base + self.head(feat)
        return MidFlows(out[:, :2], out[:, 2:])

    def extra_repr(self) -> str:
        """The configuration, for ``repr``.

        Returns:
            A one-line summary.
        """
        return ", ".join(f"{k}={v}" for k, v in asdict(self.config).items())
