from __future__ import annotations

import dataclasses

import pytest
import torch

from stvsr_blocks.interfaces import VFIInput
from stvsr_blocks.models import count_parameters
from stvsr_blocks.testing import assert_cpu_gpu_parity, check_vfi_net, make_vfi_input
from stvsr_blocks.vfi.gridnet import GridNet, GridNetVFI, GridNetVFIConfig
from tests.vfi._helpers import vfi_input as _vfi_input

TINY = GridNetVFIConfig(widths=(2, 3, 4), feature_channels=16)


pytestmark = pytest.mark.usefixtures("one_thread")



def rows_for(widths, sizes, batch=1, dtype=torch.float32, requires_grad=False):
    return [torch.rand(batch, w, h, ww, dtype=dtype, requires_grad=requires_grad) for w, (h, ww) in zip(widths, sizes)]


def vfi_input(**kw):
    return _vfi_input(**{"fc": 16, **kw})


class TestGridNet:
    def test_smoke(self):
        net = GridNet(widths=(4, 6, 8), out_channels=3)
        out = net(rows_for((4, 6, 8), [(16, 16), (8, 8), (4, 4)], batch=2))
        assert out.shape == (2, 3, 16, 16) and torch.isfinite(out).all()
        assert len(net.lateral) == 3 and all(len(r) == 5 for r in net.lateral)
        assert len(net.down) == 2 and all(len(r) == 3 for r in net.down)
        assert len(net.up) == 2 and all(len(r) == 3 for r in net.up)

    @pytest.mark.parametrize(
        "sizes",
        [
            [(13, 9), (7, 5), (4, 3)],  # ceil everywhere: up-sampled maps are cropped
            [(13, 9), (6, 4), (3, 2)],  # floor everywhere: down-sampled maps are cropped, up padded
            [(13, 10), (7, 5), (3, 3)],
            [(1, 1), (1, 1), (1, 1)],
            [(5, 7), (2, 3), (1, 2)],
        ],
    )
    def test_cardinality_odd_sizes(self, sizes):
        net = GridNet(widths=(2, 3, 4), out_channels=5)
        out = net(rows_for((2, 3, 4), sizes, batch=2))
        assert out.shape == (2, 5, *sizes[0]) and torch.isfinite(out).all()

    @pytest.mark.parametrize("widths,columns", [((3,), 2), ((3, 4), 4), ((2, 3, 4, 5), 6), ((2, 3, 4), 2)])
    def test_cardinality_rows_columns(self, widths, columns):
        net = GridNet(widths=widths, out_channels=1, columns=columns)
        sizes = [(16 >> r, 12 >> r) for r in range(len(widths))]
        assert net(rows_for(widths, sizes)).shape == (1, 1, 16, 12)
        assert sum(len(r) for r in net.lateral) == len(widths) * (columns - 1)

    def test_param_count_core(self):
        count = count_parameters(GridNet())
        print(f"GridNet(32, 64, 96) core params: {count:,}")
        assert count == 2_235_546

    def test_param_count_options(self):
        # softsplat-like: 1x1 skip, no bias, PReLU
        relu = count_parameters(GridNet(skip_kernel_size=1, bias=False))
        prelu = count_parameters(GridNet(skip_kernel_size=1, bias=False, activation="prelu"))
        print(f"GridNet no-bias 1x1-skip params: relu {relu:,}, prelu {prelu:,}")
        assert relu == 2_230_272 + 32 * 3 * 9 + 3 * 3 * 9 + 32 * 3  # grid + output head
        assert prelu > relu

    def test_exception(self):
        with pytest.raises(TypeError, match="widths: expected a sequence"):
            GridNet(widths=32)
        with pytest.raises(TypeError, match="widths: expected a sequence"):
            GridNet(widths="abc")
        with pytest.raises(ValueError, match="widths: expected at least one width"):
            GridNet(widths=())
        with pytest.raises(ValueError, match=r"widths\[1\]: expected a positive int, got 0"):
            GridNet(widths=(3, 0))
        with pytest.raises(TypeError, match=r"widths\[0\]: expected a positive int"):
            GridNet(widths=(3.0, 4))
        with pytest.raises(ValueError, match="out_channels: expected a positive int"):
            GridNet(out_channels=0)
        with pytest.raises(ValueError, match="columns: expected a positive even number"):
            GridNet(columns=5)
        with pytest.raises(ValueError, match="columns: expected a positive int"):
            GridNet(columns=0)
        with pytest.raises(ValueError, match="activation: expected one of"):
            GridNet(activation="gelu")
        with pytest.raises(TypeError, match="bias: expected a bool"):
            GridNet(bias=1)
        with pytest.raises(ValueError, match="skip_kernel_size: expected an odd kernel size"):
            GridNet(skip_kernel_size=2)

    def test_exception_forward(self):
        net = GridNet(widths=(2, 3, 4))
        good = rows_for((2, 3, 4), [(8, 8), (4, 4), (2, 2)])
        with pytest.raises(TypeError, match="rows: expected a sequence of 3 tensors"):
            net(good[0])
        with pytest.raises(ValueError, match=r"rows: expected 3 tensors \(one per row\), got 2"):
            net(good[:2])
        with pytest.raises(ValueError, match=r"rows\[1\]: expected shape \(B, 3, H, W\)"):
            net([good[0], torch.rand(1, 5, 4, 4), good[2]])
        with pytest.raises(TypeError, match=r"rows\[2\]: expected a torch.Tensor"):
            net([good[0], good[1], None])
        with pytest.raises(ValueError, match=r"rows\[0\] and rows\[2\] must have matching sizes"):
            net([good[0], good[1], torch.rand(2, 4, 2, 2)])
        with pytest.raises(ValueError, match=r"rows\[1\]: spatial size must be half of rows\[0\]'s 8x8"):
            net([good[0], torch.rand(1, 3, 5, 4), good[2]])
        with pytest.raises(ValueError, match=r"rows\[2\]: spatial size must be half of rows\[1\]'s 4x4.*got 2x1"):
            net([good[0], good[1], torch.rand(1, 4, 2, 1)])

    def test_gradcheck(self):
        torch.manual_seed(0)
        net = GridNet(widths=(2, 3, 4), out_channels=2).double()
        rows = rows_for((2, 3, 4), [(5, 3), (3, 2), (2, 1)], dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda *r: net(list(r)), tuple(rows), fast_mode=False)

    def test_gradcheck_prelu_no_bias(self):
        torch.manual_seed(0)
        net = GridNet(
            widths=(2, 3), out_channels=1, columns=4, activation="prelu", bias=False, skip_kernel_size=1
        ).double()
        rows = rows_for((2, 3), [(5, 6), (3, 3)], dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda *r: net(list(r)), tuple(rows))

    def test_every_row_input_influences_output(self):
        net = GridNet(widths=(2, 3, 4))
        rows = rows_for((2, 3, 4), [(8, 8), (4, 4), (2, 2)], requires_grad=True)
        net(rows).square().sum().backward()
        for r, x in enumerate(rows):
            assert x.grad is not None and x.grad.abs().sum() > 0, f"row {r} input has no influence"

    def test_evaluation_order(self):
        net = GridNet(widths=(2, 3, 4))
        calls: list[str] = []
        names = {}
        for r, row in enumerate(net.down):
            for c, m in enumerate(row):
                names[m] = f"down r{r}->{r + 1} c{c}"
        for r, row in enumerate(net.up):
            for j, m in enumerate(row):
                names[m] = f"up r{r + 1}->{r} c{3 + j}"
        for r, row in enumerate(net.lateral):
            for c, m in enumerate(row):
                names[m] = f"lat r{r} c{c}->{c + 1}"
        for m, name in names.items():
            m.register_forward_hook(lambda mod, i, o, name=name: calls.append(name))
        net(rows_for((2, 3, 4), [(8, 8), (4, 4), (2, 2)]))
        assert len(calls) == len(names)  # every block runs exactly once
        pos = {name: i for i, name in enumerate(calls)}
        for c in range(3):  # down columns: top to bottom
            assert pos[f"down r0->1 c{c}"] < pos[f"down r1->2 c{c}"]
        for c in range(1, 3):  # node (1, c) = lat + down(node (0, c)) needs node (0, c) first
            assert pos[f"lat r0 c{c - 1}->{c}"] < pos[f"down r0->1 c{c}"]
        for c in range(3, 6):  # up columns: bottom to top
            assert pos[f"up r2->1 c{c}"] < pos[f"up r1->0 c{c}"]
            assert pos[f"lat r2 c{c - 1}->{c}"] < pos[f"up r2->1 c{c}"]
        assert max(pos[f"down r1->2 c{c}"] for c in range(3)) < min(pos[f"up r2->1 c{c}"] for c in range(3, 6))

    def test_determinism(self):
        torch.manual_seed(3)
        a = GridNet(widths=(2, 3, 4))
        torch.manual_seed(3)
        b = GridNet(widths=(2, 3, 4))
        rows = rows_for((2, 3, 4), [(8, 8), (4, 4), (2, 2)])
        assert torch.equal(a(rows), b(rows)) and torch.equal(a(rows), a(rows))


