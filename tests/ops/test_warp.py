from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from stvsr_blocks.ops import BackwardWarp, backward_warp, base_grid
from stvsr_blocks.testing import assert_cpu_gpu_parity


class TestBackwardWarp:
    def test_smoke(self, device, dtype):
        img = torch.rand(2, 3, 8, 9, device=device, dtype=dtype)
        flow = torch.randn(2, 2, 8, 9, device=device, dtype=dtype)
        out = backward_warp(img, flow)
        assert out.shape == img.shape and out.dtype == dtype and out.device.type == device.type

    @pytest.mark.parametrize("channels", [1, 2, 3, 7, 64])
    def test_cardinality_any_channels(self, channels):
        out = backward_warp(torch.rand(1, channels, 5, 6), torch.zeros(1, 2, 5, 6))
        assert out.shape == (1, channels, 5, 6)

    def test_exception(self):
        img, flow = torch.rand(1, 3, 4, 4), torch.zeros(1, 2, 4, 4)
        with pytest.raises(TypeError, match="image: expected a torch.Tensor"):
            backward_warp([1.0], flow)
        with pytest.raises(TypeError, match="image: expected a floating-point"):
            backward_warp(torch.ones(1, 3, 4, 4, dtype=torch.long), flow)
        with pytest.raises(ValueError, match=r"image: expected a 4-D tensor .*got shape \(3, 4, 4\)"):
            backward_warp(img[0], flow)
        with pytest.raises(ValueError, match=r"flow: expected shape \(B, 2, H, W\).*got shape \(1, 3, 4, 4\)"):
            backward_warp(img, torch.zeros(1, 3, 4, 4))
        with pytest.raises(ValueError, match="share batch size and spatial size"):
            backward_warp(img, torch.zeros(1, 2, 4, 5))
        with pytest.raises(ValueError, match="share batch size and spatial size"):
            backward_warp(img, torch.zeros(2, 2, 4, 4))

    def test_mixed_dtypes_promote(self):
        img, flow = torch.rand(1, 3, 4, 4), torch.randn(1, 2, 4, 4, dtype=torch.float64)
        out = backward_warp(img.bfloat16(), flow)
        assert out.dtype == torch.float64
        assert torch.allclose(out, backward_warp(img.bfloat16().double(), flow))

    @pytest.mark.gpu
    def test_exception_device(self):
        with pytest.raises(ValueError, match="same device"):
            backward_warp(torch.rand(1, 3, 4, 4), torch.zeros(1, 2, 4, 4, device="cuda"))

    def test_shift_convention(self):
        # SPEC §5 unit test: content shifted +2 px in x needs flow x = -2.
        x = torch.linspace(0, 1, 32).repeat(1, 3, 16, 1)
        shifted = torch.roll(x, 2, dims=-1)
        flow = torch.zeros(1, 2, 16, 32)
        flow[:, 0] = -2.0
        out = backward_warp(x, flow)
        assert torch.allclose(out[..., 2:], shifted[..., 2:], atol=1e-6)

    def test_border_padding(self):
        img = torch.arange(4.0).view(1, 1, 1, 4).expand(1, 1, 3, 4).contiguous()
        flow = torch.zeros(1, 2, 3, 4)
        flow[:, 0] = 10.0
        assert torch.equal(backward_warp(img, flow), torch.full_like(img, 3.0))
        flow[:, 0] = -10.0
        assert torch.equal(backward_warp(img, flow), torch.zeros_like(img))

    def test_half_pixel_is_bilinear(self):
        img = torch.tensor([[[[0.0, 2.0, 4.0]]]])
        flow = torch.zeros(1, 2, 1, 3)
        flow[:, 0] = 0.5
        assert torch.allclose(backward_warp(img, flow), torch.tensor([[[[1.0, 3.0, 4.0]]]]))

    def test_single_pixel_dims(self):
        img = torch.rand(1, 3, 1, 1)
        assert torch.allclose(backward_warp(img, torch.randn(1, 2, 1, 1)), img)

    @given(
        h=st.integers(2, 12), w=st.integers(2, 12), c=st.integers(1, 4), seed=st.integers(0, 10_000)
    )
    def test_zero_flow_is_identity(self, h, w, c, seed):
        g = torch.Generator().manual_seed(seed)
        img = torch.rand(2, c, h, w, generator=g, dtype=torch.float64)
        out = backward_warp(img, torch.zeros(2, 2, h, w, dtype=torch.float64))
        assert torch.allclose(out, img, atol=1e-12)

    @given(
        dx=st.integers(-4, 4), dy=st.integers(-4, 4), h=st.integers(9, 16), w=st.integers(9, 16),
        seed=st.integers(0, 10_000),
    )
    def test_integer_translation_undone_exactly(self, dx, dy, h, w, seed):
        g = torch.Generator().manual_seed(seed)
        a = torch.rand(1, 3, h, w, generator=g, dtype=torch.float64)
        b = torch.roll(a, shifts=(dy, dx), dims=(-2, -1))  # content moved by (+dx, +dy)
        flow = torch.zeros(1, 2, h, w, dtype=torch.float64)
        flow[:, 0], flow[:, 1] = -dx, -dy
        out = backward_warp(a, flow)
        ys = slice(max(dy, 0), h + min(dy, 0))
        xs = slice(max(dx, 0), w + min(dx, 0))
        assert torch.allclose(out[..., ys, xs], b[..., ys, xs], atol=1e-12)

    @given(h=st.integers(2, 10), w=st.integers(2, 10), seed=st.integers(0, 10_000))
    def test_hflip_equivariance(self, h, w, seed):
        g = torch.Generator().manual_seed(seed)
        img = torch.rand(1, 2, h, w, generator=g, dtype=torch.float64)
        flow = torch.randn(1, 2, h, w, generator=g, dtype=torch.float64) * 3
        flipped_flow = flow.flip(-1)
        flipped_flow[:, 0] = -flipped_flow[:, 0]
        lhs = backward_warp(img.flip(-1), flipped_flow)
        rhs = backward_warp(img, flow).flip(-1)
        assert torch.allclose(lhs, rhs, atol=1e-10)

    @given(h=st.integers(2, 10), w=st.integers(2, 10), seed=st.integers(0, 10_000))
    def test_vflip_equivariance(self, h, w, seed):
        g = torch.Generator().manual_seed(seed)
        img = torch.rand(1, 2, h, w, generator=g, dtype=torch.float64)
        flow = torch.randn(1, 2, h, w, generator=g, dtype=torch.float64) * 3
        ff = flow.flip(-2)
        ff[:, 1] = -ff[:, 1]
        assert torch.allclose(backward_warp(img.flip(-2), ff), backward_warp(img, flow).flip(-2), atol=1e-10)

    @given(seed=st.integers(0, 10_000))
    def test_convex_combination(self, seed):
        # Bilinear sampling with border padding never leaves the input's value range.
        g = torch.Generator().manual_seed(seed)
        img = torch.rand(1, 1, 6, 7, generator=g, dtype=torch.float64)
        out = backward_warp(img, torch.randn(1, 2, 6, 7, generator=g, dtype=torch.float64) * 5)
        assert out.min() >= img.min() - 1e-12 and out.max() <= img.max() + 1e-12

    def test_gradcheck(self):
        img = torch.rand(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
        # keep sample points away from pixel-grid kinks (bilinear is piecewise linear)
        flow = (torch.rand(1, 2, 5, 6, dtype=torch.float64) * 0.6 + 0.2).requires_grad_()
        assert torch.autograd.gradcheck(backward_warp, (img, flow))

    def test_module(self):
        img, flow = torch.rand(1, 3, 4, 5), torch.randn(1, 2, 4, 5)
        assert torch.equal(BackwardWarp()(img, flow), backward_warp(img, flow))

    def test_compile(self):
        img, flow = torch.rand(1, 3, 8, 8), torch.randn(1, 2, 8, 8)
        try:
            compiled = torch.compile(backward_warp, backend="eager", fullgraph=False)
        except Exception as e:  # pragma: no cover - compile unsupported on this build
            pytest.skip(f"torch.compile unavailable: {e}")
        assert torch.allclose(compiled(img, flow), backward_warp(img, flow))

    def test_base_grid(self):
        g = base_grid(3, 4)
        assert g.shape == (1, 2, 3, 4)
        assert torch.equal(g[0, 0, 2], torch.arange(4.0)) and torch.equal(g[0, 1, :, 3], torch.arange(3.0))

    @pytest.mark.gpu
    def test_gpu_parity(self):
        img, flow = torch.rand(2, 3, 16, 16), torch.randn(2, 2, 16, 16) * 3
        assert_cpu_gpu_parity(BackwardWarp, img, flow, atol=1e-5)
