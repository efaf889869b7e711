from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from stvsr_blocks.ops import (
    QuadraticFlowInterpolation,
    backward_warp,
    flow_smoothness,
    linear_flow_interpolation,
    quadratic_flow_interpolation,
    resize_flow,
    reverse_flow,
    scale_flow_xy,
)

ts = st.floats(0.0, 1.0, allow_nan=False)


def _flows(seed, h=4, w=5):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(2, 2, h, w, generator=g, dtype=torch.float64),
            torch.randn(2, 2, h, w, generator=g, dtype=torch.float64))


class TestQuadraticFlowInterpolation:
    def test_smoke(self, device, dtype):
        f = torch.randn(1, 2, 4, 4, device=device, dtype=dtype)
        a, b = quadratic_flow_interpolation(f, -f, 0.5)
        assert a.shape == b.shape == f.shape and a.dtype == dtype

    def test_midpoint_formula(self):
        # SPEC §5: at t=0.5 flow_0tot = 0.25 f01 - 0.25 f10 and flow_1tot = -flow_0tot.
        f01, f10 = _flows(0)
        a, b = quadratic_flow_interpolation(f01, f10, 0.5)
        assert torch.allclose(a, 0.25 * f01 - 0.25 * f10)
        assert torch.allclose(b, -a)

    def test_general_t_formula_by_hand(self):
        f01 = torch.full((1, 2, 1, 1), 4.0, dtype=torch.float64)
        f10 = torch.full((1, 2, 1, 1), -2.0, dtype=torch.float64)
        a, b = quadratic_flow_interpolation(f01, f10, 0.25)
        # a = t^2 f01 - t(1-t) f10 = 0.0625*4 + 0.1875*2 ; b = (1-t)^2 f10 - t(1-t) f01
        assert a.flatten()[0].item() == pytest.approx(0.25 + 0.375)
        assert b.flatten()[0].item() == pytest.approx(0.5625 * -2 - 0.1875 * 4)

    @given(t=ts, seed=st.integers(0, 1000))
    def test_linear_motion_gives_scaled_flows(self, t, seed):
        f01, _ = _flows(seed)
        a, b = quadratic_flow_interpolation(f01, -f01, t)
        la, lb = linear_flow_interpolation(f01, -f01, t)
        assert torch.allclose(a, t * f01, atol=1e-12) and torch.allclose(b, (1 - t) * -f01, atol=1e-12)
        assert torch.allclose(a, la, atol=1e-12) and torch.allclose(b, lb, atol=1e-12)

    @given(seed=st.integers(0, 1000))
    def test_endpoints(self, seed):
        f01, f10 = _flows(seed)
        a0, b0 = quadratic_flow_interpolation(f01, f10, 0.0)
        a1, b1 = quadratic_flow_interpolation(f01, f10, 1.0)
        assert torch.equal(a0, torch.zeros_like(a0)) and torch.allclose(b0, f10)
        assert torch.allclose(a1, f01) and torch.equal(b1, torch.zeros_like(b1))

    @given(t=ts, seed=st.integers(0, 1000))
    def test_time_reversal_symmetry(self, t, seed):
        # Swapping the frames and t -> 1-t swaps the outputs.
        f01, f10 = _flows(seed)
        a, b = quadratic_flow_interpolation(f01, f10, t)
        a2, b2 = quadratic_flow_interpolation(f10, f01, 1 - t)
        assert torch.allclose(a, b2, atol=1e-12) and torch.allclose(b, a2, atol=1e-12)

    @given(t=ts, seed=st.integers(0, 1000))
    def test_paper_coefficients_agree_at_half_only(self, t, seed):
        f01, f10 = _flows(seed)
        s = quadratic_flow_interpolation(f01, f10, t)
        p = quadratic_flow_interpolation(f01, f10, t, coefficients="paper")
        c = t * (1 - t)
        assert torch.allclose(s[0], t**2 * f01 - c * f10, atol=1e-12)
        assert torch.allclose(s[1], (1 - t) ** 2 * f10 - c * f01, atol=1e-12)
        assert torch.allclose(p[0], (1 - t) ** 2 * f01 - c * f10, atol=1e-12)
        assert torch.allclose(p[1], t**2 * f10 - c * f01, atol=1e-12)
        # s - p = (2t - 1) (f01, -f10): zero at t = 1/2 only (the flows are random, never zero)
        assert torch.allclose(s[0] - p[0], (2 * t - 1) * f01, atol=1e-12)
        assert torch.allclose(s[1] - p[1], (1 - 2 * t) * f10, atol=1e-12)
        if t == 0.5:
            assert torch.equal(s[0], p[0]) and torch.equal(s[1], p[1])
        elif abs(t - 0.5) > 1e-3:
            assert (s[0] - p[0]).abs().max() > 1e-4 and (s[1] - p[1]).abs().max() > 1e-4, t

    @pytest.mark.parametrize("t", [0.5, 0.25, 0.0, 1.0])
    def test_paper_coefficients_agree_at_half_only_fixed(self, t):
        f01, f10 = _flows(3)
        s = quadratic_flow_interpolation(f01, f10, t)
        p = quadratic_flow_interpolation(f01, f10, t, coefficients="paper")
        assert torch.equal(s[0], p[0]) == (t == 0.5)

    def test_exception(self):
        f = torch.zeros(1, 2, 4, 4)
        with pytest.raises(ValueError, match="flow_0to1: expected shape"):
            quadratic_flow_interpolation(torch.zeros(1, 3, 4, 4), f)
        with pytest.raises(ValueError, match="flow_1to0: expected a 4-D"):
            quadratic_flow_interpolation(f, torch.zeros(2, 4, 4))
        with pytest.raises(ValueError, match="must have matching shape"):
            quadratic_flow_interpolation(f, torch.zeros(1, 2, 4, 5))
        with pytest.raises(ValueError, match=r"t: expected a value in \[0.0, 1.0\], got 1.5"):
            quadratic_flow_interpolation(f, f, 1.5)
        with pytest.raises(TypeError, match="t: expected a float"):
            quadratic_flow_interpolation(f, f, "half")
        with pytest.raises(ValueError, match="coefficients"):
            quadratic_flow_interpolation(f, f, 0.5, coefficients="cubic")
        with pytest.raises(ValueError, match="coefficients"):
            QuadraticFlowInterpolation(0.5, coefficients="cubic")
        with pytest.raises(ValueError, match="t: expected"):
            linear_flow_interpolation(f, f, -0.1)

    def test_tensor_t_accepted(self):
        f = torch.ones(1, 2, 2, 2)
        a, _ = quadratic_flow_interpolation(f, -f, torch.tensor(0.5))
        assert torch.allclose(a, 0.5 * f)

    def test_gradcheck(self):
        f01, f10 = (x.requires_grad_() for x in _flows(3))
        assert torch.autograd.gradcheck(lambda a, b: quadratic_flow_interpolation(a, b, 0.3), (f01, f10))

    def test_module(self):
        f01, f10 = _flows(4)
        m = QuadraticFlowInterpolation(0.3, "paper")
        ref = quadratic_flow_interpolation(f01, f10, 0.3, coefficients="paper")
        assert all(torch.equal(x, y) for x, y in zip(m(f01, f10), ref))