class TestGridNetVFIConfig:
    def test_defaults(self):
        cfg = GridNetVFIConfig()
        assert (cfg.widths, cfg.feature_channels, cfg.scale, cfg.activation, cfg.residual) == (
            (32, 64, 96),
            64,
            4,
            "relu",
            False,
        )

    def test_roundtrip_asdict(self):
        cfg = GridNetVFIConfig(widths=[48, 96, 144], activation="prelu")
        assert cfg.widths == (48, 96, 144)
        assert GridNetVFIConfig(**dataclasses.asdict(cfg)) == cfg

    def test_exception(self):
        with pytest.raises(ValueError, match=r"widths: expected 3 widths \(one per row\), got 2"):
            GridNetVFIConfig(widths=(32, 64))
        with pytest.raises(TypeError, match="feature_channels: expected a non-negative int"):
            GridNetVFIConfig(feature_channels=16.0)
        with pytest.raises(ValueError, match="feature_channels: expected 0 or a positive multiple of 16"):
            GridNetVFIConfig(feature_channels=24)
        with pytest.raises(ValueError, match="feature_channels: expected 0 or a positive multiple of 16"):
            GridNetVFIConfig(feature_channels=-16)
        with pytest.raises(ValueError, match="scale: GridNetVFI supports only scale=4"):
            GridNetVFIConfig(scale=2)
        with pytest.raises(TypeError, match="scale: expected a positive int"):
            GridNetVFIConfig(scale=4.0)
        with pytest.raises(ValueError, match="activation: expected one of"):
            GridNetVFIConfig(activation="ReLU")
        with pytest.raises(TypeError, match="residual: expected a bool"):
            GridNetVFIConfig(residual="yes")
        with pytest.raises(TypeError, match="bias: expected a bool"):
            GridNetVFIConfig(bias=None)
        with pytest.raises(ValueError, match="skip_kernel_size: expected an odd kernel size"):
            GridNetVFIConfig(skip_kernel_size=4)
        with pytest.raises(ValueError, match="columns: expected a positive even number"):
            GridNetVFIConfig(columns=3)


