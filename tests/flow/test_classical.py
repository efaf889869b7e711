from __future__ import annotations

import math

import pytest
import torch

from stvsr_blocks.flow.classical import ClassicalFlowEstimator, rgb_to_luma
from stvsr_blocks.interfaces import FlowPyramid
from stvsr_blocks.ops.warp import backward_warp
from stvsr_blocks.testing import assert_cpu_gpu_parity, check_flow_estimator

M = 8  # interior margin used for accuracy checks


def _texture(x: torch.Tensor, y: torch.Tensor, seed: int = 0, n: int = 12) -> torch.Tensor:
    """Smooth RGB texture: a sum of random sinusoids evaluated at (x, y), so sub-pixel shifts are exact."""
    g = torch.Generator().manual_seed(seed)
    out = torch.zeros(3, *x.shape, dtype=torch.float64)
    for c in range(3):
        for _ in range(n):
            f, th, ph, a = torch.rand(4, generator=g, dtype=torch.float64).unbind()
            f, th, ph, a = 0.05 + 0.55 * f, 2 * math.pi * th, 2 * math.pi * ph, 0.5 / n * (0.5 + a)
            out[c] += a * torch.sin(f * (torch.cos(th) * x + torch.sin(th) * y) + ph)
    return (0.5 + out).clamp(0, 1)