class TestResizeFlow:
    def test_values_scale(self):
        f = torch.ones(1, 2, 4, 6)
        out = resize_flow(f, scale=4)
        assert out.shape == (1, 2, 16, 24) and torch.allclose(out, torch.full_like(out, 4.0))

    def test_anisotropic_size(self):
        f = torch.ones(1, 2, 4, 4)
        out = resize_flow(f, size=(8, 16))
        assert torch.allclose(out[:, 0], torch.full_like(out[:, 0], 4.0))
        assert torch.allclose(out[:, 1], torch.full_like(out[:, 1], 2.0))

    def test_same_size_is_noop(self):
        f = torch.randn(1, 2, 4, 4)
        assert resize_flow(f, size=(4, 4)) is f

    @given(k=st.sampled_from([2, 4]), seed=st.integers(0, 1000))
    def test_up_then_down_identity_on_smooth(self, k, seed):
        g = torch.Generator().manual_seed(seed)
        coarse = torch.randn(1, 2, 3, 3, generator=g, dtype=torch.float64)
        smooth = torch.nn.functional.interpolate(coarse, size=(24, 24), mode="bicubic", align_corners=True)
        back = resize_flow(resize_flow(smooth, scale=k, mode="bilinear"), scale=1 / k, mode="area")
        assert torch.allclose(back[..., 2:-2, 2:-2], smooth[..., 2:-2, 2:-2], atol=0.05 * smooth.abs().max())

    def test_warp_consistency_under_resize(self):
        # A constant flow that warps correctly at LR warps correctly at HR after resize_flow.
        lr_flow = torch.zeros(1, 2, 8, 64, dtype=torch.float64)
        lr_flow[:, 0] = -1.0
        hr = torch.linspace(0, 1, 256, dtype=torch.float64).repeat(1, 1, 32, 1)
        out = backward_warp(hr, resize_flow(lr_flow, scale=4))
        assert torch.allclose(out[..., 4:], hr[..., :-4], atol=1e-9)

    def test_exception(self):
        f = torch.zeros(1, 2, 4, 4)
        with pytest.raises(ValueError, match="exactly one of size and scale"):
            resize_flow(f)
        with pytest.raises(ValueError, match="exactly one of size and scale"):
            resize_flow(f, (8, 8), scale=2)
        with pytest.raises(ValueError, match="scale: expected a positive number"):
            resize_flow(f, scale=0)
        with pytest.raises(ValueError, match="size: expected two positive ints"):
            resize_flow(f, size=(8,))
        with pytest.raises(ValueError, match="flow: expected shape"):
            resize_flow(torch.zeros(1, 3, 4, 4), scale=2)

    def test_scale_flow_xy(self):
        out = scale_flow_xy(torch.ones(1, 2, 1, 1), 2.0, 3.0)
        assert out.flatten().tolist() == [2.0, 3.0]


