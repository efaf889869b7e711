"""Frames at any time t: per-sample t through the loop, the VFI nets' time input and blend, ×N streaming."""

from __future__ import annotations

import pytest
import torch

from stvsr_blocks.baselines import BicubicVSR, LinearBlendVFI, ZeroFlowEstimator
from stvsr_blocks.inference import StreamingUpscaler
from stvsr_blocks.interfaces import MidFlows, VFIInput
from stvsr_blocks.loop import InteractionLoop
from stvsr_blocks.models import mbnet_tiny
from stvsr_blocks.ops.flow import linear_flow_interpolation, quadratic_flow_interpolation
from stvsr_blocks.vfi.gridnet import GridNetVFI, GridNetVFIConfig


def _tiny_any_t():
    torch.manual_seed(0)
    return mbnet_tiny(vfi=GridNetVFIConfig(widths=(8, 16, 24), feature_channels=16, residual=True,
                                           time_input=True)).eval()


class TestPerSampleTime:
    def test_batch_of_times_equals_separate_calls(self) -> None:
        model = _tiny_any_t()
        lr0, lr1 = torch.rand(3, 3, 16, 16), torch.rand(3, 3, 16, 16)
        ts = torch.tensor([0.2, 0.5, 0.9])
        with torch.no_grad():
            batched = model(lr0, lr1, t=ts)
            for i, t in enumerate(ts.tolist()):
                single = model(lr0[i : i + 1], lr1[i : i + 1], t=t)
                for a, b in zip(batched.frames, single.frames):
                    assert torch.allclose(a[i : i + 1], b, atol=1e-5)

    def test_time_changes_only_the_middle_frame(self) -> None:
        model = _tiny_any_t()
        lr0, lr1 = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
        with torch.no_grad():
            a, b = model(lr0, lr1, t=0.25), model(lr0, lr1, t=0.75)
        assert not torch.allclose(a.frames[1], b.frames[1], atol=1e-4)
        # SR of the endpoints depends on t only through the feedback of the synthesised frame
        assert torch.allclose(a.iterations[0].sr0, b.iterations[0].sr0)

    def test_default_is_the_loops_t(self) -> None:
        model = _tiny_any_t()
        x = torch.rand(1, 3, 8, 8)
        with torch.no_grad():
            assert torch.equal(model(x, x).frames[1], model(x, x, t=0.5).frames[1])

    @pytest.mark.parametrize(("t", "err", "match"), [
        (torch.tensor([0.5, 0.5]), ValueError, r"shape \(1,\)"),
        (1.5, ValueError, r"\[0(\.0)?, 1(\.0)?\]"),
        (torch.tensor([1.5]), ValueError, r"\[0(\.0)?, 1(\.0)?\]"),
        ("half", TypeError, "t"),
    ])
    def test_bad_time(self, t, err, match) -> None:
        x = torch.rand(1, 3, 8, 8)
        with pytest.raises(err, match=match):
            _tiny_any_t()(x, x, t=t)

    def test_flow_interpolation_per_sample(self) -> None:
        f01, f10 = torch.randn(2, 2, 4, 4), torch.randn(2, 2, 4, 4)
        ts = torch.tensor([0.3, 0.8])
        for fn in (quadratic_flow_interpolation, linear_flow_interpolation):
            batched = fn(f01, f10, ts)
            for i in range(2):
                single = fn(f01[i : i + 1], f10[i : i + 1], float(ts[i]))
                assert torch.allclose(batched[0][i : i + 1], single[0]) and torch.allclose(batched[1][i : i + 1], single[1])


class TestVFITime:
    def test_residual_is_time_weighted_blend(self) -> None:
        net = GridNetVFI(GridNetVFIConfig(widths=(4, 6, 8), feature_channels=0, residual=True, time_input=True))
        for p in net.parameters():
            torch.nn.init.zeros_(p)
        w0, w1 = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
        z = torch.zeros(2, 2, 8, 8)
        t = torch.tensor([0.25, 0.9])
        out = net(VFIInput(w0, w1, w0, w1, MidFlows(z, z), None, t))
        expected = (1 - t)[:, None, None, None] * w0 + t[:, None, None, None] * w1
        assert torch.allclose(out, expected, atol=1e-6)

    def test_time_input_adds_one_channel_per_row(self) -> None:
        a = GridNetVFI(GridNetVFIConfig(widths=(4, 6, 8), feature_channels=16))
        b = GridNetVFI(GridNetVFIConfig(widths=(4, 6, 8), feature_channels=16, time_input=True))
        x = torch.rand(1, 3, 16, 16)
        z = torch.zeros(1, 2, 16, 16)
        inp = VFIInput(x, x, x, x, MidFlows(z, z), torch.rand(1, 16, 4, 4), 0.3)
        ra, rb = a.row_inputs(inp), b.row_inputs(inp)
        assert [r.shape[1] + 1 for r in ra] == [r.shape[1] for r in rb]
        assert torch.all(rb[0][:, -1] == 0.3)
        # SPEC parameter counts are unchanged without the option
        assert sum(p.numel() for p in GridNetVFI().parameters()) == 2517210

    def test_linear_blend_per_sample(self) -> None:
        w0, w1 = torch.zeros(2, 3, 4, 4), torch.ones(2, 3, 4, 4)
        z = torch.zeros(2, 2, 4, 4)
        out = LinearBlendVFI()(VFIInput(w0, w1, w0, w1, MidFlows(z, z), None, torch.tensor([0.1, 0.7])))
        assert torch.allclose(out.mean((1, 2, 3)), torch.tensor([0.1, 0.7]))


class TestStreamingTimeFactor:
    @pytest.mark.parametrize("k", [2, 3, 4])
    def test_frame_count_and_times(self, k: int) -> None:
        loop = InteractionLoop(flow=ZeroFlowEstimator(), vsr=BicubicVSR(), vfi=LinearBlendVFI(), feature=None)
        # frames of constant value i: blends reveal the time at which each output was synthesised
        frames = [torch.full((3, 8, 8), float(i)) / 10 for i in range(4)]
        out = list(StreamingUpscaler(loop, time_factor=k).run(frames))
        assert len(out) == k * (len(frames) - 1) + 1
        values = [float(f.mean()) * 10 for f in out]
        assert values == pytest.approx([j / k for j in range(len(out))], abs=1e-4)

    def test_bad_factor(self) -> None:
        with pytest.raises(ValueError, match="time_factor"):
            StreamingUpscaler(mbnet_tiny(), time_factor=1)


def test_tiled_upscale_passes_time() -> None:
    from stvsr_blocks.inference import TileConfig, upscale_pair

    loop = InteractionLoop(flow=ZeroFlowEstimator(), vsr=BicubicVSR(), vfi=LinearBlendVFI(), feature=None)
    a, b = torch.zeros(1, 3, 20, 20), torch.ones(1, 3, 20, 20)
    for tiles in (None, TileConfig(tile=8, overlap=2)):
        mid = upscale_pair(loop, a, b, tiles, t=0.25)[1]
        assert torch.allclose(mid, torch.full_like(mid, 0.25), atol=1e-5)
