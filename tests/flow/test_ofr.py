from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from stvsr_blocks.flow.ofr import OFR_PRESETS, OFRConfig, OFRFlowNet, ResB, ofr_paper_config
from stvsr_blocks.interfaces import FlowPyramid
from stvsr_blocks.models import count_parameters
from stvsr_blocks.ops.warp import backward_warp
from stvsr_blocks.testing import assert_cpu_gpu_parity, check_flow_estimator

pytestmark = pytest.mark.usefixtures("one_thread")



def _tiny(**kw: object) -> OFRFlowNet:
    return OFRFlowNet(OFRConfig(channels=8, n_resb=1, **kw))  # type: ignore[arg-type]


class TestResB:
    def test_smoke(self) -> None:
        blk = ResB(8)
        assert blk(torch.rand(2, 8, 5, 6)).shape == (2, 8, 5, 6)

    def test_param_count(self) -> None:
        for c in (8, 320, 480):
            assert count_parameters(ResB(c)) == c * c // 2 + 9 * c // 2
            assert all(m.bias is None for m in ResB(c).modules() if isinstance(m, torch.nn.Conv2d))

    def test_first_half_passes_through_shuffled(self) -> None:
        # Channel shuffle with 2 groups interleaves: output channel 2k is input channel k (first half).
        x = torch.rand(1, 8, 4, 4)
        y = ResB(8)(x)
        torch.testing.assert_close(y[:, 0::2], x[:, :4], rtol=0, atol=0)

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="channels: expected an even number"):
            ResB(7)
        with pytest.raises(TypeError, match="channels"):
            ResB(8.0)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"x: expected shape \(B, 8, H, W\).*got shape \(1, 6, 4, 4\)"):
            ResB(8)(torch.rand(1, 6, 4, 4))


class TestOFRConfig:
    def test_presets(self) -> None:
        assert OFRConfig.from_preset("recommended") == OFRConfig()
        assert ofr_paper_config().channels == 480
        assert ofr_paper_config(zero_init_heads=True).zero_init_heads
        assert set(OFR_PRESETS) == {"recommended", "paper_params", "trunk_only", "tiny"}

    @pytest.mark.parametrize(
        ("kwargs", "exc", "match"),
        [
            ({"channels": 7}, ValueError, "channels: expected an even number"),
            ({"channels": 0}, ValueError, "channels"),
            ({"channels": 8.0}, TypeError, "channels"),
            ({"n_resb": 0}, ValueError, "n_resb"),
            ({"in_channels": 0}, ValueError, "in_channels"),
            ({"negative_slope": 2.0}, ValueError, "negative_slope"),
            ({"negative_slope": "x"}, TypeError, "negative_slope"),
            ({"levels": 0}, ValueError, "levels"),
            ({"level3_head": 1}, TypeError, "level3_head"),
            ({"zero_init_heads": None}, TypeError, "zero_init_heads"),
            ({"head_scale": 0.0}, ValueError, "head_scale"),
            ({"head_scale": -1.0}, ValueError, "head_scale"),
        ],
    )
    def test_exception(self, kwargs: dict, exc: type, match: str) -> None:
        with pytest.raises(exc, match=match):
            OFRConfig(**kwargs)

    def test_exception_preset(self) -> None:
        with pytest.raises(ValueError, match="name: expected one of"):
            OFRConfig.from_preset("huge")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="bogus"):
            OFRConfig.from_preset("tiny", bogus=1)


