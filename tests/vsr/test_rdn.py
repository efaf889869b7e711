from __future__ import annotations

import pytest
import torch

from stvsr_blocks.models import count_parameters
from stvsr_blocks.testing import assert_cpu_gpu_parity, check_all_parameters_get_gradients
from stvsr_blocks.vsr.rdn import RDB, RDN

pytestmark = pytest.mark.usefixtures("one_thread")



def _tiny(scale: int = 2) -> RDN:
    return RDN(3, 3, scale=scale, D=1, C=1, G0=4, G=4)


class TestRDB:
    def test_smoke(self) -> None:
        assert RDB(8, 4, 3)(torch.rand(2, 8, 5, 6)).shape == (2, 8, 5, 6)

    @pytest.mark.parametrize(("G0", "G", "C"), [(64, 64, 8), (64, 32, 6), (8, 4, 3)])
    def test_param_count(self, G0: int, G: int, C: int) -> None:
        expected = sum(9 * (G0 + c * G) * G + G for c in range(C)) + (G0 + C * G) * G0 + G0
        with torch.device("meta"):
            assert count_parameters(RDB(G0, G, C)) == expected
        if (G0, G, C) == (64, 64, 8):
            assert expected == 1_364_544

    def test_local_residual(self) -> None:
        blk = RDB(4, 4, 2)
        torch.nn.init.zeros_(blk.lff.weight)
        torch.nn.init.zeros_(blk.lff.bias)
        x = torch.rand(1, 4, 5, 5)
        assert torch.equal(blk(x), x)

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="G0"):
            RDB(0, 4, 2)
        with pytest.raises(TypeError, match="G:"):
            RDB(4, 4.0, 2)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="C:"):
            RDB(4, 4, -1)
        with pytest.raises(ValueError, match=r"x: expected shape \(B, 4, H, W\).*got shape \(1, 3, 5, 5\)"):
            RDB(4, 4, 1)(torch.rand(1, 3, 5, 5))


class TestRDN:
    def test_smoke(self) -> None:
        out, feat = _tiny().forward_with_feature(torch.rand(2, 3, 5, 7))
        assert out.shape == (2, 3, 10, 14) and feat.shape == (2, 4, 5, 7)

    @pytest.mark.parametrize("scale", [1, 2, 3, 4])
    def test_cardinality(self, scale: int) -> None:
        net = RDN(5, 6, scale=scale, D=2, C=2, G0=4, G=3)
        out, feat = net.forward_with_feature(torch.rand(1, 5, 4, 6))
        assert out.shape == (1, 6, 4 * scale, 6 * scale)
        assert feat.shape == (1, 4, 4, 6)
        if scale == 1:
            assert isinstance(net.upsample, torch.nn.Conv2d)

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="scale: expected 1, 2, 3 or 4, got 8"):
            RDN(scale=8)
        with pytest.raises(ValueError, match="D:"):
            RDN(D=0)
        with pytest.raises(TypeError, match="in_channels"):
            RDN(in_channels=3.0)  # type: ignore[arg-type]
        net = _tiny()
        with pytest.raises(ValueError, match=r"x: expected shape \(B, 3, H, W\).*got shape \(1, 4, 5, 5\)"):
            net(torch.rand(1, 4, 5, 5))
        with pytest.raises(ValueError, match=r"x: expected a 4-D tensor.*got shape \(3, 5, 5\)"):
            net.forward_with_feature(torch.rand(3, 5, 5))
        with pytest.raises(TypeError, match="x: expected a floating-point tensor"):
            net(torch.zeros(1, 3, 5, 5, dtype=torch.long))

    @pytest.mark.parametrize(
        ("kwargs", "expected"),
        [
            ({"D": 16, "C": 8, "G0": 64, "G": 64}, 22_271_107),  # standard RDN x4
            ({"D": 20, "C": 6, "G0": 64, "G": 32}, 5_578_787),  # RDN "D20C6G32" (G0 = 64)
        ],
    )
    def test_param_count(self, kwargs: dict, expected: int) -> None:
        with torch.device("meta"):
            n = count_parameters(RDN(3, 3, scale=4, **kwargs))
        print(f"RDN{kwargs} x4 params: {n:,}")
        assert n == expected

    def test_all_convs_have_bias(self) -> None:
        convs = [m for m in _tiny(4).modules() if isinstance(m, torch.nn.Conv2d)]
        assert convs and all(m.bias is not None for m in convs)

    def test_feature_is_sfenet2_output(self) -> None:
        net = _tiny()
        seen: list[torch.Tensor] = []
        net.sfe2.register_forward_hook(lambda _m, _i, o: seen.append(o))
        _, feat = net.forward_with_feature(torch.rand(1, 3, 4, 4))
        assert len(seen) == 1 and feat is seen[0]

    def test_forward_equals_forward_with_feature(self) -> None:
        net = _tiny().eval()
        x = torch.rand(1, 3, 4, 4)
        assert torch.equal(net(x), net.forward_with_feature(x)[0])

    def test_all_parameters_get_gradients(self) -> None:
        net = RDN(3, 3, scale=4, D=2, C=2, G0=4, G=4)
        out, feat = net.forward_with_feature(torch.rand(2, 3, 4, 4))
        check_all_parameters_get_gradients(net, out.mean() + feat.mean())

    def test_determinism(self) -> None:
        net = _tiny().eval()
        x = torch.rand(1, 3, 6, 6)
        with torch.no_grad():
            assert torch.equal(net(x), net(x))

    def test_gradcheck(self) -> None:
        net = _tiny().double()
        x = torch.rand(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(net.forward_with_feature, (x,), fast_mode=True)

    @pytest.mark.gpu
    def test_gpu_parity(self) -> None:
        x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
        assert_cpu_gpu_parity(lambda: RDN(3, 3, scale=4, D=2, C=3, G0=16, G=8), x)