def _shifted_pair(shift: tuple[float, float], size: int = 64, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """frame1 is frame0's content moved by ``shift`` px, so the true flow_0to1 is ``-shift``."""
    r = torch.arange(size, dtype=torch.float64)
    gy, gx = torch.meshgrid(r, r, indexing="ij")
    f0 = _texture(gx, gy, seed)
    f1 = _texture(gx - shift[0], gy - shift[1], seed)
    truth = torch.tensor([-shift[0], -shift[1]], dtype=torch.float32).view(1, 2, 1, 1).expand(1, 2, size, size)
    return f0[None].float(), f1[None].float(), truth


class TestClassicalFlowEstimator:
    def test_smoke(self) -> None:
        out = ClassicalFlowEstimator()(torch.rand(2, 3, 20, 28), torch.rand(2, 3, 20, 28))
        assert isinstance(out, FlowPyramid)
        assert out.flow_0to1.shape == (2, 2, 20, 28)

    def test_conformance(self) -> None:
        est = ClassicalFlowEstimator()
        assert sum(p.numel() for p in est.parameters()) == 0
        check_flow_estimator(est)
        check_flow_estimator(est, lr_size=(24, 40), batch=1)

    def test_cardinality_levels(self) -> None:
        out = ClassicalFlowEstimator(levels=4)(torch.rand(1, 3, 64, 48), torch.rand(1, 3, 64, 48))
        # 8x6 would have a side below min_size=8, so the pyramid stops at 16x12.
        assert [tuple(a.shape[-2:]) for a, _ in out.levels] == [(16, 12), (32, 24), (64, 48)]
        assert out.levels[-1][0] is out.flow_0to1 and out.levels[-1][1] is out.flow_1to0
        # min_size stops the pyramid early; levels=1 is single-scale.
        small = torch.rand(1, 3, 12, 12)
        assert len(ClassicalFlowEstimator(levels=4, min_size=8)(small, small).levels) == 1
        assert len(ClassicalFlowEstimator(levels=1)(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)).levels) == 1
        odd = ClassicalFlowEstimator()(torch.rand(1, 3, 33, 45), torch.rand(1, 3, 33, 45))
        assert odd.flow_1to0.shape == (1, 2, 33, 45)
        assert [tuple(a.shape[-2:]) for a, _ in odd.levels] == [(9, 12), (17, 23), (33, 45)]

    @pytest.mark.parametrize("shift", [(1.5, -0.75), (3.0, 2.0)])
    def test_translation_accuracy(self, shift: tuple[float, float]) -> None:
        f0, f1, truth = _shifted_pair(shift)
        out = ClassicalFlowEstimator()(f0, f1)
        interior = (slice(None), slice(None), slice(M, -M), slice(M, -M))
        for est, want in ((out.flow_0to1, truth), (out.flow_1to0, -truth)):
            err = (est - want)[interior]
            assert err[:, 0].median().abs() < 0.25 and err[:, 1].median().abs() < 0.25
            assert err.norm(dim=1).median() < 0.25
        # Library convention: warping frame0 with flow_0to1 reproduces frame1 (and vice versa).
        no_warp = (f0 - f1)[interior].abs().mean()
        assert (backward_warp(f0, out.flow_0to1) - f1)[interior].abs().mean() * 3 < no_warp
        assert (backward_warp(f1, out.flow_1to0) - f0)[interior].abs().mean() * 3 < no_warp

    def test_orientation_integer_shift(self) -> None:
        # Content moves +3 px in x from frame 0 to frame 1, so flow_0to1 is -3 in x (channel 0).
        f0, f1, _ = _shifted_pair((3.0, 0.0))
        out = ClassicalFlowEstimator()(f0, f1)
        med = out.flow_0to1[..., M:-M, M:-M].median(dim=-1).values.median(dim=-1).values[0]
        assert abs(med[0].item() + 3.0) < 0.1 and abs(med[1].item()) < 0.1

    def test_zero_motion(self) -> None:
        f0, _, _ = _shifted_pair((0.0, 0.0))
        out = ClassicalFlowEstimator()(f0, f0.clone())
        for a, b in out.levels:
            assert a.abs().max() < 1e-4 and b.abs().max() < 1e-4

    def test_constant_image_is_finite(self) -> None:
        x = torch.full((1, 3, 16, 16), 0.5)
        out = ClassicalFlowEstimator()(x, x)
        assert torch.isfinite(out.flow_0to1).all() and out.flow_0to1.abs().max() < 1e-6

    def test_batch_independent(self) -> None:
        f0, f1, _ = _shifted_pair((1.0, 1.0), size=32)
        r0, r1 = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
        est = ClassicalFlowEstimator()
        batched = est(torch.cat((f0, r0)), torch.cat((f1, r1)))
        single = est(f0, f1)
        torch.testing.assert_close(batched.flow_0to1[:1], single.flow_0to1, atol=1e-4, rtol=0)

    def test_dtypes(self) -> None:
        f0, f1, _ = _shifted_pair((1.0, -1.0), size=32)
        est = ClassicalFlowEstimator()
        out32 = est(f0, f1).flow_0to1
        out64 = est(f0.double(), f1.double()).flow_0to1
        assert out64.dtype == torch.float64
        torch.testing.assert_close(out64.float(), out32, atol=1e-3, rtol=0)
        assert est(f0.bfloat16(), f1.bfloat16()).flow_0to1.dtype == torch.bfloat16

    def test_exception(self) -> None:
        est = ClassicalFlowEstimator()
        x = torch.rand(1, 3, 16, 16)
        with pytest.raises(ValueError, match="frame0"):
            est(torch.rand(1, 1, 16, 16), x)
        with pytest.raises(ValueError, match="frame1"):
            est(x, torch.rand(3, 16, 16))
        with pytest.raises(TypeError, match="frame0"):
            est(x.numpy(), x)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="frame1"):
            est(x, (x * 255).to(torch.uint8))
        with pytest.raises(ValueError, match="same shape"):
            est(x, torch.rand(1, 3, 16, 20))
        with pytest.raises(TypeError, match="same dtype"):
            est(x, x.double())
        with pytest.raises(ValueError, match="levels"):
            ClassicalFlowEstimator(levels=0)
        with pytest.raises(TypeError, match="warps"):
            ClassicalFlowEstimator(warps=2.0)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="iterations"):
            ClassicalFlowEstimator(iterations=0)
        with pytest.raises(ValueError, match="smoothness"):
            ClassicalFlowEstimator(smoothness=0.0)
        with pytest.raises(TypeError, match="smoothness"):
            ClassicalFlowEstimator(smoothness="0.1")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="window_sigma"):
            ClassicalFlowEstimator(window_sigma=-1.0)
        with pytest.raises(ValueError, match="min_size"):
            ClassicalFlowEstimator(min_size=0)

    def test_device_mismatch(self) -> None:
        if not torch.cuda.is_available():
            pytest.skip("needs CUDA")
        with pytest.raises(ValueError, match="same device"):
            ClassicalFlowEstimator()(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8, device="cuda"))

    @pytest.mark.gpu
    def test_cpu_gpu_parity(self) -> None:
        f0, f1, _ = _shifted_pair((1.5, -0.75), size=48)
        assert_cpu_gpu_parity(ClassicalFlowEstimator, f0, f1, atol=2e-3, rtol=1e-3)

    def test_repr(self) -> None:
        assert "levels=4" in repr(ClassicalFlowEstimator())


class TestRgbToLuma:
    def test_bt601(self) -> None:
        x = torch.zeros(1, 3, 1, 1)
        x[0, :, 0, 0] = torch.tensor([1.0, 0.5, 0.0])
        assert rgb_to_luma(x).item() == pytest.approx(0.299 + 0.5 * 0.587)

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="image"):
            rgb_to_luma(torch.rand(1, 4, 2, 2))
