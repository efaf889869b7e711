from __future__ import annotations

import dataclasses

import pytest
import torch

from stvsr_blocks.baselines import upsample
from stvsr_blocks.interfaces import VSRInput, VSROutput
from stvsr_blocks.models import count_parameters
from stvsr_blocks.ops.shuffle import space_to_depth
from stvsr_blocks.testing import assert_cpu_gpu_parity, check_vsr_net, make_vsr_input
from stvsr_blocks.vsr.mbnet_vsr import RDNVSRConfig, RDNVSRNet

pytestmark = pytest.mark.usefixtures("one_thread")



def _tiny(scale: int = 2, **kw: object) -> RDNVSRNet:
    return RDNVSRNet(RDNVSRConfig(D=1, C=1, G0=4, G=4, scale=scale, **kw))  # type: ignore[arg-type]


class TestRDNVSRConfig:
    def test_in_channels(self) -> None:
        assert RDNVSRConfig().in_channels == 204
        assert RDNVSRConfig(scale=2).in_channels == 60
        assert RDNVSRConfig(scale=1).in_channels == 24

    @pytest.mark.parametrize(
        ("kwargs", "exc", "match"),
        [
            ({"D": 0}, ValueError, "D:"),
            ({"C": 1.5}, TypeError, "C:"),
            ({"G0": -1}, ValueError, "G0"),
            ({"G": True}, TypeError, "G:"),
            ({"scale": 0}, ValueError, "scale"),
            ({"scale": 5}, ValueError, "scale: expected 1, 2, 3 or 4, got 5"),
            ({"residual": 1}, TypeError, "residual: expected a bool"),
            ({"residual_mode": "nearest"}, ValueError, "residual_mode"),
        ],
    )
    def test_exception(self, kwargs: dict, exc: type, match: str) -> None:
        with pytest.raises(exc, match=match):
            RDNVSRConfig(**kwargs)


