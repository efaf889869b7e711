from __future__ import annotations

import dataclasses

import pytest
import torch

from stvsr_blocks.interfaces import VFIInput
from stvsr_blocks.models import count_parameters
from stvsr_blocks.testing import assert_cpu_gpu_parity, check_vfi_net, make_vfi_input
from stvsr_blocks.vfi.unet import UNetVFI, UNetVFIConfig
from tests.vfi._helpers import vfi_input as _vfi_input

TINY = UNetVFIConfig(widths=(2, 3, 4), feature_channels=5)


pytestmark = pytest.mark.usefixtures("one_thread")



def vfi_input(**kw):
    return _vfi_input(**{"fc": 5, **kw})


class TestUNetVFIConfig:
    def test_defaults(self):
        cfg = UNetVFIConfig()
        assert (cfg.widths, cfg.feature_channels, cfg.scale, cfg.activation, cfg.residual) == (
            (32, 64, 96),
            64,
            4,
            "relu",
            False,
        )
        assert UNetVFIConfig(**dataclasses.asdict(cfg)) == cfg

    def test_exception(self):
        with pytest.raises(ValueError, match=r"widths: expected 3 widths \(one per row\), got 4"):
            UNetVFIConfig(widths=(1, 2, 3, 4))
        with pytest.raises(TypeError, match="widths: expected a sequence"):
            UNetVFIConfig(widths=None)
        with pytest.raises(TypeError, match="feature_channels: expected a non-negative int"):
            UNetVFIConfig(feature_channels=True)
        with pytest.raises(ValueError, match="feature_channels: expected a non-negative int, got -1"):
            UNetVFIConfig(feature_channels=-1)
        with pytest.raises(TypeError, match="scale: expected the int 4"):
            UNetVFIConfig(scale="4")
        with pytest.raises(ValueError, match="scale: UNetVFI supports only scale=4"):
            UNetVFIConfig(scale=2)
        with pytest.raises(ValueError, match="activation: expected one of"):
            UNetVFIConfig(activation="elu")
        with pytest.raises(TypeError, match="residual: expected a bool"):
            UNetVFIConfig(residual=0)


class TestUNetVFI:
    def test_smoke(self):
        net = UNetVFI(TINY)
        out = net(vfi_input(batch=2))
        assert out.shape == (2, 3, 16, 16) and torch.isfinite(out).all()
        assert (net.scale, net.feature_channels, net.size_multiple) == (4, 5, 4)

    @pytest.mark.parametrize("size", [(20, 28), (4, 4), (12, 36)])
    @pytest.mark.parametrize("batch", [1, 3])
    def test_cardinality(self, size, batch):
        assert UNetVFI(TINY)(vfi_input(batch=batch, size=size)).shape == (batch, 3, *size)

    @pytest.mark.parametrize("size", [(18, 16), (16, 14), (17, 17)])
    def test_cardinality_not_multiple_of_4(self, size):
        with pytest.raises(ValueError, match="inputs.warped0: height and width must be multiples of 4"):
            UNetVFI(TINY)(vfi_input(size=size, feature=False))

    def test_param_count(self):
        count = count_parameters(UNetVFI())
        no_feat = count_parameters(UNetVFI(UNetVFIConfig(feature_channels=0)))
        print(f"UNetVFI(32, 64, 96, feature 64) params: {count:,}; without feature: {no_feat:,}")
        assert count == 427_107
        assert count - no_feat == 9 * 64 * 96  # the feature enters the first bottom conv only

    def test_exception(self):
        net = UNetVFI(TINY)
        good = vfi_input(batch=2)
        rep = dataclasses.replace
        with pytest.raises(TypeError, match="config: expected a UNetVFIConfig"):
            UNetVFI(TINY.widths)
        with pytest.raises(TypeError, match="inputs: expected a stvsr_blocks.interfaces.VFIInput"):
            net(good.warped0)
        with pytest.raises(ValueError, match="inputs.warped0 and inputs.warped1 must have matching shape"):
            net(rep(good, warped1=torch.rand(1, 3, 16, 16)))
        with pytest.raises(
            ValueError, match=r"inputs.feature: expected shape \(2, 5, 4, 4\).*got shape \(2, 4, 4, 4\)"
        ):
            net(rep(good, feature=torch.rand(2, 4, 4, 4)))

    def test_gradcheck(self):
        torch.manual_seed(0)
        net = UNetVFI(TINY).double()
        inp = vfi_input(batch=2, size=(4, 4), dtype=torch.float64, requires_grad=True)

        def f(w0, w1, feat):
            return net(VFIInput(w0, w1, inp.sr0, inp.sr1, inp.flows, feat))

        assert torch.autograd.gradcheck(f, (inp.warped0, inp.warped1, inp.feature), fast_mode=True)

    def test_determinism(self):
        torch.manual_seed(7)
        a = UNetVFI(TINY)
        torch.manual_seed(7)
        b = UNetVFI(TINY)
        inp = vfi_input(batch=2)
        assert torch.equal(a(inp), b(inp)) and torch.equal(a(inp), a(inp))

    def test_conformance_every_parameter_gets_gradient(self):
        check_vfi_net(UNetVFI(TINY), hr_size=(16, 16))
        check_vfi_net(UNetVFI(dataclasses.replace(TINY, activation="prelu", residual=True)), hr_size=(16, 16))

    def test_conformance_default_config(self):
        assert check_vfi_net(UNetVFI(), hr_size=(16, 16), batch=1).shape == (1, 3, 16, 16)

    def test_no_feature_net(self):
        net = UNetVFI(dataclasses.replace(TINY, feature_channels=0))
        inp = vfi_input(fc=5)
        assert torch.equal(net(inp), net(dataclasses.replace(inp, feature=None)))
        check_vfi_net(net, hr_size=(16, 16))

    def test_feature_none_equals_zeros(self):
        net = UNetVFI(TINY)
        inp = vfi_input(batch=2)
        zeros = dataclasses.replace(inp, feature=torch.zeros_like(inp.feature))
        assert torch.equal(net(dataclasses.replace(inp, feature=None)), net(zeros))

    def test_feature_influences_output(self):
        net = UNetVFI(dataclasses.replace(TINY, widths=(4, 8, 8)))  # (2, 3, 4) can have all-dead ReLUs
        inp = vfi_input(batch=2, requires_grad=True)
        out = net(inp)
        out.square().sum().backward()
        assert inp.feature.grad is not None and inp.feature.grad.abs().sum() > 0
        assert not torch.allclose(net(dataclasses.replace(inp, feature=torch.rand_like(inp.feature))), out)

    def test_residual(self):
        torch.manual_seed(0)
        plain = UNetVFI(TINY)
        res = UNetVFI(dataclasses.replace(TINY, residual=True))
        res.load_state_dict(plain.state_dict())
        inp = vfi_input(batch=2)
        torch.testing.assert_close(res(inp), plain(inp) + 0.5 * (inp.warped0 + inp.warped1))

    @pytest.mark.gpu
    def test_gpu_parity(self):
        assert_cpu_gpu_parity(lambda: UNetVFI(TINY), make_vfi_input(2, (16, 24), 4, 5))