class TestGridNetVFI:
    def test_smoke(self):
        net = GridNetVFI(TINY)
        out = net(vfi_input(batch=2))
        assert out.shape == (2, 3, 16, 16) and torch.isfinite(out).all()
        assert (net.scale, net.feature_channels, net.size_multiple) == (4, 16, 4)

    def test_row_inputs(self):
        net = GridNetVFI(TINY)
        inp = vfi_input(batch=2, size=(16, 24))
        r0, r1, r2 = net.row_inputs(inp)
        assert r0.shape == (2, 6 + 1, 16, 24) and r1.shape == (2, 6 + 4, 8, 12) and r2.shape == (2, 6 + 16, 4, 6)
        assert torch.equal(r0[:, :3], inp.warped0) and torch.equal(r2[:, 6:], inp.feature)
        torch.testing.assert_close(r2[:, 3:6], torch.nn.functional.avg_pool2d(inp.warped1, 4))
        # depth-to-space of the feature: HR pixel (4y+i, 4x+j) of row 0 is channel 4i+j of the LR feature
        assert torch.equal(r0[0, 6, 4 * 1 + 2, 4 * 3 + 1], inp.feature[0, 4 * 2 + 1, 1, 3])

    @pytest.mark.parametrize("size", [(20, 28), (4, 4), (12, 36)])
    @pytest.mark.parametrize("batch", [1, 3])
    def test_cardinality(self, size, batch):
        out = GridNetVFI(TINY)(vfi_input(batch=batch, size=size))
        assert out.shape == (batch, 3, *size)

    @pytest.mark.parametrize("size", [(18, 16), (16, 14), (17, 17)])
    def test_cardinality_not_multiple_of_4(self, size):
        with pytest.raises(ValueError, match="inputs.warped0: height and width must be multiples of 4"):
            GridNetVFI(TINY)(vfi_input(size=size, feature=False))

    @pytest.mark.parametrize(
        "widths,expected",
        [
            ((32, 64, 96), 2_517_210),
            ((48, 96, 144), 5_545_242),
            ((56, 112, 168), 7_501_626),
            ((64, 128, 192), 9_752_922),
        ],
    )
    def test_param_count(self, widths, expected):
        net = GridNetVFI(GridNetVFIConfig(widths=widths))
        total, core = count_parameters(net), count_parameters(net.grid)
        print(f"GridNetVFI{widths}: total {total:,}, core grid {core:,}, input heads {total - core:,}")
        assert total == expected
        if widths == (32, 64, 96):
            assert core == 2_235_546

    def test_no_feature_net(self):
        cfg = dataclasses.replace(TINY, feature_channels=0)
        net = GridNetVFI(cfg)
        assert net.feature_channels == 0
        assert [h.body[0].in_channels for h in net.heads] == [6, 6, 6]
        with_feat = vfi_input(fc=16)
        without = VFIInput(with_feat.warped0, with_feat.warped1, with_feat.sr0, with_feat.sr1, with_feat.flows, None)
        assert torch.equal(net(with_feat), net(without))  # a given feature is ignored
        check_vfi_net(net, hr_size=(16, 16))

    def test_exception(self):
        net = GridNetVFI(TINY)
        good = vfi_input(batch=2)
        rep = dataclasses.replace
        with pytest.raises(TypeError, match="config: expected a GridNetVFIConfig"):
            GridNetVFI({"widths": (2, 3, 4)})
        with pytest.raises(TypeError, match="inputs: expected a stvsr_blocks.interfaces.VFIInput"):
            net((good.warped0, good.warped1))
        with pytest.raises(TypeError, match="inputs.warped0: expected a torch.Tensor"):
            net(rep(good, warped0=None))
        with pytest.raises(TypeError, match="inputs.warped1: expected a floating-point tensor"):
            net(rep(good, warped1=good.warped1.long()))
        with pytest.raises(ValueError, match=r"inputs.warped0: expected shape \(B, 3, H, W\)"):
            net(rep(good, warped0=torch.rand(2, 4, 16, 16)))
        with pytest.raises(ValueError, match="inputs.warped1: expected a 4-D tensor"):
            net(rep(good, warped1=torch.rand(3, 16, 16)))
        with pytest.raises(ValueError, match="inputs.warped0 and inputs.warped1 must have matching shape"):
            net(rep(good, warped1=torch.rand(2, 3, 16, 20)))
        with pytest.raises(
            ValueError, match=r"inputs.feature: expected shape \(2, 16, 4, 4\).*got shape \(2, 16, 8, 8\)"
        ):
            net(rep(good, feature=torch.rand(2, 16, 8, 8)))
        with pytest.raises(
            ValueError, match=r"inputs.feature: expected shape \(2, 16, 4, 4\).*got shape \(2, 64, 4, 4\)"
        ):
            net(rep(good, feature=torch.rand(2, 64, 4, 4)))
        with pytest.raises(
            ValueError, match=r"inputs.feature: expected shape \(2, 16, 4, 4\).*got shape \(1, 16, 4, 4\)"
        ):
            net(rep(good, feature=torch.rand(1, 16, 4, 4)))
        with pytest.raises(TypeError, match="inputs.feature: expected a torch.Tensor"):
            net(rep(good, feature=[1.0]))

    def test_gradcheck(self):
        torch.manual_seed(0)
        net = GridNetVFI(TINY).double()
        inp = vfi_input(size=(4, 4), dtype=torch.float64, requires_grad=True)

        def f(w0, w1, feat):
            return net(VFIInput(w0, w1, inp.sr0, inp.sr1, inp.flows, feat))

        assert torch.autograd.gradcheck(f, (inp.warped0, inp.warped1, inp.feature), fast_mode=True)

    def test_determinism(self):
        torch.manual_seed(7)
        a = GridNetVFI(TINY)
        torch.manual_seed(7)
        b = GridNetVFI(TINY)
        inp = vfi_input(batch=2)
        assert torch.equal(a(inp), b(inp)) and torch.equal(a(inp), a(inp))

    def test_conformance_every_parameter_gets_gradient(self):
        check_vfi_net(GridNetVFI(TINY), hr_size=(16, 16))

    def test_conformance_default_config(self):
        out = check_vfi_net(GridNetVFI(), hr_size=(16, 16), batch=1)
        assert out.shape == (1, 3, 16, 16)

    def test_feature_none_equals_zeros(self):
        net = GridNetVFI(TINY)
        inp = vfi_input(batch=2)
        zeros = dataclasses.replace(inp, feature=torch.zeros_like(inp.feature))
        none = dataclasses.replace(inp, feature=None)
        assert torch.equal(net(none), net(zeros))

    def test_feature_influences_output(self):
        net = GridNetVFI(TINY)
        inp = vfi_input(batch=2, requires_grad=True)
        out = net(inp)
        out.square().sum().backward()
        assert inp.feature.grad is not None and inp.feature.grad.abs().sum() > 0
        other = dataclasses.replace(inp, feature=torch.rand_like(inp.feature))
        assert not torch.allclose(net(other), out)

    def test_every_row_influences_output(self):
        # the HR/4 row (avg-pooled frames + feature) must reach the output through the grid
        net = GridNetVFI(TINY)
        rows = [x.requires_grad_() for x in net.row_inputs(vfi_input(batch=2))]
        out = net.grid([h(x) for h, x in zip(net.heads, rows)])
        out.square().sum().backward()
        for r, x in enumerate(rows):
            assert x.grad.abs().sum() > 0, f"row {r} has no influence"

    def test_residual(self):
        torch.manual_seed(0)
        plain = GridNetVFI(TINY)
        res = GridNetVFI(dataclasses.replace(TINY, residual=True))
        res.load_state_dict(plain.state_dict())
        inp = vfi_input(batch=2)
        torch.testing.assert_close(res(inp), plain(inp) + 0.5 * (inp.warped0 + inp.warped1))

    def test_prelu(self):
        net = GridNetVFI(dataclasses.replace(TINY, activation="prelu"))
        assert any(isinstance(m, torch.nn.PReLU) for m in net.modules())
        assert not any(isinstance(m, torch.nn.ReLU) for m in net.modules())
        check_vfi_net(net, hr_size=(16, 16))

    @pytest.mark.gpu
    def test_gpu_parity(self):
        assert_cpu_gpu_parity(lambda: GridNetVFI(TINY), make_vfi_input(2, (16, 24), 4, 16))
