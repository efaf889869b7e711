r"""Pixel-adaptive convolution (PAC, Su et al., CVPR 2019), memory-lean implementation.

A PAC layer modulates a spatially shared filter $W$ by a per-pixel kernel $K$ computed from a
guidance feature map $f$ (SPEC §2, Eq. 3 of the PAC paper):

$$v'_i = \sum_{j \in \Omega(i)} K(f_i, f_j)\, W[p_i - p_j]\, v_j + b, \qquad
  K(f_i, f_j) = \exp\!\big(-\tfrac12 \lVert f_i - f_j \rVert^2\big)$$

with the squared distance summed over all guidance channels, so there is one adaptive kernel per
pixel shared by every input and output channel. There is no bandwidth parameter: the network that
produces the guidance learns its scale. With a constant guide $K \equiv 1$ and every op here reduces
*exactly* to its plain counterpart (``F.conv2d``, ``F.conv_transpose2d``, sum pooling).

**Implementation.** The textbook formulation (pacnet) materialises ``unfold(x)`` as a
``(B, C, k, k, H, W)`` tensor. Here the $k^2$ kernel offsets $\Delta$ are visited one at a time: for
each, $K_\Delta$ (``B x 1 x H x W``) is computed from a shifted view of the guide and
``out += W[:, :, Δ] @ (shift_Δ(x) * K_Δ)`` is accumulated. Two custom autograd functions keep the
backward pass equally lean: one for the Gaussian kernel stack (stores the guide and the
``(B, 1, k*k, H, W)`` kernel, i.e. ``1/C`` of an unfold) and one for the modulated convolution
(stores only ``x``, the kernel and the weight, and recomputes every shifted product in backward).
Taps that fall outside the input are clipped away rather than multiplied by zero padding, and the
transposed convolution is evaluated polyphase: each of its $k^2$ taps touches only the output
pixels of one stride phase, so no zero-inserted input is ever built. Backward of the custom
functions is first-order only (no double backward).

**Conventions.**

- ``x`` is zero padded, so out-of-image taps contribute nothing. The guide is edge (replicate)
  padded; this only matters for the centre feature $f_i$ of ``PacConv2d``/``PacPool2d`` when
  ``padding > dilation * (k // 2)`` and for transposed taps mapped outside the output grid
  (``padding > dilation * (k // 2)``); with the usual "same" paddings it has no effect.
- ``normalize_kernel=True`` divides $K$ by its sum over the *valid* taps (those on real input
  pixels; for the transposed op, those that land on a real, non-inserted input pixel).
- ``PacConvTranspose2d`` takes its guide at the **output** size; its kernel is computed with
  stride 1 and "same" padding there. Unlike pacnet, the weight is flipped so that at $K \equiv 1$
  the op equals ``nn.ConvTranspose2d`` with the same weights.
- Kernel sizes must be odd (the centre tap defines $f_i$).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from stvsr_blocks._check import check_bool, check_positive_int, check_shape

__all__ = [
    "pac_conv2d",
    "pac_conv_transpose2d",
    "pac_pool2d",
    "PacConv2d",
    "PacConvTranspose2d",
    "PacPool2d",
]


# --------------------------------------------------------------------------------------------
# argument validation
# --------------------------------------------------------------------------------------------


def _pair(value: object, name: str, *, minimum: int) -> tuple[int, int]:
    """Normalise an ``int`` or a pair of ints to a pair, checking each is ``>= minimum``."""
    if isinstance(value, (tuple, list)):
        items = tuple(value)
        if len(items) != 2:
            raise ValueError(f"{name}: expected an int or a pair of ints, got {value!r}")
    else:
        items = (value, value)
    for v in items:
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{name}: expected an int or a pair of ints, got {value!r}")
        if v < minimum:
            raise ValueError(f"{name}: expected values >= {minimum}, got {value!r}")
    return items  # type: ignore[return-value]


def _odd_kernel(value: object, name: str) -> tuple[int, int]:
    k = _pair(value, name, minimum=1)
    if k[0] % 2 == 0 or k[1] % 2 == 0:
        raise ValueError(f"{name}: PAC needs odd kernel sizes (the centre tap defines f_i), got {value!r}")
    return k


def _check_like(t: Tensor, ref: Tensor, name: str, ref_name: str) -> None:
    if t.dtype != ref.dtype:
        raise TypeError(f"{name}: expected dtype {ref.dtype} (as {ref_name}), got {t.dtype}")
    if t.device != ref.device:
        raise ValueError(f"{name}: expected device {ref.device} (as {ref_name}), got {t.device}")


def _check_guide(guide: object, x: Tensor, size: tuple[int, int], where: str) -> Tensor:
    check_shape(guide, ["B", "C_g", "H", "W"], "guide")
    assert isinstance(guide, Tensor)
    _check_like(guide, x, "guide", "x")
    if guide.shape[0] != x.shape[0]:
        raise ValueError(f"guide: expected batch size {x.shape[0]} (as x), got shape {tuple(guide.shape)}")
    if tuple(guide.shape[-2:]) != tuple(size):
        raise ValueError(
            f"guide: expected spatial size {tuple(size)} ({where}), got shape {tuple(guide.shape)}"
        )
    return guide


def _check_weight_bias(
    x: Tensor, weight: object, bias: object, in_dim: int, out_dim: int
) -> tuple[Tensor, Tensor | None, tuple[int, int]]:
    spec: list[str | int] = ["C_out", "C_in", "kH", "kW"] if in_dim == 1 else ["C_in", "C_out", "kH", "kW"]
    spec[in_dim] = x.shape[1]
    check_shape(weight, spec, "weight")
    assert isinstance(weight, Tensor)
    _check_like(weight, x, "weight", "x")
    k = _odd_kernel(tuple(weight.shape[-2:]), "weight kernel size")
    if bias is not None:
        check_shape(bias, [weight.shape[out_dim]], "bias")
        assert isinstance(bias, Tensor)
        _check_like(bias, x, "bias", "x")
    return weight, bias, k


# --------------------------------------------------------------------------------------------
# geometry: per-axis tap plans
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Axis:
    """Where each of the ``k`` taps of one spatial axis reads and writes.

    The output positions are split into *phases* ``(start, count)`` with step ``tgt_step`` (one
    phase covering everything for a convolution; ``stride`` phases for a transposed convolution).
    Tap ``a`` writes to every position of phase ``phase[a]``, reading the zero-padded input
    (``pad_lo``/``pad_hi``) from ``src[a]`` with step ``src_step``; only phase positions
    ``valid[a] = (lo, hi)`` read real (non-padding) input pixels. The guide, edge-padded by
    ``g_pad``, is read for tap ``a`` at all ``n_out`` outputs from ``g_src[a]`` with step ``g_step``,
    and for the centre feature from ``g_ctr``.
    """

    n_out: int
    pad_lo: int
    pad_hi: int
    phases: tuple[tuple[int, int], ...]
    tgt_step: int
    phase: tuple[int, ...]
    src: tuple[int, ...]
    src_step: int
    valid: tuple[tuple[int, int], ...]
    g_pad: int
    g_src: tuple[int, ...]
    g_step: int
    g_ctr: int


def _conv_axis(n_in: int, k: int, stride: int, padding: int, dilation: int) -> _Axis:
    n_out = (n_in + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    valid = []
    for a in range(k):
        off = a * dilation - padding  # output o reads input o*stride + off
        lo = max(0, -(off // stride))
        hi = min(n_out, (n_in - 1 - off) // stride + 1)
        valid.append((lo, max(lo, hi)))
    pad_hi = max(0, (n_out - 1) * stride + (k - 1) * dilation - padding - (n_in - 1))
    return _Axis(
        n_out=n_out, pad_lo=padding, pad_hi=pad_hi, phases=((0, n_out),), tgt_step=1, phase=(0,) * k,
        src=tuple(a * dilation for a in range(k)), src_step=stride, valid=tuple(valid),
        g_pad=padding, g_src=tuple(a * dilation for a in range(k)), g_step=stride, g_ctr=(k // 2) * dilation,
    )


def _transposed_axis(n_in: int, k: int, stride: int, padding: int, output_padding: int, dilation: int) -> _Axis:
    n_out = (n_in - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1
    phases = tuple((r, len(range(r, n_out, stride))) for r in range(stride))
    phase, first, valid = [], [], []
    for a in range(k):
        off = a * dilation - padding  # input j feeds output j*stride + off
        r = off % stride
        j0 = (r - off) // stride  # input feeding the first output of phase r
        n = phases[r][1]
        phase.append(r)
        first.append(j0)
        valid.append((min(n, max(0, -j0)), max(min(n, max(0, -j0)), min(n, n_in - j0))))
    pad_lo = max([0] + [-j for j in first])
    pad_hi = max([0] + [j + phases[r][1] - n_in for j, r in zip(first, phase)])
    half = (k // 2) * dilation
    return _Axis(
        n_out=n_out, pad_lo=pad_lo, pad_hi=pad_hi, phases=phases, tgt_step=stride, phase=tuple(phase),
        src=tuple(j + pad_lo for j in first), src_step=1, valid=tuple(valid),
        g_pad=half, g_src=tuple((k - 1 - a) * dilation for a in range(k)), g_step=1, g_ctr=half,
    )


def _sl(start: int, count: int, step: int) -> slice:
    return slice(start, start + (count - 1) * step + 1, step)


@dataclass(frozen=True)
class _Plan:
    """Both axes of a PAC op; taps are numbered row-major (``t = a * kW + b``)."""

    ay: _Axis
    ax: _Axis

    @property
    def num_taps(self) -> int:
        return len(self.ay.src) * len(self.ax.src)

    @property
    def out_size(self) -> tuple[int, int]:
        return self.ay.n_out, self.ax.n_out

    def groups(self) -> list[tuple[tuple[slice, slice], tuple[int, int], list[tuple[int, int, int]]]]:
        """Per output phase: its slices, its ``(rows, cols)`` and its taps ``(t, a, b)`` that read real pixels."""
        ay, ax = self.ay, self.ax
        kw = len(ax.src)
        out = []
        for py, (ry, ny) in enumerate(ay.phases):
            for px, (rx, nx) in enumerate(ax.phases):
                if ny == 0 or nx == 0:
                    continue
                taps = [
                    (a * kw + b, a, b)
                    for a in range(len(ay.src))
                    for b in range(kw)
                    if ay.phase[a] == py and ax.phase[b] == px
                    and ay.valid[a][1] > ay.valid[a][0] and ax.valid[b][1] > ax.valid[b][0]
                ]
                rect = (_sl(ry, ny, ay.tgt_step), _sl(rx, nx, ax.tgt_step))
                out.append((rect, (ny, nx), taps))
        return out

    def single_phase(self) -> bool:
        return len(self.ay.phases) == 1 and len(self.ax.phases) == 1

    def pad_x(self, x: Tensor) -> Tensor:
        ay, ax = self.ay, self.ax
        pads = (ax.pad_lo, ax.pad_hi, ay.pad_lo, ay.pad_hi)
        return F.pad(x, pads) if any(pads) else x

    def src(self, xp: Tensor, a: int, b: int, n: tuple[int, int]) -> Tensor:
        ay, ax = self.ay, self.ax
        return xp[..., _sl(ay.src[a], n[0], ay.src_step), _sl(ax.src[b], n[1], ax.src_step)]

    def guide_tap(self, gp: Tensor, a: int, b: int) -> Tensor:
        ay, ax = self.ay, self.ax
        return gp[..., _sl(ay.g_src[a], ay.n_out, ay.g_step), _sl(ax.g_src[b], ax.n_out, ax.g_step)]

    def guide_centre(self, gp: Tensor) -> Tensor:
        ay, ax = self.ay, self.ax
        return gp[..., _sl(ay.g_ctr, ay.n_out, ay.g_step), _sl(ax.g_ctr, ax.n_out, ax.g_step)]

    def valid_mask(self, like: Tensor) -> Tensor:
        """``(T, 1, 1, H_out, W_out)`` indicator of (tap, output) pairs that read a real input pixel."""
        m = like.new_zeros(self.num_taps, 1, 1, *self.out_size)
        for rect, _, taps in self.groups():
            for t, a, b in taps:
                (vy0, vy1), (vx0, vx1) = self.ay.valid[a], self.ax.valid[b]
                m[t][..., rect[0], rect[1]][..., vy0:vy1, vx0:vx1] = 1.0
        return m


# --------------------------------------------------------------------------------------------
# custom autograd functions
# --------------------------------------------------------------------------------------------


#: Upper bound (elements) of each per-tap-group work buffer: taps are processed in groups of
#: ``max(1, _GROUP_ELEMENTS // (C * B * h * w))`` so that small problems run as a few large
#: matrix products and large ones stay within ``O(B * C * H * W)`` working memory.
_GROUP_ELEMENTS = 1 << 22


class _GaussianKernel(torch.autograd.Function):
    """``K[t] = exp(-0.5 * ||f_tap_t - f_centre||^2)`` from an edge-padded guide, ``(T, B, G, H, W)``.

    Only the output phase a tap writes to is computed; the rest of ``K[t]`` is 0 (never read).
    """

    @staticmethod
    def forward(ctx, gp: Tensor, plan: _Plan, channel_wise: bool) -> Tensor:  # type: ignore[override]
        f = plan.guide_centre(gp)
        g = f.shape[1] if channel_wise else 1
        kern = gp.new_full((plan.num_taps, gp.shape[0], g, *plan.out_size), float("inf"))  # -> K = 0
        for rect, _, taps in plan.groups():
            fr = f[..., rect[0], rect[1]]
            buf = gp.new_empty(fr.shape)
            for t, a, b in taps:
                torch.sub(plan.guide_tap(gp, a, b)[..., rect[0], rect[1]], fr, out=buf)
                d = buf.square_() if channel_wise else buf.square_().sum(1, keepdim=True)
                kern[t][..., rect[0], rect[1]] = d
        kern.mul_(-0.5).exp_()  # one call: exp over the whole stack
        ctx.save_for_backward(gp, kern)
        ctx.plan = plan
        return kern

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_k: Tensor) -> tuple[Tensor | None, None, None]:  # type: ignore[override]
        gp, kern = ctx.saved_tensors
        plan: _Plan = ctx.plan
        grad_gp = torch.zeros_like(gp)
        f = plan.guide_centre(gp)
        grad_f = plan.guide_centre(grad_gp)
        coef = grad_k * kern  # dL/dK * K
        for rect, _, taps in plan.groups():
            fr = f[..., rect[0], rect[1]]
            buf = gp.new_empty(fr.shape)
            acc = torch.zeros_like(buf)
            for t, a, b in taps:
                torch.sub(plan.guide_tap(gp, a, b)[..., rect[0], rect[1]], fr, out=buf)
                buf.mul_(coef[t][..., rect[0], rect[1]])  # = dL/df_centre = -dL/df_tap
                plan.guide_tap(grad_gp, a, b)[..., rect[0], rect[1]].sub_(buf)
                acc.add_(buf)
            grad_f[..., rect[0], rect[1]].add_(acc)
        return grad_gp, None, None


def _chunks(taps: list[tuple[int, int, int]], per_tap: int) -> list[list[tuple[int, int, int]]]:
    size = max(1, _GROUP_ELEMENTS // max(1, per_tap))
    return [taps[i : i + size] for i in range(0, len(taps), size)]


class _PacApply(torch.autograd.Function):
    """``out[phase] += W_t @ (x_pad[src_t] * K_t[phase])`` over taps ``t`` (identity if no weight).

    Works channel-major (``(C, B * h * w)`` matrices) so that a group of ``g`` taps is one matrix
    product with a ``(C_out, g * C_in)`` weight. Saves only ``x_pad``, ``K`` and the weight; every
    shifted product is recomputed in backward.
    """

    @staticmethod
    def forward(ctx, xp: Tensor, kern: Tensor, weight: Tensor | None, plan: _Plan) -> Tensor:  # type: ignore[override]
        bsz, c_in = xp.shape[:2]
        c_out = c_in if weight is None else weight.shape[1]
        out = xp.new_zeros(bsz, c_out, *plan.out_size)
        xt = xp.transpose(0, 1)  # (C_in, B, H, W) view
        for rect, n, taps in plan.groups():
            if not taps:  # no tap reads a real pixel: output stays 0
                continue
            if weight is None:
                acc = out[..., rect[0], rect[1]]
                for t, a, b in taps:
                    acc.addcmul_(plan.src(xp, a, b, n), kern[t][..., rect[0], rect[1]])
                continue
            acc = xp.new_zeros(c_out, bsz, *n)
            acc2 = acc.view(c_out, -1)
            chunks = _chunks(taps, c_in * bsz * n[0] * n[1])
            zbuf = xp.new_empty(len(chunks[0]), c_in, bsz, *n)  # reused by every chunk
            for chunk in chunks:
                z = zbuf[: len(chunk)]
                for j, (t, a, b) in enumerate(chunk):
                    torch.mul(plan.src(xt, a, b, n), kern[t][..., rect[0], rect[1]].transpose(0, 1), out=z[j])
                w_grp = weight[[t for t, _, _ in chunk]].transpose(0, 1).reshape(c_out, -1)
                acc2.addmm_(w_grp, z.view(-1, acc2.shape[1]))
            out[..., rect[0], rect[1]] = acc.transpose(0, 1)
        ctx.save_for_backward(xp, kern, weight)
        ctx.plan = plan
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None, None]:  # type: ignore[override]
        xp, kern, weight = ctx.saved_tensors
        plan: _Plan = ctx.plan
        need_x, need_k, need_w = ctx.needs_input_grad[:3]
        grad_x = torch.zeros_like(xp) if need_x else None
        grad_k = torch.zeros_like(kern) if need_k else None
        grad_w = torch.zeros_like(weight) if (need_w and weight is not None) else None
        bsz, c_in = xp.shape[:2]
        xt = xp.transpose(0, 1)
        for rect, n, taps in plan.groups():
            if not taps:
                continue
            if weight is None:
                g = grad_out[..., rect[0], rect[1]]
                for t, a, b in taps:
                    kt = kern[t][..., rect[0], rect[1]]
                    if grad_x is not None:
                        plan.src(grad_x, a, b, n).addcmul_(g, kt)
                    if grad_k is not None:
                        h = g * plan.src(xp, a, b, n)
                        grad_k[t][..., rect[0], rect[1]] = h.sum(1, keepdim=True) if kern.shape[2] == 1 else h
                continue
            c_out = grad_out.shape[1]
            gt = grad_out[..., rect[0], rect[1]].transpose(0, 1).reshape(c_out, -1)  # (C_out, B*h*w)
            chunks = _chunks(taps, c_in * bsz * n[0] * n[1])
            # work buffers, allocated once per phase and reused by every chunk and tap
            ybuf = xp.new_empty(len(chunks[0]) * c_in, gt.shape[1])
            zbuf = xp.new_empty(len(chunks[0]), c_in, bsz, *n) if grad_w is not None else None
            tmp = xp.new_empty(c_in, bsz, *n) if grad_k is not None else None
            hbuf = xp.new_empty(1, bsz, *n) if grad_k is not None else None
            for chunk in chunks:
                idx = [t for t, _, _ in chunk]
                m = len(chunk) * c_in
                w_grp = weight[idx].transpose(0, 1).reshape(c_out, m)  # (C_out, g*C_in)
                y = torch.mm(w_grp.t(), gt, out=ybuf[:m]).view(len(chunk), c_in, bsz, *n)  # dL/dz per tap
                for j, (t, a, b) in enumerate(chunk):
                    xs = plan.src(xt, a, b, n)  # (C_in, B, h, w) view
                    kt = kern[t][..., rect[0], rect[1]]  # (B, 1, h, w) view
                    if grad_x is not None:
                        plan.src(grad_x, a, b, n).addcmul_(y[j].transpose(0, 1), kt)
                    if grad_k is not None:
                        torch.mul(y[j], xs, out=tmp)
                        if kern.shape[2] == 1:
                            torch.sum(tmp, 0, keepdim=True, out=hbuf)
                            grad_k[t][..., rect[0], rect[1]] = hbuf.transpose(0, 1)
                        else:
                            grad_k[t][..., rect[0], rect[1]] = tmp.transpose(0, 1)
                    if zbuf is not None:
                        torch.mul(xs, kt.transpose(0, 1), out=zbuf[j])
                if grad_w is not None:
                    gw = gt @ zbuf[: len(chunk)].view(m, -1).t()  # (C_out, g*C_in)
                    grad_w[idx] = gw.view(c_out, len(chunk), c_in).transpose(0, 1)
        return grad_x, grad_k, grad_w, None


def _kernel(guide: Tensor, plan: _Plan, normalize: bool, channel_wise: bool) -> Tensor:
    pads = (plan.ax.g_pad, plan.ax.g_pad, plan.ay.g_pad, plan.ay.g_pad)
    gp = F.pad(guide, pads, mode="replicate") if any(pads) else guide
    kern = _GaussianKernel.apply(gp, plan, channel_wise)
    if normalize:
        kern = kern * plan.valid_mask(kern)
        total = kern.sum(0, keepdim=True)
        # all-invalid (or fully underflowed) windows: the numerator is 0 there; keep gradients finite
        kern = kern / torch.where(total > 0, total, torch.ones_like(total))
    return kern


def _apply(x: Tensor, kern: Tensor, weight_taps: Tensor | None, plan: _Plan) -> Tensor:
    return _PacApply.apply(plan.pad_x(x), kern, weight_taps, plan)


def _autocast_fp32(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """Run a functional PAC op in float32 with autocast disabled when autocast is active.

    Autocast hands over mixed bf16/fp16 activations and fp32 weights; the custom autograd
    functions need one dtype, and their long accumulations want float32 anyway (as
    autocast does for other reductions).
    """

    @functools.wraps(fn)
    def wrapper(x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        if isinstance(x, Tensor) and torch.is_autocast_enabled(x.device.type):
            def f32(v: Any) -> Any:
                return v.float() if isinstance(v, Tensor) and v.is_floating_point() else v

            with torch.autocast(x.device.type, enabled=False):
                return fn(f32(x), *map(f32, args), **{k: f32(v) for k, v in kwargs.items()})
        return fn(x, *args, **kwargs)

    return wrapper


def _out_size_ok(plan: _Plan, what: str) -> None:
    if plan.ay.n_out < 1 or plan.ax.n_out < 1:
        raise ValueError(f"{what}: the output would be empty ({plan.ay.n_out}x{plan.ax.n_out}); check the sizes")

# --------------------------------------------------------------------------------------------
# functional API
# --------------------------------------------------------------------------------------------


@_autocast_fp32
def pac_conv2d(
    x: Tensor,
    guide: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    normalize_kernel: bool = False,
) -> Tensor:
    r"""Pixel-adaptive 2-D convolution.

    $$y_i = \sum_{j \in \Omega(i)} K(f_i, f_j)\, W[p_i - p_j]\, x_j + b, \quad
      K(f_i, f_j) = \exp\!\big(-\tfrac12 \lVert f_i - f_j\rVert^2\big)$$

    where $i$ runs over the strided output positions (the window centres on the input grid) and
    the kernel is summed over all guide channels. With a constant guide this equals
    ``F.conv2d(x, weight, bias, stride, padding, dilation)`` exactly.

    Args:
        x: ``(B, C_in, H, W)`` input, zero padded.
        guide: ``(B, C_g, H, W)`` guidance features at the input size (edge padded).
        weight: ``(C_out, C_in, kH, kW)`` filter, odd ``kH`` and ``kW``.
        bias: optional ``(C_out,)`` bias.
        stride: stride, an int or ``(sH, sW)``.
        padding: zero padding of ``x``, an int or ``(pH, pW)``.
        dilation: dilation, an int or ``(dH, dW)``.
        normalize_kernel: divide $K$ by its sum over the in-image taps of each window.

    Returns:
        ``(B, C_out, H_out, W_out)`` with ``F.conv2d``'s output size.

    Raises:
        TypeError: if an argument has the wrong type or dtype.
        ValueError: on wrong shapes, even kernel sizes, mismatched batch/size/device, invalid
            stride/padding/dilation or an empty output.

    Example:
        >>> x, w = torch.randn(1, 2, 5, 5), torch.randn(3, 2, 3, 3)
        >>> y = pac_conv2d(x, torch.zeros(1, 4, 5, 5), w, padding=1)
        >>> torch.allclose(y, torch.nn.functional.conv2d(x, w, padding=1), atol=1e-6)
        True
    """
    check_shape(x, ["B", "C_in", "H", "W"], "x")
    weight, bias, (kh, kw) = _check_weight_bias(x, weight, bias, in_dim=1, out_dim=0)
    guide = _check_guide(guide, x, tuple(x.shape[-2:]), "the input size")
    stride = _pair(stride, "stride", minimum=1)
    padding = _pair(padding, "padding", minimum=0)
    dilation = _pair(dilation, "dilation", minimum=1)
    normalize_kernel = check_bool(normalize_kernel, "normalize_kernel")
    plan = _Plan(
        _conv_axis(x.shape[2], kh, stride[0], padding[0], dilation[0]),
        _conv_axis(x.shape[3], kw, stride[1], padding[1], dilation[1]),
    )
    _out_size_ok(plan, "pac_conv2d")
    kern = _kernel(guide, plan, normalize_kernel, channel_wise=False)
    w_taps = weight.permute(2, 3, 0, 1).reshape(kh * kw, weight.shape[0], weight.shape[1])
    out = _apply(x, kern, w_taps, plan)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


@_autocast_fp32
def pac_conv_transpose2d(
    x: Tensor,
    guide: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    output_padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    normalize_kernel: bool = False,
) -> Tensor:
    r"""Pixel-adaptive transposed 2-D convolution, guided at the output resolution.

    Equivalent to zero-inserting ``x`` with the stride, padding it by
    $(k-1)d - p$ (plus ``output_padding`` at the bottom/right) and applying a stride-1 PAC with the
    spatially flipped, in/out-transposed weight, the kernel $K$ being computed on ``guide`` with
    stride 1 and "same" padding. It is evaluated polyphase, without the zero-inserted tensor. With a
    constant guide it equals ``F.conv_transpose2d(x, weight, bias, stride, padding, output_padding,
    1, dilation)`` exactly.

    Args:
        x: ``(B, C_in, h, w)`` input.
        guide: ``(B, C_g, H_out, W_out)`` guidance features at the **output** size.
        weight: ``(C_in, C_out, kH, kW)`` filter (``nn.ConvTranspose2d`` layout), odd sizes.
        bias: optional ``(C_out,)`` bias.
        stride: stride, an int or ``(sH, sW)``.
        padding: implicit padding as in ``F.conv_transpose2d``, an int or a pair.
        output_padding: extra size on the bottom/right; each value below ``max(stride, dilation)``.
        dilation: dilation, an int or ``(dH, dW)``.
        normalize_kernel: divide $K$ by its sum over the taps that land on real input pixels.

    Returns:
        ``(B, C_out, H_out, W_out)`` with
        $H_{out} = (h-1)s - 2p + d(k-1) + \text{output\_padding} + 1$.

    Raises:
        TypeError: if an argument has the wrong type or dtype.
        ValueError: on wrong shapes, even kernel sizes, a guide not at the output size, invalid
            stride/padding/output_padding/dilation or an empty output.

    Example:
        >>> x, w = torch.randn(1, 2, 3, 3), torch.randn(2, 4, 5, 5)
        >>> y = pac_conv_transpose2d(x, torch.ones(1, 1, 6, 6), w, stride=2, padding=2, output_padding=1)
        >>> ref = torch.nn.functional.conv_transpose2d(x, w, stride=2, padding=2, output_padding=1)
        >>> y.shape, torch.allclose(y, ref, atol=1e-5)
        (torch.Size([1, 4, 6, 6]), True)
    """
    check_shape(x, ["B", "C_in", "H", "W"], "x")
    weight, bias, (kh, kw) = _check_weight_bias(x, weight, bias, in_dim=0, out_dim=1)
    stride = _pair(stride, "stride", minimum=1)
    padding = _pair(padding, "padding", minimum=0)
    output_padding = _pair(output_padding, "output_padding", minimum=0)
    dilation = _pair(dilation, "dilation", minimum=1)
    for i in range(2):
        if output_padding[i] >= max(stride[i], dilation[i]):
            raise ValueError(
                f"output_padding: each value must be smaller than max(stride, dilation) = "
                f"{max(stride[i], dilation[i])}, got {output_padding!r}"
            )
    normalize_kernel = check_bool(normalize_kernel, "normalize_kernel")
    plan = _Plan(
        _transposed_axis(x.shape[2], kh, stride[0], padding[0], output_padding[0], dilation[0]),
        _transposed_axis(x.shape[3], kw, stride[1], padding[1], output_padding[1], dilation[1]),
    )
    _out_size_ok(plan, "pac_conv_transpose2d")
    guide = _check_guide(guide, x, (plan.ay.n_out, plan.ax.n_out), "the output size of the transposed conv")
    kern = _kernel(guide, plan, normalize_kernel, channel_wise=False)
    w_taps = weight.permute(2, 3, 1, 0).reshape(kh * kw, weight.shape[1], weight.shape[0])
    out = _apply(x, kern, w_taps, plan)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


@_autocast_fp32
def pac_pool2d(
    x: Tensor,
    guide: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    normalize_kernel: bool = True,
    channel_wise: bool = False,
) -> Tensor:
    r"""Pixel-adaptive pooling $y_i = \sum_{j \in \Omega(i)} K(f_i, f_j)\, x_j$ (no weights).

    With ``normalize_kernel=True`` (the default) $K$ is divided by its sum over the in-image taps,
    giving an adaptive *average* (constant guide: ``F.avg_pool2d(..., count_include_pad=False)``);
    with ``False`` it is an adaptive *sum*. ``channel_wise=True`` uses one kernel per channel,
    $K^c_{ij} = \exp(-\tfrac12 (f^c_i - f^c_j)^2)$, and needs ``C_g == C``; it stores a per-channel
    kernel stack (``C k^2 H W`` values) for backward.

    Args:
        x: ``(B, C, H, W)`` input.
        guide: ``(B, C_g, H, W)`` guidance features at the input size.
        kernel_size: odd window size, an int or ``(kH, kW)``.
        stride: stride, an int or a pair.
        padding: zero padding, an int or a pair.
        dilation: dilation, an int or a pair.
        normalize_kernel: normalise $K$ over the valid taps of each window.
        channel_wise: one kernel per channel (``C_g`` must equal ``C``).

    Returns:
        ``(B, C, H_out, W_out)`` with pooling's output size.

    Raises:
        TypeError: if an argument has the wrong type or dtype.
        ValueError: on wrong shapes, even kernel sizes, ``channel_wise`` with ``C_g != C``, invalid
            stride/padding/dilation or an empty output.

    Example:
        >>> x = torch.randn(1, 2, 4, 4)
        >>> y = pac_pool2d(x, torch.zeros(1, 1, 4, 4), 3, padding=1)
        >>> ref = torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
        >>> torch.allclose(y, ref, atol=1e-6)
        True
    """
    check_shape(x, ["B", "C", "H", "W"], "x")
    guide = _check_guide(guide, x, tuple(x.shape[-2:]), "the input size")
    kh, kw = _odd_kernel(kernel_size, "kernel_size")
    stride = _pair(stride, "stride", minimum=1)
    padding = _pair(padding, "padding", minimum=0)
    dilation = _pair(dilation, "dilation", minimum=1)
    normalize_kernel = check_bool(normalize_kernel, "normalize_kernel")
    channel_wise = check_bool(channel_wise, "channel_wise")
    if channel_wise and guide.shape[1] != x.shape[1]:
        raise ValueError(
            f"guide: channel_wise=True needs {x.shape[1]} guide channels (as x), got shape {tuple(guide.shape)}"
        )
    plan = _Plan(
        _conv_axis(x.shape[2], kh, stride[0], padding[0], dilation[0]),
        _conv_axis(x.shape[3], kw, stride[1], padding[1], dilation[1]),
    )
    _out_size_ok(plan, "pac_pool2d")
    kern = _kernel(guide, plan, normalize_kernel, channel_wise=channel_wise)
    return _apply(x, kern, None, plan)


# --------------------------------------------------------------------------------------------
# modules
# --------------------------------------------------------------------------------------------


def _reset(weight: Tensor, bias: Tensor | None, fan_in: int) -> None:
    bound = 1.0 / fan_in**0.5
    nn.init.uniform_(weight, -bound, bound)
    if bias is not None:
        nn.init.uniform_(bias, -bound, bound)


class PacConv2d(nn.Module):
    """Module form of :func:`pac_conv2d` (weights ``(C_out, C_in, kH, kW)`` like ``nn.Conv2d``).

    Weights and bias are initialised uniformly in $\\pm 1/\\sqrt{C_{in} k_H k_W}$ (pacnet's 'uniform'
    filler).

    Args:
        in_channels: input channels ``C_in``.
        out_channels: output channels ``C_out``.
        kernel_size: odd kernel size, an int or ``(kH, kW)``.
        stride: stride, an int or a pair.
        padding: zero padding, an int or a pair.
        dilation: dilation, an int or a pair.
        bias: learn a bias.
        normalize_kernel: normalise the adaptive kernel over valid taps.
        device: parameter device.
        dtype: parameter dtype.

    Raises:
        TypeError: on arguments of the wrong type.
        ValueError: on non-positive channels, even kernel sizes or invalid stride/padding/dilation.

    Example:
        >>> m = PacConv2d(2, 3, 3, padding=1)
        >>> m(torch.randn(1, 2, 8, 8), torch.randn(1, 4, 8, 8)).shape
        torch.Size([1, 3, 8, 8])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        bias: bool = True,
        normalize_kernel: bool = False,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.kernel_size = _odd_kernel(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride", minimum=1)
        self.padding = _pair(padding, "padding", minimum=0)
        self.dilation = _pair(dilation, "dilation", minimum=1)
        self.normalize_kernel = check_bool(normalize_kernel, "normalize_kernel")
        kw = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(self.out_channels, self.in_channels, *self.kernel_size, **kw))
        self.bias = nn.Parameter(torch.empty(self.out_channels, **kw)) if check_bool(bias, "bias") else None
        _reset(self.weight, self.bias, self.in_channels * self.kernel_size[0] * self.kernel_size[1])

    def forward(self, x: Tensor, guide: Tensor) -> Tensor:
        """Apply :func:`pac_conv2d` with this module's weights.

        Args:
            x: ``(B, C_in, H, W)`` input.
            guide: ``(B, C_g, H, W)`` guidance at the input size.

        Returns:
            ``(B, C_out, H_out, W_out)``.
        """
        return pac_conv2d(
            x, guide, self.weight, self.bias, self.stride, self.padding, self.dilation, self.normalize_kernel
        )

    def extra_repr(self) -> str:
        """Layer hyper-parameters for ``repr``.

        Returns:
            A one-line summary.
        """
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, dilation={self.dilation}, bias={self.bias is not None}, "
            f"normalize_kernel={self.normalize_kernel}"
        )