class TestOFRFlowNet:
    def test_smoke(self) -> None:
        net = _tiny()
        out = net(torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16))
        assert isinstance(out, FlowPyramid)
        assert net.size_multiple == 4
        assert out.flow_0to1 is out.levels[-1][0] and out.flow_1to0 is out.levels[-1][1]

    @pytest.mark.parametrize(("levels", "hw"), [(3, (16, 24)), (2, (6, 10)), (1, (5, 7))])
    def test_cardinality(self, levels: int, hw: tuple[int, int]) -> None:
        net = _tiny(levels=levels)
        h, w = hw
        out = net(torch.rand(3, 3, h, w), torch.rand(3, 3, h, w))
        assert len(out.levels) == levels
        for i, (f01, f10) in enumerate(out.levels):
            k = 2 ** (levels - 1 - i)
            assert f01.shape == f10.shape == (3, 2, h // k, w // k)

    def test_y_input(self) -> None:
        out = _tiny(in_channels=1)(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8))
        assert out.flow_0to1.shape == (1, 2, 8, 8)

    def test_exception(self) -> None:
        net = _tiny()
        ok = torch.rand(1, 3, 8, 8)
        with pytest.raises(TypeError, match="config: expected an OFRConfig"):
            OFRFlowNet({"channels": 8})  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"frame0: expected shape \(B, 3, H, W\).*got shape \(1, 4, 8, 8\)"):
            net(torch.rand(1, 4, 8, 8), ok)
        with pytest.raises(ValueError, match=r"frame1: expected a 4-D tensor.*got shape \(3, 8, 8\)"):
            net(ok, torch.rand(3, 8, 8))
        with pytest.raises(TypeError, match="frame1: expected a floating-point tensor"):
            net(ok, torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
        with pytest.raises(ValueError, match=r"frame0 and frame1 must have matching shape.*\(1, 3, 12, 12\)"):
            net(ok, torch.rand(1, 3, 12, 12))
        with pytest.raises(ValueError, match="frame0: height and width must be multiples of 4, got 10x8"):
            net(torch.rand(1, 3, 10, 8), torch.rand(1, 3, 10, 8))

    @pytest.mark.parametrize(
        ("name", "expected"),
        [("trunk_only", 186_720), ("recommended", 350_400), ("paper_params", 756_000)],
    )
    def test_param_count(self, name: str, expected: int) -> None:
        with torch.device("meta"):
            n = count_parameters(OFRFlowNet(OFRConfig.from_preset(name)))
        print(f"OFRFlowNet[{name}] params: {n:,}")
        assert n == expected
        if name == "paper_params":
            assert abs(n - 760_000) / 760_000 < 0.03  # the paper's "0.76M"

    def test_bias_free(self) -> None:
        assert all(m.bias is None for m in _tiny().modules() if isinstance(m, torch.nn.Conv2d))
        assert _tiny().trunk[0].in_channels == 8  # [src(3), ref(3), flow(2)]

    def test_conformance(self) -> None:
        # Forward shapes, finiteness, ordering of levels and a gradient for every parameter.
        check_flow_estimator(_tiny(), lr_size=(16, 16))
        check_flow_estimator(_tiny(level3_head=False), lr_size=(16, 16))
        check_flow_estimator(_tiny(levels=1), lr_size=(8, 8))

    def test_unused_head_not_created(self) -> None:
        assert _tiny(levels=1).head is None
        assert _tiny(level3_head=False).fine_head is None

    def test_swap_symmetry(self) -> None:
        net = _tiny().eval()
        a, b = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
        fwd, bwd = net(a, b), net(b, a)
        for (f01, f10), (g01, g10) in zip(fwd.levels, bwd.levels):
            assert torch.equal(g01, f10)
            assert torch.equal(g10, f01)

    def test_identical_frames_symmetric(self) -> None:
        net = _tiny().eval()
        a = torch.rand(2, 3, 16, 16)
        out = net(a, a.clone())
        for f01, f10 in out.levels:
            assert torch.equal(f01, f10)

    def test_zero_init_heads_identical_frames_zero_flow(self) -> None:
        net = _tiny(zero_init_heads=True).eval()
        a = torch.rand(2, 3, 16, 16)
        out = net(a, a.clone())
        for f01, f10 in out.levels:
            assert torch.count_nonzero(f01) == 0 and torch.count_nonzero(f10) == 0

    def test_head_scale(self) -> None:
        torch.manual_seed(1)
        ref = _tiny(levels=1)
        torch.manual_seed(1)
        scaled = _tiny(levels=1, head_scale=15.5)
        x0, x1 = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
        torch.testing.assert_close(scaled(x0, x1).flow_0to1, 15.5 * ref(x0, x1).flow_0to1)

    def test_determinism(self) -> None:
        net = _tiny().eval()
        a, b = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
        with torch.no_grad():
            o1, o2 = net(a, b), net(a, b)
        for (x0, x1), (y0, y1) in zip(o1.levels, o2.levels):
            assert torch.equal(x0, y0) and torch.equal(x1, y1)

    def test_gradcheck(self) -> None:
        net = _tiny().double()
        g = torch.Generator().manual_seed(0)
        a = torch.rand(1, 3, 8, 8, generator=g, dtype=torch.float64, requires_grad=True)
        b = torch.rand(1, 3, 8, 8, generator=g, dtype=torch.float64, requires_grad=True)

        def fn(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, ...]:
            out = net(x, y)
            return tuple(f for pair in out.levels for f in pair)

        assert torch.autograd.gradcheck(fn, (a, b), eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=True)

    def test_dtype_float64(self) -> None:
        out = _tiny().double()(torch.rand(1, 3, 8, 8, dtype=torch.float64), torch.rand(1, 3, 8, 8, dtype=torch.float64))
        assert out.flow_0to1.dtype == torch.float64

    def test_overfit_integer_shift(self) -> None:
        # A tiny OFR learns a global +2 px horizontal shift: the warp L1 loss drops clearly and the
        # flow converges to -2 px in x (library convention: backward_warp(frame0, flow_0to1) ~= frame1).
        torch.manual_seed(0)
        tex = F.interpolate(torch.rand(2, 3, 7, 7), scale_factor=8, mode="bilinear", align_corners=False)
        frame0 = tex[..., 5:37, 5:37]
        frame1 = tex[..., 5:37, 3:35]  # content moved +2 px in x: frame1(x) = frame0(x - 2)
        net = OFRFlowNet(OFRConfig(channels=16, n_resb=1, zero_init_heads=True))
        opt = torch.optim.Adam(net.parameters(), lr=5e-3)

        def loss_fn() -> torch.Tensor:
            # One direction only: a single global shift in both directions has a symmetric local
            # minimum (both flows equal) that 60 steps do not leave.
            out = net(frame0, frame1)
            m = slice(4, -4)  # ignore borders, where the shifted content is unknown
            return (backward_warp(frame0, out.flow_0to1) - frame1)[..., m, m].abs().mean()

        with torch.no_grad():
            first = loss_fn().item()
        for _ in range(60):
            opt.zero_grad()
            loss = loss_fn()
            loss.backward()
            opt.step()
        with torch.no_grad():
            last = loss_fn().item()
            flow_x = net(frame0, frame1).flow_0to1[:, 0, 8:-8, 8:-8].mean().item()
        print(f"OFR overfit: warp L1 {first:.4f} -> {last:.4f}, mean flow_0to1 x {flow_x:.2f} (ideal -2)")
        assert last < 0.3 * first
        assert abs(flow_x + 2.0) < 0.5

    @pytest.mark.gpu
    def test_gpu_parity(self) -> None:
        g = torch.Generator().manual_seed(0)
        a, b = torch.rand(2, 3, 16, 16, generator=g), torch.rand(2, 3, 16, 16, generator=g)
        assert_cpu_gpu_parity(lambda: OFRFlowNet(OFRConfig(channels=16, n_resb=2)), a, b)
