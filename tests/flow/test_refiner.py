"""Tests for stvsr_blocks.flow.refiner.PACFlowRefiner (NET_re)."""

from __future__ import annotations

import pytest
import torch

from stvsr_blocks.flow.pac import PacConvTranspose2d
from stvsr_blocks.flow.refiner import PACFlowRefiner, PACRefinerConfig
from stvsr_blocks.interfaces import FlowRefiner, MidFlows
from stvsr_blocks.ops.flow import resize_flow
from stvsr_blocks.testing import assert_cpu_gpu_parity, check_flow_refiner

SPEC_PARAMS = 190_692  # SPEC §2 / §7 (NET_re, x4)


def _inputs(b: int = 2, h: int = 5, w: int = 6, s: int = 4, dtype: torch.dtype = torch.float32, device="cpu"):
    g = torch.Generator().manual_seed(1)
    f0, f1 = torch.randn(b, 2, h, w, generator=g), torch.randn(b, 2, h, w, generator=g)
    g0, g1 = torch.rand(b, 3, s * h, s * w, generator=g), torch.rand(b, 3, s * h, s * w, generator=g)
    return [t.to(device, dtype) for t in (f0, f1, g0, g1)]


class TestPACFlowRefiner:
    def test_param_count(self) -> None:
        n = sum(p.numel() for p in PACFlowRefiner().parameters())
        print(f"PACFlowRefiner() parameters: {n:,}")
        assert n == SPEC_PARAMS
        # pacnet's x4/x8 PacJointUpsample counts (1-ch target, 3-ch guide) minus our 7,203 extra:
        # the x8 refiner adds one PAC up-step (25,632) and 16 guide channels (32*16*25 + 16 = 12,816)
        assert sum(p.numel() for p in PACFlowRefiner(PACRefinerConfig(scale=8)).parameters()) == 229_140

    def test_smoke(self, device: torch.device, dtype: torch.dtype) -> None:
        ref = PACFlowRefiner(PACRefinerConfig(zero_init_last=False)).to(device, dtype)
        f0, f1, g0, g1 = _inputs(dtype=dtype, device=device)
        out = ref(MidFlows(f0, f1), g0, g1)
        assert isinstance(out, MidFlows)
        assert out.flow_0tot.dtype == dtype and torch.isfinite(out.flow_0tot).all()

    @pytest.mark.parametrize("scale,h,w", [(2, 3, 5), (4, 5, 6), (8, 2, 3)])
    def test_cardinality(self, scale: int, h: int, w: int) -> None:
        ref = PACFlowRefiner(PACRefinerConfig(scale=scale, channels=8, guide_channels=4))
        f0, f1, g0, g1 = _inputs(1, h, w, scale)
        out = ref(MidFlows(f0, f1), g0, g1)
        assert out.flow_0tot.shape == out.flow_1tot.shape == (1, 2, scale * h, scale * w)
        assert ref.config.num_steps == len(ref.up) == scale.bit_length() - 1
        assert all(isinstance(m, PacConvTranspose2d) for m in ref.up)

    def test_conformance(self) -> None:
        ref = PACFlowRefiner(PACRefinerConfig(channels=8, guide_channels=4))
        assert isinstance(ref, FlowRefiner) and ref.scale == 4 and ref.size_multiple == 1
        check_flow_refiner(ref, lr_size=(4, 5))

    def test_every_parameter_gets_a_nonzero_gradient(self) -> None:
        ref = PACFlowRefiner(PACRefinerConfig(zero_init_last=False))
        check_flow_refiner(ref, lr_size=(4, 4), batch=1)
        zero = [n for n, p in ref.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
        assert not zero, zero

    def test_zero_init_is_bilinear_upsampling(self) -> None:
        ref = PACFlowRefiner()  # zero_init_last=True
        f0, f1, g0, g1 = _inputs()
        out = ref(MidFlows(f0, f1), g0, g1)
        assert torch.equal(out.flow_0tot, resize_flow(f0, scale=4))
        assert torch.equal(out.flow_1tot, resize_flow(f1, scale=4))

    def test_residual_and_guidance_matter(self) -> None:
        torch.manual_seed(0)
        ref = PACFlowRefiner(PACRefinerConfig(channels=8, guide_channels=4, zero_init_last=False))
        f0, f1, g0, g1 = _inputs()
        a = ref(MidFlows(f0, f1), g0, g1).flow_0tot
        b = ref(MidFlows(f0, f1), g0.flip(-1), g1).flow_0tot
        assert not torch.allclose(a, resize_flow(f0, scale=4)) and not torch.allclose(a, b)

    def test_determinism(self) -> None:
        f0, f1, g0, g1 = _inputs()
        outs = []
        for _ in range(2):
            torch.manual_seed(3)
            ref = PACFlowRefiner(PACRefinerConfig(channels=8, guide_channels=4, zero_init_last=False))
            outs.append(ref(MidFlows(f0, f1), g0, g1))
        assert torch.equal(outs[0].flow_0tot, outs[1].flow_0tot)
        assert torch.equal(outs[0].flow_1tot, outs[1].flow_1tot)

    def test_normalize_kernel_option(self) -> None:
        ref = PACFlowRefiner(PACRefinerConfig(channels=8, guide_channels=4, normalize_kernel=True))
        assert all(m.normalize_kernel for m in ref.up)
        f0, f1, g0, g1 = _inputs(1, 3, 3)
        assert torch.isfinite(ref(MidFlows(f0, f1), g0, g1).flow_1tot).all()
        assert "normalize_kernel=True" in repr(ref)

    def test_exception(self) -> None:
        ref = PACFlowRefiner(PACRefinerConfig(channels=4, guide_channels=2))
        f0, f1, g0, g1 = _inputs(1, 3, 3)
        with pytest.raises(TypeError, match="flows"):
            ref((f0, f1), g0, g1)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="flows.flow_0tot"):
            ref(MidFlows(f0[:, :1], f1), g0, g1)
        with pytest.raises(ValueError, match="flows.flow_1tot"):
            ref(MidFlows(f0, f1[..., :2]), g0, g1)
        with pytest.raises(TypeError, match="flows.flow_1tot"):
            ref(MidFlows(f0, f1.long()), g0, g1)
        with pytest.raises(ValueError, match="guide0"):
            ref(MidFlows(f0, f1), g0[..., :-1], g1)
        with pytest.raises(ValueError, match="guide1"):
            ref(MidFlows(f0, f1), g0, g1[:, :2])
        with pytest.raises(TypeError, match="config"):
            PACFlowRefiner({"scale": 4})  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "kwargs,err,match",
        [
            ({"scale": 3}, ValueError, "power of two"),
            ({"scale": 1}, ValueError, "power of two"),
            ({"scale": 0}, ValueError, "scale"),
            ({"scale": 4.0}, TypeError, "scale"),
            ({"channels": 0}, ValueError, "channels"),
            ({"kernel_size": 4}, ValueError, "odd"),
            ({"kernel_size": -1}, ValueError, "kernel_size"),
            ({"guide_channels": 0}, ValueError, "guide_channels"),
            ({"normalize_kernel": 1}, TypeError, "normalize_kernel"),
            ({"zero_init_last": None}, TypeError, "zero_init_last"),
        ],
    )
    def test_config_exception(self, kwargs: dict, err: type[Exception], match: str) -> None:
        with pytest.raises(err, match=match):
            PACRefinerConfig(**kwargs)

    @pytest.mark.gpu
    def test_cpu_gpu_parity(self) -> None:
        f0, f1, g0, g1 = _inputs(2, 8, 12)
        assert_cpu_gpu_parity(
            lambda: PACFlowRefiner(PACRefinerConfig(zero_init_last=False)), MidFlows(f0, f1), g0, g1
        )