class TestFlowSmoothness:
    def test_constant_is_zero(self):
        assert flow_smoothness(torch.full((2, 2, 5, 5), 3.0)).item() == 0.0

    def test_hand_computation(self):
        f = torch.zeros(1, 2, 3, 3)
        f[0, 0] = torch.tensor([[0.0, 1.0, 3.0], [0.0, 0.0, 0.0], [2.0, 2.0, 2.0]])
        # core = f[:, :, :2, :2]; dy over rows 0,1 / cols 0,1 ; dx over rows 0,1 / cols 0,1
        dy = abs(0 - 0) + abs(1 - 0) + abs(0 - 2) + abs(0 - 2)
        dx = abs(0 - 1) + abs(1 - 3) + abs(0 - 0) + abs(0 - 0)
        assert flow_smoothness(f).item() == pytest.approx((dy + dx) / (1 * 2 * 2))

    @given(seed=st.integers(0, 1000), c=st.floats(-5, 5))
    def test_invariant_to_constant_offset(self, seed, c):
        f, _ = _flows(seed)
        assert torch.allclose(flow_smoothness(f + c), flow_smoothness(f), atol=1e-9)

    def test_exception(self):
        assert flow_smoothness(torch.ones(1, 2, 1, 4)).item() == 0.0  # degenerate: no neighbour pairs
        with pytest.raises(ValueError, match="flow: expected"):
            flow_smoothness(torch.zeros(1, 2, 4))

    def test_gradcheck(self):
        f = (torch.randn(1, 2, 4, 4, dtype=torch.float64) * 3).requires_grad_()
        assert torch.autograd.gradcheck(flow_smoothness, (f,))


def test_reverse_flow():
    f = torch.randn(1, 2, 3, 3)
    assert torch.equal(reverse_flow(f), -f)
    with pytest.raises(ValueError, match="flow: expected"):
        reverse_flow(torch.zeros(1, 1, 3, 3))