class PacConvTranspose2d(nn.Module):
    """Module form of :func:`pac_conv_transpose2d` (weights ``(C_in, C_out, kH, kW)``).

    The guide passed to ``forward`` must have the **output** size. Initialised uniformly in
    $\\pm 1/\\sqrt{C_{in} k_H k_W}$.

    Args:
        in_channels: input channels ``C_in``.
        out_channels: output channels ``C_out``.
        kernel_size: odd kernel size, an int or ``(kH, kW)``.
        stride: stride, an int or a pair.
        padding: implicit padding as in ``nn.ConvTranspose2d``.
        output_padding: extra output size at the bottom/right (below ``max(stride, dilation)``).
        dilation: dilation, an int or a pair.
        bias: learn a bias.
        normalize_kernel: normalise the adaptive kernel over taps on real input pixels.
        device: parameter device.
        dtype: parameter dtype.

    Raises:
        TypeError: on arguments of the wrong type.
        ValueError: on non-positive channels, even kernel sizes or invalid
            stride/padding/output_padding/dilation.

    Example:
        >>> m = PacConvTranspose2d(2, 3, 5, stride=2, padding=2, output_padding=1)
        >>> m(torch.randn(1, 2, 4, 4), torch.randn(1, 4, 8, 8)).shape
        torch.Size([1, 3, 8, 8])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        output_padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        bias: bool = True,
        normalize_kernel: bool = False,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.kernel_size = _odd_kernel(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride", minimum=1)
        self.padding = _pair(padding, "padding", minimum=0)
        self.output_padding = _pair(output_padding, "output_padding", minimum=0)
        self.dilation = _pair(dilation, "dilation", minimum=1)
        for i in range(2):
            if self.output_padding[i] >= max(self.stride[i], self.dilation[i]):
                raise ValueError(
                    f"output_padding: each value must be smaller than max(stride, dilation), got "
                    f"{self.output_padding!r} with stride {self.stride!r}, dilation {self.dilation!r}"
                )
        self.normalize_kernel = check_bool(normalize_kernel, "normalize_kernel")
        kw = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(self.in_channels, self.out_channels, *self.kernel_size, **kw))
        self.bias = nn.Parameter(torch.empty(self.out_channels, **kw)) if check_bool(bias, "bias") else None
        _reset(self.weight, self.bias, self.in_channels * self.kernel_size[0] * self.kernel_size[1])

    def forward(self, x: Tensor, guide: Tensor) -> Tensor:
        """Apply :func:`pac_conv_transpose2d` with this module's weights.

        Args:
            x: ``(B, C_in, h, w)`` input.
            guide: ``(B, C_g, H_out, W_out)`` guidance at the output size.

        Returns:
            ``(B, C_out, H_out, W_out)``.
        """
        return pac_conv_transpose2d(
            x, guide, self.weight, self.bias, self.stride, self.padding, self.output_padding, self.dilation,
            self.normalize_kernel,
        )

    def extra_repr(self) -> str:
        """Layer hyper-parameters for ``repr``.

        Returns:
            A one-line summary.
        """
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, output_padding={self.output_padding}, dilation={self.dilation}, "
            f"bias={self.bias is not None}, normalize_kernel={self.normalize_kernel}"
        )


class PacPool2d(nn.Module):
    """Module form of :func:`pac_pool2d` (no parameters).

    Args:
        kernel_size: odd window size, an int or ``(kH, kW)``.
        stride: stride, an int or a pair.
        padding: zero padding, an int or a pair.
        dilation: dilation, an int or a pair.
        normalize_kernel: adaptive average (``True``) or adaptive sum (``False``).
        channel_wise: one kernel per channel (guide channels must equal input channels).

    Raises:
        TypeError: on arguments of the wrong type.
        ValueError: on even kernel sizes or invalid stride/padding/dilation.

    Example:
        >>> PacPool2d(3, stride=2, padding=1)(torch.randn(1, 2, 8, 8), torch.randn(1, 1, 8, 8)).shape
        torch.Size([1, 2, 4, 4])
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        normalize_kernel: bool = True,
        channel_wise: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size = _odd_kernel(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride", minimum=1)
        self.padding = _pair(padding, "padding", minimum=0)
        self.dilation = _pair(dilation, "dilation", minimum=1)
        self.normalize_kernel = check_bool(normalize_kernel, "normalize_kernel")
        self.channel_wise = check_bool(channel_wise, "channel_wise")

    def forward(self, x: Tensor, guide: Tensor) -> Tensor:
        """Apply :func:`pac_pool2d`.

        Args:
            x: ``(B, C, H, W)`` input.
            guide: ``(B, C_g, H, W)`` guidance at the input size.

        Returns:
            ``(B, C, H_out, W_out)``.
        """
        return pac_pool2d(
            x, guide, self.kernel_size, self.stride, self.padding, self.dilation, self.normalize_kernel,
            self.channel_wise,
        )

    def extra_repr(self) -> str:
        """Layer hyper-parameters for ``repr``.

        Returns:
            A one-line summary.
        """
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, normalize_kernel={self.normalize_kernel}, channel_wise={self.channel_wise}"
        )
