"""Multi-scale GridNet and the MBnet HR frame-interpolation net ``NET_FI`` (paper Sec. 3.4, Fig. 5).

:class:`GridNet` is the generic residual grid of CtxSyn / softmax splatting: ``R`` rows at
resolutions ``1, 1/2, 1/4, ...`` with per-row widths, ``2k`` columns (``k`` downsampling columns
followed by ``k`` upsampling columns), nodes that sum their inputs and a lateral-type output head
on row 0. It takes one input per row, already projected to that row's width.

:class:`GridNetVFI` is MBnet's ``NET_FI``: it builds the three row inputs from the two warped HR
frames and the LR context feature of the VSR net (depth-to-space per row, SPEC A8), projects each
with an input head and runs a :class:`GridNet`.

Structural details (SPEC §4; the parameter counts there pin them down): every block is
pre-activation ``act -> conv3x3 -> act -> conv3x3``; all convolutions carry a bias; a block whose
input and output widths differ has a **3x3** convolutional skip (the SPEC's totals, 2,235,546
for the core grid and 2,517,210 for ``NET_FI`` at widths 32/64/96, are met exactly only with a
3x3 skip and biases; ``skip_kernel_size=1, bias=False, activation="prelu"`` gives a
softsplat-like grid instead).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stvsr_blocks._check import check_bool, check_multiple, check_positive_int, check_same_shape, check_shape
from stvsr_blocks.interfaces import VFIInput, VFINet
from stvsr_blocks.ops.shuffle import depth_to_space

__all__ = ["GridNet", "GridNetVFIConfig", "GridNetVFI"]

Activation = Literal["relu", "prelu"]
_ACTIVATIONS = ("relu", "prelu")


# ----------------------------------------------------------------------------------------------
# validation helpers (shared with stvsr_blocks.vfi.unet)
# ----------------------------------------------------------------------------------------------


def _check_activation(value: object, name: str = "activation") -> str:
    if value not in _ACTIVATIONS:
        raise ValueError(f"{name}: expected one of {_ACTIVATIONS}, got {value!r}")
    return str(value)


def _check_widths(value: object, name: str = "widths", *, length: int | None = None) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{name}: expected a sequence of positive ints, got {type(value).__name__}")
    widths = tuple(check_positive_int(v, f"{name}[{i}]") for i, v in enumerate(value))
    if not widths:
        raise ValueError(f"{name}: expected at least one width, got an empty sequence")
    if length is not None and len(widths) != length:
        raise ValueError(f"{name}: expected {length} widths (one per row), got {len(widths)}: {widths}")
    return widths


def _check_columns(value: object) -> int:
    columns = check_positive_int(value, "columns")
    if columns % 2:
        raise ValueError(f"columns: expected a positive even number (half down, half up), got {columns}")
    return columns


def _check_skip_kernel(value: object) -> int:
    k = check_positive_int(value, "skip_kernel_size")
    if k % 2 == 0:
        raise ValueError(f"skip_kernel_size: expected an odd kernel size, got {k}")
    return k


def _check_vfi_input(
    inputs: object, *, feature_channels: int, scale: int, size_multiple: int
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Validate a :class:`VFIInput` for a feature-fed VFI net.

    Returns ``(warped0, warped1, feature)``; ``feature`` is zeros when the net expects one and
    ``inputs.feature`` is ``None``, and ``None`` when the net takes no feature (``feature_channels=0``;
    a given feature is then ignored, as the :class:`VFINet` contract allows).
    """
    if not isinstance(inputs, VFIInput):
        raise TypeError(f"inputs: expected a stvsr_blocks.interfaces.VFIInput, got {type(inputs).__name__}")
    w0 = check_shape(inputs.warped0, ["B", 3, "H", "W"], "inputs.warped0")
    w1 = check_shape(inputs.warped1, ["B", 3, "H", "W"], "inputs.warped1")
    check_same_shape(w0, w1, "inputs.warped0", "inputs.warped1")
    check_multiple(w0, size_multiple, "inputs.warped0")
    if feature_channels == 0:
        return w0, w1, None
    b, _, h, w = w0.shape
    if inputs.feature is None:
        return w0, w1, w0.new_zeros(b, feature_channels, h // scale, w // scale)
    feat = check_shape(inputs.feature, [b, feature_channels, h // scale, w // scale], "inputs.feature")
    return w0, w1, feat


# ----------------------------------------------------------------------------------------------
# blocks
# ----------------------------------------------------------------------------------------------


def _act(kind: str, channels: int, inplace: bool = False) -> nn.Module:
    """ReLU or per-channel PReLU; ``inplace`` (ReLU only) where the input is a fresh tensor no one else reads."""
    return nn.ReLU(inplace=inplace) if kind == "relu" else nn.PReLU(num_parameters=channels, init=0.25)


def _conv(cin: int, cout: int, bias: bool, stride: int = 1, kernel: int = 3) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=bias)


class _Lateral(nn.Module):
    """``[act] -> conv3x3 -> act -> conv3x3`` plus identity (or conv) skip; keeps the resolution."""

    def __init__(self, cin: int, cout: int, act: str, bias: bool, skip_kernel: int, preactivation: bool = True):
        super().__init__()
        layers = [_act(act, cin)] if preactivation else []  # not in place: the skip reads x
        layers += [_conv(cin, cout, bias), _act(act, cout, inplace=True), _conv(cout, cout, bias)]
        self.body = nn.Sequential(*layers)
        self.skip = nn.Identity() if cin == cout else _conv(cin, cout, bias, kernel=skip_kernel)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x).add_(self.skip(x))  # the body's output is fresh (a conv's, not saved by autograd)


class _Down(nn.Module):
    """``act -> conv3x3 stride 2 -> act -> conv3x3``: row ``r`` to row ``r + 1`` (output ``ceil(H/2)``)."""

    def __init__(self, cin: int, cout: int, act: str, bias: bool):
        super().__init__()
        self.body = nn.Sequential(  # the first activation is not in place: the grid node x is read again
            _act(act, cin), _conv(cin, cout, bias, stride=2), _act(act, cout, inplace=True), _conv(cout, cout, bias)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class _Up(nn.Module):
    """``bilinear x2 -> act -> conv3x3 -> act -> conv3x3``: row ``r + 1`` to row ``r``."""

    def __init__(self, cin: int, cout: int, act: str, bias: bool):
        super().__init__()
        # both activations in place: the first reads the freshly interpolated map
        self.body = nn.Sequential(
            _act(act, cin, inplace=True), _conv(cin, cout, bias), _act(act, cout, inplace=True), _conv(cout, cout, bias)
        )

    def forward(self, x: Tensor) -> Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        return self.body(x)


def _fit(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Crop (bottom/right) or replicate-pad ``x`` by at most one pixel per side to ``size``."""
    h, w = size
    if x.shape[-2] > h or x.shape[-1] > w:
        x = x[..., :h, :w]
    dh, dw = h - x.shape[-2], w - x.shape[-1]
    if dh or dw:
        x = F.pad(x, (0, dw, 0, dh), mode="replicate")
    return x


# ----------------------------------------------------------------------------------------------
# GridNet
# ----------------------------------------------------------------------------------------------


class GridNet(nn.Module):
    r"""Residual grid network with ``len(widths)`` rows and ``columns`` columns (CtxSyn / softsplat).

    Row ``r`` works at ``1/2^r`` of row 0's resolution with ``widths[r]`` channels. Between adjacent
    columns every row has a lateral block (``act-conv-act-conv`` + skip). Columns
    ``0 .. columns/2 - 1`` also hold downsampling blocks (row ``r`` to ``r+1``, stride-2 conv) and are
    evaluated top to bottom; columns ``columns/2 .. columns - 1`` hold upsampling blocks (row ``r+1``
    to ``r``, bilinear x2) and are evaluated bottom to top. Every node sums its inputs:

    - column 0: $n_{r,0} = x_r + \mathrm{down}(n_{r-1,0})$ (the per-row inputs ``rows[r]``);
    - down columns: $n_{r,c} = \mathrm{lat}(n_{r,c-1}) + \mathrm{down}(n_{r-1,c})$;
    - up columns: $n_{r,c} = \mathrm{lat}(n_{r,c-1}) + \mathrm{up}(n_{r+1,c})$.

    The output is a lateral-type head (``act-conv(w_0 -> out)-act-conv(out -> out)`` + conv skip)
    on the last node of row 0. When a row's size is odd the resampled map is cropped (or
    replicate-padded) by one pixel to the receiving row's size.

    Args:
        widths: channels per row, top (full resolution) first; default ``(32, 64, 96)``.
        out_channels: channels of the output.
        columns: number of columns, a positive even number (half down, half up); default 6.
        activation: ``"relu"`` (MBnet Fig. 5, SPEC A10) or ``"prelu"`` (per-channel, init 0.25, as
            softsplat).
        bias: give every convolution a bias (SPEC's parameter counts assume ``True``).
        skip_kernel_size: kernel size of the convolutional skip used where a lateral-type block
            changes the channel count (odd; 3 matches SPEC's counts, 1 is softsplat's choice).

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: if ``widths`` is empty, ``columns`` odd, ``activation`` unknown or
            ``skip_kernel_size`` even.

    Shape:
        - Input: ``rows[r]`` is ``(B, widths[r], H_r, W_r)`` with
          $H_r \in \{\lfloor H_{r-1}/2 \rfloor, \lceil H_{r-1}/2 \rceil\}$ (same for $W_r$).
        - Output: ``(B, out_channels, H_0, W_0)``.

    Example:
        >>> net = GridNet(widths=(4, 6, 8), out_channels=3)
        >>> rows = [torch.rand(1, 4, 8, 8), torch.rand(1, 6, 4, 4), torch.rand(1, 8, 2, 2)]
        >>> net(rows).shape
        torch.Size([1, 3, 8, 8])
    """

    def __init__(
        self,
        widths: Sequence[int] = (32, 64, 96),
        out_channels: int = 3,
        *,
        columns: int = 6,
        activation: Activation = "relu",
        bias: bool = True,
        skip_kernel_size: int = 3,
    ) -> None:
        super().__init__()
        self.widths = _check_widths(widths)
        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.columns = columns = _check_columns(columns)
        self.activation = _check_activation(activation)
        self.bias = check_bool(bias, "bias")
        self.skip_kernel_size = k = _check_skip_kernel(skip_kernel_size)
        half = columns // 2
        ws, act = self.widths, self.activation
        #: ``lateral[r][c]`` connects column ``c`` to ``c + 1`` in row ``r``.
        self.lateral = nn.ModuleList(
            nn.ModuleList(_Lateral(w, w, act, bias, k) for _ in range(columns - 1)) for w in ws
        )
        #: ``down[r][c]`` connects row ``r`` to ``r + 1`` in column ``c`` (``c < columns/2``).
        self.down = nn.ModuleList(
            nn.ModuleList(_Down(ws[r], ws[r + 1], act, bias) for _ in range(half)) for r in range(len(ws) - 1)
        )
        #: ``up[r][j]`` connects row ``r + 1`` to ``r`` in column ``columns/2 + j``.
        self.up = nn.ModuleList(
            nn.ModuleList(_Up(ws[r + 1], ws[r], act, bias) for _ in range(half)) for r in range(len(ws) - 1)
        )
        self.head = _Lateral(ws[0], self.out_channels, act, bias, k)

    def _check_rows(self, rows: object) -> list[Tensor]:
        if isinstance(rows, Tensor) or not isinstance(rows, Sequence):
            raise TypeError(f"rows: expected a sequence of {len(self.widths)} tensors, got {type(rows).__name__}")
        if len(rows) != len(self.widths):
            raise ValueError(f"rows: expected {len(self.widths)} tensors (one per row), got {len(rows)}")
        out = [check_shape(x, ["B", w, "H", "W"], f"rows[{r}]") for r, (x, w) in enumerate(zip(rows, self.widths))]
        for r in range(1, len(out)):
            check_same_shape(out[0], out[r], "rows[0]", f"rows[{r}]", dims=slice(0, 1))
            ph, pw = out[r - 1].shape[-2:]
            h, w = out[r].shape[-2:]
            if h not in (ph // 2, -(-ph // 2)) or w not in (pw // 2, -(-pw // 2)):
                raise ValueError(
                    f"rows[{r}]: spatial size must be half of rows[{r - 1}]'s {ph}x{pw} "
                    f"(floor or ceil: {ph // 2}..{-(-ph // 2)} x {pw // 2}..{-(-pw // 2)}), got {h}x{w}"
                )
        return out

    def forward(self, rows: Sequence[Tensor]) -> Tensor:
        """Run the grid.

        Args:
            rows: one input per row, ``rows[r]`` of shape ``(B, widths[r], H_r, W_r)``, each
                ``H_r, W_r`` half (floor or ceil) of the row above.

        Returns:
            ``(B, out_channels, H_0, W_0)``.

        Raises:
            TypeError: if ``rows`` is not a sequence of floating tensors.
            ValueError: on a wrong number of rows, channel count, batch size or row size.
        """
        xs = self._check_rows(rows)
        sizes = [tuple(x.shape[-2:]) for x in xs]
        n_rows, half = len(xs), self.columns // 2
        # column 0 (top to bottom): node = row input + down(node above)
        nodes: list[Tensor] = []
        for r in range(n_rows):
            node = xs[r] if r == 0 else xs[r] + _fit(self.down[r - 1][0](nodes[r - 1]), sizes[r])
            nodes.append(node)
        # remaining downsampling columns (top to bottom)
        for c in range(1, half):
            for r in range(n_rows):
                node = self.lateral[r][c - 1](nodes[r])
                if r > 0:  # in place: the lateral's output is fresh
                    node = node.add_(_fit(self.down[r - 1][c](nodes[r - 1]), sizes[r]))
                nodes[r] = node
        # upsampling columns (bottom to top); nodes[r + 1] already holds this column's value
        for j, c in enumerate(range(half, self.columns)):
            for r in reversed(range(n_rows)):
                node = self.lateral[r][c - 1](nodes[r])
                if r < n_rows - 1:
                    node = node.add_(_fit(self.up[r][j](nodes[r + 1]), sizes[r]))
                nodes[r] = node
        return self.head(nodes[0])


# ----------------------------------------------------------------------------------------------
# NET_FI
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GridNetVFIConfig:
    """Options of :class:`GridNetVFI` (MBnet ``NET_FI``); rebuilds the net from JSON via ``asdict``.

    Attributes:
        widths: channels of the three grid rows (HR, HR/2, HR/4). SPEC presets: ``(32, 64, 96)``
            (2,517,210 params), ``(48, 96, 144)`` (5,545,242), ``(56, 112, 168)`` (7,501,626),
            ``(64, 128, 192)`` (9,752,922).
        feature_channels: channels of the LR context feature (``VFIInput.feature``); must be a
            multiple of 16 (depth-to-space by 4 for row 0). ``0`` builds a net without feature inputs.
        scale: HR / LR ratio. Only 4 is supported (SPEC A9: with ``s = scale/2 = 2`` between rows the
            bottom row is at LR resolution only for scale 4).
        activation: ``"relu"`` (MBnet, SPEC A10) or ``"prelu"`` (softsplat).
        residual: add the time-weighted blend ``(1 - t) warped0 + t warped1`` of the two warped frames to the
            output (the mean at ``t = 0.5``; SPEC A11: off by default).
        time_input: append the time ``t`` as a constant channel to every row input, so one net serves any
            ``t`` (training on random times; off by default, which keeps the SPEC parameter counts).
        bias: convolutions with bias (SPEC counts assume ``True``).
        skip_kernel_size: kernel of the convolutional skip of channel-changing blocks (SPEC counts
            assume 3).
        columns: grid columns (even; 6 in the paper).

    Raises:
        TypeError: if a field has the wrong type.
        ValueError: if a field has an invalid value.

    Example:
        >>> GridNetVFIConfig(widths=(48, 96, 144)).feature_channels
        64
    """

    widths: tuple[int, ...] = (32, 64, 96)
    feature_channels: int = 64
    scale: int = 4
    activation: Activation = "relu"
    residual: bool = False
    time_input: bool = False
    bias: bool = True
    skip_kernel_size: int = 3
    columns: int = 6

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", _check_widths(self.widths, "widths", length=3))
        fc = self.feature_channels
        if isinstance(fc, bool) or not isinstance(fc, int):
            raise TypeError(f"feature_channels: expected a non-negative int, got {type(fc).__name__} {fc!r}")
        if fc < 0 or fc % 16:
            raise ValueError(
                f"feature_channels: expected 0 or a positive multiple of 16 (depth-to-space by 4 for the "
                f"HR row), got {fc}"
            )
        if check_positive_int(self.scale, "scale") != 4:
            raise ValueError(
                f"scale: GridNetVFI supports only scale=4 (rows at HR, HR/2, HR/4 = LR; SPEC A9), got {self.scale}"
            )
        _check_activation(self.activation)
        check_bool(self.residual, "residual")
        check_bool(self.time_input, "time_input")
        check_bool(self.bias, "bias")
        _check_skip_kernel(self.skip_kernel_size)
        _check_columns(self.columns)


class GridNetVFI(VFINet):
    r"""MBnet's HR frame-interpolation net ``NET_FI``: a 3x6 :class:`GridNet` with multi-scale inputs.

    With ``P = [warped0, warped1]`` (6 channels, HR) and the LR feature ``f`` (``F`` channels) the
    row inputs are (SPEC §4, A8):

    - row 0 (HR): $[P, \mathrm{d2s}_4(f)]$, ``6 + F/16`` channels;
    - row 1 (HR/2): $[\mathrm{avgpool}_2(P), \mathrm{d2s}_2(f)]$, ``6 + F/4`` channels;
    - row 2 (HR/4 = LR): $[\mathrm{avgpool}_4(P), f]$, ``6 + F`` channels.

    Each row input goes through an input head ``conv3x3 -> act -> conv3x3`` + 3x3 conv skip (no
    leading activation, so a signed feature is not clipped before the first convolution) to the
    row's width and enters column 0 of the grid, as in softsplat. The output is ``SR_t`` (3
    channels), optionally plus the mean of the two warped frames (``residual``). ``feature=None``
    is treated as zeros (the "no feature" ablation); a net built with ``feature_channels=0`` has no
    feature inputs and ignores ``inputs.feature``.

    Args:
        config: the options; ``None`` uses :class:`GridNetVFIConfig` defaults (2,517,210 params).

    Raises:
        TypeError: if ``config`` is not a :class:`GridNetVFIConfig`.

    Example:
        >>> from stvsr_blocks.interfaces import MidFlows, VFIInput
        >>> net = GridNetVFI(GridNetVFIConfig(widths=(4, 6, 8), feature_channels=16))
        >>> a, z = torch.rand(1, 3, 16, 16), torch.zeros(1, 2, 16, 16)
        >>> net(VFIInput(a, a, a, a, MidFlows(z, z), torch.rand(1, 16, 4, 4))).shape
        torch.Size([1, 3, 16, 16])
        >>> sum(p.numel() for p in GridNetVFI().parameters())
        2517210
    """

    #: HR inputs must be multiples of 4 (the HR/4 row).
    size_multiple: int = 4

    def __init__(self, config: GridNetVFIConfig | None = None) -> None:
        super().__init__()
        if config is None:
            config = GridNetVFIConfig()
        if not isinstance(config, GridNetVFIConfig):
            raise TypeError(f"config: expected a GridNetVFIConfig or None, got {type(config).__name__}")
        self.config = config
        self.scale = config.scale
        self.feature_channels = config.feature_channels
        fc = config.feature_channels
        extra = 1 if config.time_input else 0
        in_channels = (6 + fc // 16 + extra, 6 + fc // 4 + extra, 6 + fc + extra)
        act, bias, k = config.activation, config.bias, config.skip_kernel_size
        self.heads = nn.ModuleList(
            _Lateral(cin, w, act, bias, k, preactivation=False) for cin, w in zip(in_channels, config.widths)
        )
        self.grid = GridNet(config.widths, 3, columns=config.columns, activation=act, bias=bias, skip_kernel_size=k)

    def row_inputs(self, inputs: VFIInput) -> list[Tensor]:
        """Build the three raw row inputs (before the input heads) from ``inputs``.

        Args:
            inputs: the VFI inputs; see :meth:`forward`.

        Returns:
            ``[row0, row1, row2]`` of shapes ``(B, 6 + F/16, H, W)``, ``(B, 6 + F/4, H/2, W/2)``,
            ``(B, 6 + F, H/4, W/4)`` (``F = feature_channels``; one more channel each, the constant ``t``,
            with ``time_input``).

        Raises:
            TypeError: if ``inputs`` is not a :class:`VFIInput` or holds non-float tensors.
            ValueError: on mismatched shapes or sizes not divisible by 4.
        """
        w0, w1, feat = _check_vfi_input(
            inputs, feature_channels=self.feature_channels, scale=self.scale, size_multiple=self.size_multiple
        )
        pair = torch.cat([w0, w1], dim=1)
        rows = [[pair], [F.avg_pool2d(pair, 2)], [F.avg_pool2d(pair, 4)]]
        if feat is not None:
            rows[0].append(depth_to_space(feat, 4))
            rows[1].append(depth_to_space(feat, 2))
            rows[2].append(feat)
        if self.config.time_input:
            t = inputs.time()
            for r in rows:
                ref = r[0]
                r.append((t * ref.new_ones(ref.shape[0], 1, *ref.shape[-2:])).to(ref.dtype))
        return [torch.cat(r, dim=1) for r in rows]

    def forward(self, inputs: VFIInput) -> Tensor:
        """Synthesise the HR middle frame (paper Eq. 6).

        Args:
            inputs: ``warped0``/``warped1`` ``(B, 3, H, W)`` with ``H, W`` multiples of 4 and
                ``feature`` ``(B, feature_channels, H/4, W/4)`` or ``None``; ``t`` is used by the residual
                blend and ``time_input``; ``sr0``, ``sr1`` and ``flows`` are not used.

        Returns:
            ``(B, 3, H, W)`` the frame at time ``t``.

        Raises:
            TypeError: if ``inputs`` is not a :class:`VFIInput` or holds non-float tensors.
            ValueError: on mismatched shapes or sizes not divisible by 4.
        """
        rows = self.row_inputs(inputs)
        out = self.grid([head(x) for head, x in zip(self.heads, rows)])
        if self.config.residual:
            out = out + inputs.blend()
        return out
