"""Tests for stvsr_blocks.flow.pac against the naive unfold reference in tests/flow/_pac_naive.py."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.autograd import gradcheck

import stvsr_blocks.flow.pac as pac_module
from stvsr_blocks.flow.pac import (
    PacConv2d,
    PacConvTranspose2d,
    PacPool2d,
    pac_conv2d,
    pac_conv_transpose2d,
    pac_pool2d,
)
from tests.flow._pac_naive import naive_pac_conv2d, naive_pac_conv_transpose2d, naive_pac_pool2d

F64 = torch.float64


def _r(*shape: int, dtype: torch.dtype = F64, device: str | torch.device = "cpu") -> torch.Tensor:
    return torch.randn(*shape, dtype=dtype, device=device)


def _t_out(n: int, k: int, s: int, p: int, op: int, d: int) -> int:
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


def _assert_matches(fn, ref, tensors: list[torch.Tensor], atol: float = 1e-5) -> None:
    """Outputs and gradients w.r.t. every tensor argument agree."""
    a = [t.detach().clone().requires_grad_() for t in tensors]
    b = [t.detach().clone().requires_grad_() for t in tensors]
    out_a, out_b = fn(*a), ref(*b)
    torch.testing.assert_close(out_a, out_b, atol=atol, rtol=0)
    go = torch.randn_like(out_a)
    out_a.backward(go)
    out_b.backward(go)
    for i, (ta, tb) in enumerate(zip(a, b)):
        torch.testing.assert_close(ta.grad, tb.grad, atol=atol, rtol=0, msg=lambda m, i=i: f"grad of arg {i}: {m}")


CONV_CFGS = [  # (k, stride, padding, dilation)
    (1, 1, 0, 1), (3, 2, 1, 1), (5, 1, 2, 1), (3, 1, 2, 2), (5, 2, 0, 1), (3, 3, 3, 1), (5, 1, 4, 2),
]
TRANSPOSED_CFGS = [  # (k, stride, padding, output_padding, dilation)
    (1, 1, 0, 0, 1), (3, 1, 1, 0, 1), (5, 2, 2, 1, 1), (5, 2, 0, 0, 1), (3, 3, 1, 2, 1),
    (3, 1, 2, 1, 2), (5, 2, 4, 1, 2), (3, 2, 3, 0, 1),
]


class TestPacConv2d:
    def test_smoke(self, device: torch.device, dtype: torch.dtype) -> None:
        m = PacConv2d(3, 4, 3, padding=1, device=device, dtype=dtype)
        out = m(_r(2, 3, 6, 5, dtype=dtype, device=device), _r(2, 2, 6, 5, dtype=dtype, device=device))
        assert out.shape == (2, 4, 6, 5) and out.dtype == dtype and out.device.type == device.type
        assert torch.isfinite(out).all()

    @pytest.mark.parametrize("k,s,p,d", CONV_CFGS)
    def test_cardinality(self, k: int, s: int, p: int, d: int) -> None:
        x, w = _r(1, 2, 9, 8), _r(3, 2, k, k)
        out = pac_conv2d(x, _r(1, 1, 9, 8), w, None, s, p, d)
        assert out.shape == F.conv2d(x, w, None, s, p, d).shape

    @pytest.mark.parametrize("normalize", [False, True])
    @pytest.mark.parametrize("k,s,p,d", CONV_CFGS)
    def test_matches_naive(self, k: int, s: int, p: int, d: int, normalize: bool) -> None:
        x, g, w, b = _r(2, 3, 9, 8), _r(2, 2, 9, 8), _r(4, 3, k, k), _r(4)
        _assert_matches(
            lambda x, g, w, b: pac_conv2d(x, g, w, b, s, p, d, normalize),
            lambda x, g, w, b: naive_pac_conv2d(x, g, w, b, s, p, d, normalize),
            [x, g, w, b],
        )

    def test_matches_naive_float32_rectangular(self) -> None:
        x, g, w = torch.randn(2, 4, 11, 7), torch.randn(2, 3, 11, 7), torch.randn(5, 4, 3, 5)
        _assert_matches(
            lambda x, g, w: pac_conv2d(x, g, w, None, (2, 1), (1, 2), (1, 2)),
            lambda x, g, w: naive_pac_conv2d(x, g, w, None, (2, 1), (1, 2), (1, 2)),
            [x, g, w],
        )

    @pytest.mark.parametrize("k,s,p,d", CONV_CFGS)
    def test_constant_guide_equals_conv2d(self, k: int, s: int, p: int, d: int) -> None:
        x, w, b = torch.randn(2, 3, 9, 8), torch.randn(4, 3, k, k) / (3 * k * k) ** 0.5, torch.randn(4)
        out = pac_conv2d(x, torch.full((2, 5, 9, 8), 0.7), w, b, s, p, d)
        # float32: agreement to float32 rounding of the (differently ordered) sums
        torch.testing.assert_close(out, F.conv2d(x, w, b, s, p, d), atol=1e-6, rtol=1e-6)

    def test_gradcheck(self) -> None:
        x, g, w, b = (_r(1, 2, 5, 4).requires_grad_(), _r(1, 2, 5, 4).requires_grad_(),
                      _r(2, 2, 3, 3).requires_grad_(), _r(2).requires_grad_())
        assert gradcheck(lambda *a: pac_conv2d(*a, stride=2, padding=1), (x, g, w, b), fast_mode=True)
        assert gradcheck(
            lambda *a: pac_conv2d(*a, padding=2, dilation=2, normalize_kernel=True), (x, g, w, b), fast_mode=True
        )

    def test_module(self) -> None:
        m = PacConv2d(3, 4, 3, stride=2, padding=1, dilation=1, normalize_kernel=True)
        x, g = torch.randn(2, 3, 7, 6), torch.randn(2, 2, 7, 6)
        ref = pac_conv2d(x, g, m.weight, m.bias, 2, 1, 1, True)
        assert torch.equal(m(x, g), ref)
        assert m.weight.shape == (4, 3, 3, 3) and m.bias.shape == (4,)
        assert PacConv2d(3, 4, 3, bias=False).bias is None
        assert "normalize_kernel=True" in repr(m)

    @pytest.mark.parametrize("budget", [1, 3000, 10**9])  # one tap per group, a few, all taps at once
    def test_tap_grouping(self, budget: int, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(pac_module, "_GROUP_ELEMENTS", budget)
        x, g, w, b = _r(2, 3, 7, 6), _r(2, 2, 7, 6), _r(4, 3, 3, 3), _r(4)
        _assert_matches(
            lambda x, g, w, b: pac_conv2d(x, g, w, b, 1, 2, 2, True),
            lambda x, g, w, b: naive_pac_conv2d(x, g, w, b, 1, 2, 2, True),
            [x, g, w, b],
        )
        wt, gt = _r(3, 4, 3, 3), _r(2, 2, 8, 10)
        _assert_matches(
            lambda x, g, w, b: pac_conv_transpose2d(x, g, w, b, 2, 1, 1, 1, True),
            lambda x, g, w, b: naive_pac_conv_transpose2d(x, g, w, b, 2, 1, 1, 1, True),
            [x[..., :4, :5], gt, wt, b],
        )

    def test_saved_memory_is_lean(self) -> None:
        """Backward stores x, guide, weight and a (T, B, 1, H, W) kernel -- not a C*k*k unfold."""
        b, c, cg, h, w, k = 1, 16, 4, 32, 32, 5
        x, g = _r(b, c, h, w, dtype=torch.float32).requires_grad_(), _r(b, cg, h, w, dtype=torch.float32)
        wt = torch.randn(c, c, k, k, requires_grad=True)
        saved: list[int] = []

        def pack(t: torch.Tensor) -> torch.Tensor:
            saved.append(t.numel())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            pac_conv2d(x, g.requires_grad_(), wt, padding=2).sum().backward()
        unfold = b * c * k * k * h * w
        assert sum(saved) < unfold / 4, (sum(saved), unfold)

    def test_exception(self) -> None:
        x, g, w = torch.randn(1, 2, 5, 5), torch.randn(1, 1, 5, 5), torch.randn(3, 2, 3, 3)
        with pytest.raises(TypeError, match="x"):
            pac_conv2d(x.numpy(), g, w)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="x"):
            pac_conv2d(x[0], g, w)
        with pytest.raises(ValueError, match="weight"):
            pac_conv2d(x, g, torch.randn(3, 4, 3, 3))  # C_in mismatch
        with pytest.raises(ValueError, match="odd"):
            pac_conv2d(x, g, torch.randn(3, 2, 2, 3))
        with pytest.raises(TypeError, match="weight"):
            pac_conv2d(x, g, w.double())
        with pytest.raises(ValueError, match="bias"):
            pac_conv2d(x, g, w, torch.randn(4))
        with pytest.raises(TypeError, match="bias"):
            pac_conv2d(x, g, w, torch.randn(3, dtype=F64))
        with pytest.raises(ValueError, match="batch size"):
            pac_conv2d(x, torch.randn(2, 1, 5, 5), w)
        with pytest.raises(ValueError, match="spatial size"):
            pac_conv2d(x, torch.randn(1, 1, 5, 4), w)
        with pytest.raises(TypeError, match="guide"):
            pac_conv2d(x, g.double(), w)
        with pytest.raises(ValueError, match="device"):
            pac_conv2d(x, g.to("meta"), w)
        with pytest.raises(ValueError, match="stride"):
            pac_conv2d(x, g, w, stride=0)
        with pytest.raises(TypeError, match="stride"):
            pac_conv2d(x, g, w, stride=1.5)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="padding"):
            pac_conv2d(x, g, w, padding=True)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="dilation"):
            pac_conv2d(x, g, w, dilation=(1, 1, 1))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="padding"):
            pac_conv2d(x, g, w, padding=-1)
        with pytest.raises(TypeError, match="normalize_kernel"):
            pac_conv2d(x, g, w, normalize_kernel=1)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="empty"):
            pac_conv2d(x, g, torch.randn(3, 2, 7, 7))
        with pytest.raises(ValueError, match="odd"):
            PacConv2d(2, 3, 4)
        with pytest.raises(ValueError, match="in_channels"):
            PacConv2d(0, 3, 3)
        with pytest.raises(TypeError, match="out_channels"):
            PacConv2d(2, 3.0, 3)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="bias"):
            PacConv2d(2, 3, 3, bias=None)  # type: ignore[arg-type]


class TestPacConvTranspose2d:
    def test_smoke(self, device: torch.device, dtype: torch.dtype) -> None:
        m = PacConvTranspose2d(3, 4, 5, stride=2, padding=2, output_padding=1, device=device, dtype=dtype)
        out = m(_r(2, 3, 4, 5, dtype=dtype, device=device), _r(2, 2, 8, 10, dtype=dtype, device=device))
        assert out.shape == (2, 4, 8, 10) and out.dtype == dtype and torch.isfinite(out).all()

    @pytest.mark.parametrize("k,s,p,op,d", TRANSPOSED_CFGS)
    def test_cardinality(self, k: int, s: int, p: int, op: int, d: int) -> None:
        x, w = _r(1, 2, 4, 5), _r(2, 3, k, k)
        ho, wo = _t_out(4, k, s, p, op, d), _t_out(5, k, s, p, op, d)
        out = pac_conv_transpose2d(x, _r(1, 1, ho, wo), w, None, s, p, op, d)
        assert out.shape == F.conv_transpose2d(x, w, None, s, p, op, 1, d).shape == (1, 3, ho, wo)

    @pytest.mark.parametrize("normalize", [False, True])
    @pytest.mark.parametrize("k,s,p,op,d", TRANSPOSED_CFGS)
    def test_matches_naive(self, k: int, s: int, p: int, op: int, d: int, normalize: bool) -> None:
        ho, wo = _t_out(4, k, s, p, op, d), _t_out(5, k, s, p, op, d)
        x, g, w, b = _r(2, 3, 4, 5), _r(2, 2, ho, wo), _r(3, 4, k, k), _r(4)
        _assert_matches(
            lambda x, g, w, b: pac_conv_transpose2d(x, g, w, b, s, p, op, d, normalize),
            lambda x, g, w, b: naive_pac_conv_transpose2d(x, g, w, b, s, p, op, d, normalize),
            [x, g, w, b],
        )

    def test_matches_naive_float32_rectangular(self) -> None:
        args = ((2, 1), (1, 2), (1, 0), (1, 1))  # stride, padding, output_padding, dilation
        x, w = torch.randn(2, 4, 5, 6), torch.randn(4, 3, 5, 3)
        out_shape = F.conv_transpose2d(x, w, None, *args[:3], 1, args[3]).shape
        g = torch.randn(2, 2, *out_shape[-2:])
        _assert_matches(
            lambda x, g, w: pac_conv_transpose2d(x, g, w, None, *args),
            lambda x, g, w: naive_pac_conv_transpose2d(x, g, w, None, *args),
            [x, g, w],
        )

    @pytest.mark.parametrize("k,s,p,op,d", TRANSPOSED_CFGS)
    def test_constant_guide_equals_conv_transpose2d(self, k: int, s: int, p: int, op: int, d: int) -> None:
        """Unlike pacnet, the kernel is flipped: K = 1 gives exactly F.conv_transpose2d."""
        x, w, b = torch.randn(2, 3, 4, 5), torch.randn(3, 4, k, k) / (3 * k * k) ** 0.5, torch.randn(4)
        ref = F.conv_transpose2d(x, w, b, s, p, op, 1, d)
        out = pac_conv_transpose2d(x, torch.full((2, 3, *ref.shape[-2:]), -1.3), w, b, s, p, op, d)
        torch.testing.assert_close(out, ref, atol=1e-6, rtol=1e-6)

    def test_asymmetric_kernel_is_flipped(self) -> None:
        x = torch.zeros(1, 1, 3, 3)
        x[0, 0, 1, 1] = 1.0
        w = torch.arange(9.0).view(1, 1, 3, 3)
        out = pac_conv_transpose2d(x, torch.zeros(1, 1, 3, 3), w, padding=1)
        assert torch.equal(out, w)  # an impulse reproduces the (unflipped) weight, as nn.ConvTranspose2d

    def test_gradcheck(self) -> None:
        x, g, w, b = (_r(1, 2, 3, 3).requires_grad_(), _r(1, 2, 6, 6).requires_grad_(),
                      _r(2, 2, 3, 3).requires_grad_(), _r(2).requires_grad_())
        assert gradcheck(
            lambda *a: pac_conv_transpose2d(*a, stride=2, padding=1, output_padding=1), (x, g, w, b), fast_mode=True
        )
        assert gradcheck(
            lambda *a: pac_conv_transpose2d(*a, stride=2, padding=1, output_padding=1, normalize_kernel=True),
            (x, g, w, b), fast_mode=True,
        )

    def test_module(self) -> None:
        m = PacConvTranspose2d(3, 4, 5, stride=2, padding=2, output_padding=1, normalize_kernel=True)
        x, g = torch.randn(2, 3, 4, 4), torch.randn(2, 2, 8, 8)
        assert torch.equal(m(x, g), pac_conv_transpose2d(x, g, m.weight, m.bias, 2, 2, 1, 1, True))
        assert m.weight.shape == (3, 4, 5, 5) and m.bias.shape == (4,)
        assert "output_padding=(1, 1)" in repr(m)

    def test_exception(self) -> None:
        x, w = torch.randn(1, 2, 3, 3), torch.randn(2, 3, 3, 3)
        g = torch.randn(1, 1, 6, 6)
        with pytest.raises(ValueError, match="weight"):
            pac_conv_transpose2d(x, g, torch.randn(3, 2, 3, 3), stride=2, padding=1, output_padding=1)
        with pytest.raises(ValueError, match="bias"):
            pac_conv_transpose2d(x, g, w, torch.randn(2), stride=2, padding=1, output_padding=1)
        with pytest.raises(ValueError, match="output size"):
            pac_conv_transpose2d(x, torch.randn(1, 1, 3, 3), w, stride=2, padding=1, output_padding=1)
        with pytest.raises(ValueError, match="output_padding"):
            pac_conv_transpose2d(x, g, w, stride=2, padding=1, output_padding=2)
        with pytest.raises(ValueError, match="odd"):
            pac_conv_transpose2d(x, g, torch.randn(2, 3, 4, 4))
        with pytest.raises(ValueError, match="empty"):
            pac_conv_transpose2d(torch.randn(1, 2, 1, 1), g, w, padding=2)
        with pytest.raises(ValueError, match="output_padding"):
            PacConvTranspose2d(2, 3, 3, stride=2, output_padding=2)
        with pytest.raises(ValueError, match="odd"):
            PacConvTranspose2d(2, 3, (3, 2))


class TestPacPool2d:
    def test_smoke(self, device: torch.device, dtype: torch.dtype) -> None:
        out = PacPool2d(3, padding=1)(_r(2, 3, 6, 5, dtype=dtype, device=device), _r(2, 2, 6, 5, dtype=dtype, device=device))
        assert out.shape == (2, 3, 6, 5) and out.dtype == dtype and torch.isfinite(out).all()

    @pytest.mark.parametrize("channel_wise", [False, True])
    @pytest.mark.parametrize("normalize", [False, True])
    @pytest.mark.parametrize("k,s,p,d", [(3, 1, 1, 1), (3, 2, 1, 1), (5, 1, 4, 2)])
    def test_matches_naive(self, k: int, s: int, p: int, d: int, normalize: bool, channel_wise: bool) -> None:
        x, g = _r(2, 3, 9, 8), _r(2, 3 if channel_wise else 2, 9, 8)
        _assert_matches(
            lambda x, g: pac_pool2d(x, g, k, s, p, d, normalize, channel_wise),
            lambda x, g: naive_pac_pool2d(x, g, k, s, p, d, normalize, channel_wise),
            [x, g],
        )

    def test_constant_guide(self) -> None:
        x, g = torch.randn(2, 3, 7, 6), torch.full((2, 3, 7, 6), 2.0)
        avg = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
        torch.testing.assert_close(pac_pool2d(x, g, 3, 2, 1), avg, atol=1e-6, rtol=0)
        torch.testing.assert_close(pac_pool2d(x, g, 3, 2, 1, channel_wise=True), avg, atol=1e-6, rtol=0)
        total = F.avg_pool2d(x, 3, 2, 1, count_include_pad=True) * 9
        torch.testing.assert_close(pac_pool2d(x, g, 3, 2, 1, normalize_kernel=False), total, atol=1e-5, rtol=0)

    def test_normalized_is_convex_combination(self) -> None:
        x, g = torch.rand(1, 2, 8, 8), torch.randn(1, 3, 8, 8) * 3
        out = pac_pool2d(x, g, 5, padding=2)
        assert out.min() >= x.min() - 1e-6 and out.max() <= x.max() + 1e-6

    def test_gradcheck(self) -> None:
        x, g = _r(1, 2, 5, 4).requires_grad_(), _r(1, 2, 5, 4).requires_grad_()
        assert gradcheck(lambda x, g: pac_pool2d(x, g, 3, 1, 1), (x, g), fast_mode=True)
        assert gradcheck(lambda x, g: pac_pool2d(x, g, 3, 2, 1, 1, False, True), (x, g), fast_mode=True)

    def test_module(self) -> None:
        m = PacPool2d(3, stride=2, padding=1, channel_wise=True)
        x, g = torch.randn(1, 2, 6, 6), torch.randn(1, 2, 6, 6)
        assert torch.equal(m(x, g), pac_pool2d(x, g, 3, 2, 1, 1, True, True))
        assert "channel_wise=True" in repr(m) and not list(m.parameters())

    def test_exception(self) -> None:
        x, g = torch.randn(1, 2, 5, 5), torch.randn(1, 3, 5, 5)
        with pytest.raises(ValueError, match="channel_wise"):
            pac_pool2d(x, g, 3, channel_wise=True)
        with pytest.raises(ValueError, match="kernel_size"):
            pac_pool2d(x, g, 2)
        with pytest.raises(TypeError, match="channel_wise"):
            pac_pool2d(x, g, 3, channel_wise="yes")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="empty"):
            pac_pool2d(x, g, 7)
        with pytest.raises(ValueError, match="guide"):
            pac_pool2d(x, torch.randn(1, 3, 5), 3)
        with pytest.raises(ValueError, match="kernel_size"):
            PacPool2d(4)


# ------------------------------------------------------------------------------------------------
# property tests
# ------------------------------------------------------------------------------------------------

conv_cfg = st.tuples(
    st.sampled_from([1, 3, 5]), st.integers(1, 3), st.integers(0, 3), st.integers(1, 2),  # k, s, p, d
    st.integers(5, 9), st.integers(5, 9), st.integers(1, 3), st.integers(1, 3),  # h, w, c_in, c_g
    st.integers(0, 2**31 - 1),
)
transposed_cfg = st.tuples(
    st.sampled_from([1, 3, 5]), st.integers(1, 3), st.integers(0, 3), st.integers(0, 2), st.integers(1, 2),
    st.integers(2, 5), st.integers(2, 5), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**31 - 1),
)


def _conv_case(cfg):
    k, s, p, d, h, w, c, cg, seed = cfg
    torch.manual_seed(seed)
    if h + 2 * p < d * (k - 1) + 1 or w + 2 * p < d * (k - 1) + 1:
        return None
    return (k, s, p, d), _r(2, c, h, w), _r(2, cg, h, w), _r(3, c, k, k)


def _transposed_case(cfg):
    k, s, p, op, d, h, w, c, cg, seed = cfg
    torch.manual_seed(seed)
    op = min(op, max(s, d) - 1)
    ho, wo = _t_out(h, k, s, p, op, d), _t_out(w, k, s, p, op, d)
    if ho < 1 or wo < 1:
        return None
    return (k, s, p, op, d), _r(2, c, h, w), _r(2, cg, ho, wo), _r(c, 3, k, k)


@settings(max_examples=10)
@given(conv_cfg, st.floats(-5, 5))
def test_property_conv_constant_guide(cfg, value: float) -> None:
    case = _conv_case(cfg)
    if case is None:
        return
    (k, s, p, d), x, g, w = case
    out = pac_conv2d(x, torch.full_like(g, value), w, None, s, p, d)
    torch.testing.assert_close(out, F.conv2d(x, w, None, s, p, d), atol=1e-10, rtol=0)


@settings(max_examples=10)
@given(transposed_cfg, st.floats(-5, 5))
def test_property_transposed_constant_guide(cfg, value: float) -> None:
    case = _transposed_case(cfg)
    if case is None:
        return
    (k, s, p, op, d), x, g, w = case
    out = pac_conv_transpose2d(x, torch.full_like(g, value), w, None, s, p, op, d)
    torch.testing.assert_close(out, F.conv_transpose2d(x, w, None, s, p, op, 1, d), atol=1e-10, rtol=0)


@settings(max_examples=10)
@given(conv_cfg)
def test_property_conv_bounded_by_abs_conv(cfg) -> None:
    """K <= 1, so |pac(x)| <= conv(|x|, |W|)."""
    case = _conv_case(cfg)
    if case is None:
        return
    (k, s, p, d), x, g, w = case
    out = pac_conv2d(x, g * 3, w, None, s, p, d)
    assert (out.abs() <= F.conv2d(x.abs(), w.abs(), None, s, p, d) + 1e-12).all()


@settings(max_examples=10)
@given(transposed_cfg)
def test_property_transposed_bounded_by_abs_conv(cfg) -> None:
    case = _transposed_case(cfg)
    if case is None:
        return
    (k, s, p, op, d), x, g, w = case
    out = pac_conv_transpose2d(x, g * 3, w, None, s, p, op, d)
    assert (out.abs() <= F.conv_transpose2d(x.abs(), w.abs(), None, s, p, op, 1, d) + 1e-12).all()


@settings(max_examples=10)
@given(conv_cfg, st.floats(-20, 20), st.booleans())
def test_property_conv_guide_shift_invariant(cfg, shift: float, normalize: bool) -> None:
    """K depends only on guide differences."""
    case = _conv_case(cfg)
    if case is None:
        return
    (k, s, p, d), x, g, w = case
    a = pac_conv2d(x, g, w, None, s, p, d, normalize)
    b = pac_conv2d(x, g + shift, w, None, s, p, d, normalize)
    torch.testing.assert_close(a, b, atol=1e-9, rtol=1e-9)


@settings(max_examples=10)
@given(transposed_cfg, st.floats(-20, 20), st.booleans())
def test_property_transposed_guide_shift_invariant(cfg, shift: float, normalize: bool) -> None:
    case = _transposed_case(cfg)
    if case is None:
        return
    (k, s, p, op, d), x, g, w = case
    a = pac_conv_transpose2d(x, g, w, None, s, p, op, d, normalize)
    b = pac_conv_transpose2d(x, g + shift, w, None, s, p, op, d, normalize)
    torch.testing.assert_close(a, b, atol=1e-9, rtol=1e-9)


@settings(max_examples=10)
@given(transposed_cfg, st.booleans())
def test_property_transposed_matches_naive(cfg, normalize: bool) -> None:
    case = _transposed_case(cfg)
    if case is None:
        return
    (k, s, p, op, d), x, g, w = case
    out = pac_conv_transpose2d(x, g, w, None, s, p, op, d, normalize)
    ref = naive_pac_conv_transpose2d(x, g, w, None, s, p, op, d, normalize)
    torch.testing.assert_close(out, ref, atol=1e-10, rtol=0)


def test_autocast_bf16_runs_in_float32() -> None:
    from stvsr_blocks.flow.pac import PacConv2d, PacConvTranspose2d

    torch.manual_seed(0)
    conv = PacConv2d(4, 3, 3, padding=1)
    convt = PacConvTranspose2d(3, 2, 5, stride=2, padding=2, output_padding=1)
    x, g, g2 = torch.rand(1, 4, 8, 8), torch.rand(1, 2, 8, 8), torch.rand(1, 2, 16, 16)
    ref = convt(conv(x, g), g2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = convt(conv(x.bfloat16(), g), g2)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref, atol=0.05, rtol=0.05)  # the input itself was rounded to bf16
    out.sum().backward()
    assert conv.weight.grad is not None and torch.isfinite(conv.weight.grad).all()


def _layout(t: torch.Tensor, kind: str) -> torch.Tensor:
    """The same values in another memory layout: channels_last, or a non-contiguous strided view."""
    if kind == "channels_last":
        return t.contiguous(memory_format=torch.channels_last)
    if kind == "strided":  # every other element of a twice-as-wide buffer: a view with stride 2 in W
        big = t.new_zeros(*t.shape[:-1], 2 * t.shape[-1])
        big[..., ::2] = t
        return big[..., ::2]
    return t


@settings(max_examples=10, deadline=None)
@given(conv_cfg, transposed_cfg, st.sampled_from(["channels_last", "strided"]), st.booleans())
def test_property_memory_layout_does_not_change_results(cfg, tcfg, kind: str, normalize: bool) -> None:
    """PAC's custom autograd functions give the same outputs and input gradients whatever the memory layout
    of ``x``, ``guide`` and ``weight`` (the inference path feeds channels_last tensors)."""
    for fn, case in ((pac_conv2d, _conv_case(cfg)), (pac_conv_transpose2d, _transposed_case(tcfg))):
        if case is None:
            continue
        args, x, g, w = case
        if fn is pac_conv_transpose2d:
            k, s, p, op, d = args
            extra = (s, p, op, d, normalize)
        else:
            k, s, p, d = args
            extra = (s, p, d, normalize)
        ref_in = [t.clone().requires_grad_() for t in (x, g, w)]
        alt_in = [_layout(t.detach(), kind).requires_grad_() for t in (x, g, w)]
        assert kind != "strided" or not alt_in[0].is_contiguous()
        ref, alt = fn(*ref_in[:3], None, *extra), fn(*alt_in[:3], None, *extra)
        torch.testing.assert_close(alt, ref, atol=1e-12, rtol=0)
        go = torch.randn_like(ref)
        gr = torch.autograd.grad(ref, ref_in, go)
        ga = torch.autograd.grad(alt, alt_in, go)
        for a, b in zip(ga, gr, strict=True):
            torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