class TestRDNVSRNet:
    def test_smoke(self) -> None:
        net = _tiny()
        out = net(make_vsr_input(2, (4, 6), scale=2))
        assert isinstance(out, VSROutput)
        assert net.scale == 2 and net.feature_channels == 4 and net.size_multiple == 1

    @pytest.mark.parametrize("scale", [1, 2, 3, 4])
    def test_cardinality(self, scale: int) -> None:
        net = _tiny(scale)
        out = net(make_vsr_input(2, (3, 5), scale=scale))
        assert out.sr0.shape == out.sr1.shape == (2, 3, 3 * scale, 5 * scale)
        assert out.feature is not None and out.feature.shape == (2, 4, 3, 5)
        assert net.rdn.sfe1.in_channels == 12 * (1 + scale * scale)

    def test_input_channels_204(self) -> None:
        net = RDNVSRNet(RDNVSRConfig(D=1, C=1, G0=4, G=4))
        assert net.rdn.sfe1.in_channels == 204
        assert net.stack_inputs(make_vsr_input(1, (4, 4))).shape == (1, 204, 4, 4)

    def test_exception(self) -> None:
        net = _tiny()
        good = make_vsr_input(1, (4, 4), scale=2)
        with pytest.raises(TypeError, match="config: expected an RDNVSRConfig"):
            RDNVSRNet(RDNVSRConfig)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="inputs: expected a VSRInput, got tuple"):
            net((good.lr0, good.lr1))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"inputs.lr0: expected shape \(B, 3, h, w\).*got shape \(1, 1, 4, 4\)"):
            net(dataclasses.replace(good, lr0=torch.rand(1, 1, 4, 4)))
        with pytest.raises(TypeError, match="inputs.lr0: expected a torch.Tensor"):
            net(dataclasses.replace(good, lr0=None))
        with pytest.raises(
            ValueError, match=r"inputs.lr1: expected shape \(1, 3, 4, 4\) \(lr0 is \(1, 3, 4, 4\), scale 2\), got \(1, 3, 4, 5\)"
        ):
            net(dataclasses.replace(good, lr1=torch.rand(1, 3, 4, 5)))
        with pytest.raises(ValueError, match=r"inputs.lr_warped1: expected shape \(1, 3, 4, 4\).*got \(2, 3, 4, 4\)"):
            net(dataclasses.replace(good, lr_warped1=torch.rand(2, 3, 4, 4)))
        with pytest.raises(ValueError, match=r"inputs.sr_prev0: expected shape \(1, 3, 8, 8\).*got \(1, 3, 16, 16\)"):
            net(dataclasses.replace(good, sr_prev0=torch.rand(1, 3, 16, 16)))
        with pytest.raises(ValueError, match=r"inputs.feedback1: expected a 4-D tensor.*got shape \(3, 8, 8\)"):
            net(dataclasses.replace(good, feedback1=torch.rand(3, 8, 8)))
        with pytest.raises(TypeError, match="inputs.feedback0: expected a floating-point tensor"):
            net.stack_inputs(dataclasses.replace(good, feedback0=torch.zeros(1, 3, 8, 8, dtype=torch.int64)))

    @pytest.mark.parametrize(
        ("D", "C", "expected"),
        [(8, 8, 11_439_494), (8, 4, 3_638_662), (16, 8, 22_388_614)],
    )
    def test_param_count(self, D: int, C: int, expected: int) -> None:
        with torch.device("meta"):
            n = count_parameters(RDNVSRNet(RDNVSRConfig(D=D, C=C)))
        print(f"RDNVSRNet D{D}C{C} x4 params: {n:,}")
        assert n == expected
        if (D, C) == (8, 8):
            with torch.device("meta"):
                assert count_parameters(RDNVSRNet()) == expected  # the default config is the paper baseline

    def test_conformance(self) -> None:
        # Shapes, finiteness, feature shape and a gradient for every parameter.
        check_vsr_net(RDNVSRNet(RDNVSRConfig(D=2, C=2, G0=8, G=4)), lr_size=(6, 6))
        check_vsr_net(_tiny(residual=True), lr_size=(6, 6))

    def test_input_order(self) -> None:
        net = _tiny(4)
        inp = make_vsr_input(1, (3, 4), scale=4, seed=3)
        seen: list[torch.Tensor] = []
        net.rdn.sfe1.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
        net(inp)
        x = seen[0]
        parts = [
            inp.lr0, inp.lr1,
            space_to_depth(inp.sr_prev0, 4), space_to_depth(inp.sr_prev1, 4),
            inp.lr_warped0, inp.lr_warped1,
            space_to_depth(inp.feedback0, 4), space_to_depth(inp.feedback1, 4),
        ]
        assert x.shape[1] == 204
        assert torch.equal(x, torch.cat(parts, dim=1))
        # Spot check against SOF-VSR's slicing order: channel c*16 + i*4 + j holds x[c, 4y+i, 4x+j].
        assert torch.equal(x[:, 6 + 1 * 16 + 2 * 4 + 3], inp.sr_prev0[:, 1, 2::4, 3::4])

    def test_feature_is_sfenet2_output(self) -> None:
        net = _tiny()
        seen: list[torch.Tensor] = []
        net.rdn.sfe2.register_forward_hook(lambda _m, _i, o: seen.append(o))
        out = net(make_vsr_input(1, (4, 4), scale=2))
        assert len(seen) == 1 and out.feature is seen[0]
        assert out.feature.shape == (1, net.feature_channels, 4, 4)

    def test_output_split_order(self) -> None:
        # sr0 is the first three output channels of the RDN, sr1 the last three.
        net = _tiny()
        seen: list[torch.Tensor] = []
        net.rdn.upsample[-1].register_forward_hook(lambda _m, _i, o: seen.append(o))  # the last conv (-> 6)
        out = net(make_vsr_input(1, (4, 4), scale=2))
        assert torch.equal(out.sr0, seen[0][:, :3]) and torch.equal(out.sr1, seen[0][:, 3:])

    def test_inputs_not_used_by_flows(self) -> None:
        # ``flows`` and ``iteration`` do not affect the output.
        net = _tiny().eval()
        inp = make_vsr_input(1, (4, 4), scale=2)
        other = dataclasses.replace(inp, flows=make_vsr_input(1, (4, 4), scale=2, seed=9).flows, iteration=2)
        with torch.no_grad():
            assert torch.equal(net(inp).sr0, net(other).sr0)

    @pytest.mark.parametrize("mode", ["bicubic", "bilinear"])
    def test_residual(self, mode: str) -> None:
        torch.manual_seed(0)
        plain = _tiny().eval()
        res = _tiny(residual=True, residual_mode=mode).eval()
        res.load_state_dict(plain.state_dict())
        inp = make_vsr_input(1, (4, 4), scale=2)
        with torch.no_grad():
            a, b = plain(inp), res(inp)
        torch.testing.assert_close(b.sr0 - a.sr0, upsample(inp.lr0, 2, mode, clamp=False))
        torch.testing.assert_close(b.sr1 - a.sr1, upsample(inp.lr1, 2, mode, clamp=False))
        assert torch.equal(a.feature, b.feature)

    def test_determinism(self) -> None:
        net = _tiny().eval()
        inp = make_vsr_input(1, (4, 4), scale=2)
        with torch.no_grad():
            o1, o2 = net(inp), net(inp)
        assert torch.equal(o1.sr0, o2.sr0) and torch.equal(o1.sr1, o2.sr1) and torch.equal(o1.feature, o2.feature)

    def test_gradcheck(self) -> None:
        net = _tiny().double()
        base = make_vsr_input(1, (3, 3), scale=2, dtype=torch.float64)
        lr0 = base.lr0.clone().requires_grad_()
        sr_prev1 = base.sr_prev1.clone().requires_grad_()
        feedback0 = base.feedback0.clone().requires_grad_()

        def fn(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, ...]:
            out = net(dataclasses.replace(base, lr0=a, sr_prev1=b, feedback0=c))
            return out.sr0, out.sr1, out.feature

        assert torch.autograd.gradcheck(fn, (lr0, sr_prev1, feedback0), fast_mode=True)

    @pytest.mark.gpu
    def test_gpu_parity(self) -> None:
        inp = make_vsr_input(2, (6, 6), scale=4)
        assert isinstance(inp, VSRInput)
        assert_cpu_gpu_parity(lambda: RDNVSRNet(RDNVSRConfig(D=2, C=2, G0=16, G=8, residual=True)), inp)
