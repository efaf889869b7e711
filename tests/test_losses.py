"""Each loss term against a hand computation on tiny tensors."""

from __future__ import annotations

import pytest
import torch

from stvsr_blocks.baselines import BicubicVSR, LinearBlendVFI, ZeroFlowEstimator
from stvsr_blocks.interfaces import FlowPyramid, MidFlows
from stvsr_blocks.loop import InteractionLoop
from stvsr_blocks.losses import (
    LossConfig,
    MBnetLoss,
    hr_flow_loss,
    lr_flow_loss,
    photometric_flow_loss,
    reconstruction_loss,
    supervised_flow_loss,
)


def test_reconstruction_l1_by_hand():
    hr = torch.zeros(1, 3, 1, 2, 2)
    frames = [torch.full((1, 1, 2, 2), v) for v in (0.5, 1.0, -0.25)]
    assert reconstruction_loss(frames, hr).item() == pytest.approx(0.5 + 1.0 + 0.25)


def test_reconstruction_charbonnier_by_hand():
    hr = torch.zeros(1, 1, 1, 1, 1)
    out = reconstruction_loss(torch.full((1, 1, 1, 1, 1), 0.3), hr, kind="charbonnier", eps=0.4)
    assert out.item() == pytest.approx(0.5)  # sqrt(0.09 + 0.16)


def test_reconstruction_exceptions():
    with pytest.raises(ValueError, match="same shape"):
        reconstruction_loss(torch.zeros(1, 3, 3, 4, 4), torch.zeros(1, 3, 3, 4, 5))
    with pytest.raises(ValueError, match="kind"):
        reconstruction_loss(torch.zeros(1, 3, 3, 4, 4), torch.zeros(1, 3, 3, 4, 4), kind="l2")


def test_photometric_by_hand():
    src = torch.tensor([[[[0.0, 1.0, 2.0]]]]).repeat(1, 1, 2, 1)
    tgt = torch.tensor([[[[1.0, 2.0, 2.0]]]]).repeat(1, 1, 2, 1)
    flow = torch.zeros(1, 2, 2, 3)
    flow[:, 0] = 1.0  # sample one pixel right: warp(src) == tgt exactly (border clamp at the end)
    assert photometric_flow_loss(src, tgt, flow).item() == pytest.approx(0.0, abs=1e-6)
    # zero flow: |src - tgt| mean = (1 + 1 + 0)/3 ; smoothness of a constant flow = 0
    assert photometric_flow_loss(src, tgt, torch.zeros(1, 2, 2, 3)).item() == pytest.approx(2 / 3)
    # non-constant flow adds 0.1 * smoothness
    f = torch.zeros(1, 2, 2, 3)
    f[0, 1, 1, :] = 1.0  # dy of channel 1 over the (1 x 2) core = 2 * 1 -> S = 2 / (1*1*2) = 1
    val = photometric_flow_loss(src, src, f, smoothness_weight=0.1)
    from stvsr_blocks.ops import backward_warp
    assert val.item() == pytest.approx((backward_warp(src, f) - src).abs().mean().item() + 0.1 * 1.0)


def test_hr_flow_loss_sums_both_directions():
    a, m, b = torch.rand(3, 1, 3, 4, 4).unbind(0)
    z = torch.zeros(1, 2, 4, 4)
    expected = (a - m).abs().mean() + (b - m).abs().mean()
    assert torch.allclose(hr_flow_loss(a, m, b, MidFlows(z, z)), expected)


def test_lr_flow_loss_levels_and_pooling_by_hand():
    lr0 = torch.zeros(1, 1, 4, 4)
    lr1 = torch.ones(1, 1, 4, 4)
    levels = tuple((torch.zeros(1, 2, s, s), torch.zeros(1, 2, s, s)) for s in (1, 2, 4))
    pyr = FlowPyramid(levels[-1][0], levels[-1][1], levels)
    # every level: |0 - 1| both directions = 2, weighted 0.1 + 0.2 + 1.0
    assert lr_flow_loss(lr0, lr1, pyr).item() == pytest.approx(2 * (0.1 + 0.2 + 1.0))
    # single-level estimator uses the finest weight only
    single = FlowPyramid(levels[-1][0], levels[-1][1], (levels[-1],))
    assert lr_flow_loss(lr0, lr1, single).item() == pytest.approx(2.0)
    # pooling: a checkerboard averages to 0.5 at the coarse level
    cb = (torch.arange(4).view(1, 4) + torch.arange(4).view(4, 1)) % 2
    lr0 = cb.float().view(1, 1, 4, 4)
    coarse = FlowPyramid(levels[-1][0], levels[-1][1], (levels[0], levels[-1]))
    val = lr_flow_loss(lr0, torch.full_like(lr0, 0.5), coarse, level_weights=(1.0, 0.0))
    assert val.item() == pytest.approx(0.0)


def test_lr_flow_loss_exceptions():
    f = torch.zeros(1, 2, 4, 4)
    pyr = FlowPyramid(f, f, ((f, f),) * 4)
    with pytest.raises(ValueError, match="need 4 weights"):
        lr_flow_loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4), pyr)
    g = torch.zeros(1, 2, 3, 3)
    with pytest.raises(ValueError, match="does not divide"):
        lr_flow_loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4), FlowPyramid(f, f, ((g, g), (f, f))))


def test_supervised_by_hand():
    z = torch.zeros(1, 2, 2, 2)
    assert supervised_flow_loss(MidFlows(z + 2, z - 1), MidFlows(z, z)).item() == pytest.approx(3.0)


class _ShiftTeacher(torch.nn.Module):
    """Returns a constant flow (records its calls)."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, a, b):
        self.calls.append((a, b))
        return torch.ones(a.shape[0], 2, *a.shape[-2:])


class TestMBnetLoss:
    def _setup(self):
        loop = InteractionLoop(flow=ZeroFlowEstimator(), vsr=BicubicVSR(), vfi=LinearBlendVFI(), feature=None)
        lr = torch.rand(2, 2, 3, 8, 8)
        hr = torch.rand(2, 3, 3, 32, 32)
        return loop(lr[:, 0], lr[:, 1]), hr, lr

    def test_total_is_weighted_sum(self):
        out, hr, lr = self._setup()
        cfg = LossConfig(lambda_1=1.0, lambda_2=0.5, lambda_a=0.01)
        t = MBnetLoss(cfg)(out, hr, lr)
        assert torch.allclose(t.flow_unsupervised, t.flow_hr + 0.5 * t.flow_lr)
        assert torch.allclose(t.total, t.reconstruction + 0.01 * t.flow_unsupervised)
        assert t.flow_supervised.item() == 0.0
        assert torch.allclose(t.reconstruction, reconstruction_loss(out.frames, hr))

    def test_teacher_argument_order_and_weight(self):
        out, hr, lr = self._setup()
        teacher = _ShiftTeacher()
        t = MBnetLoss(LossConfig.perceptual(), teacher=teacher)(out, hr, lr)
        # teacher(HR_{t-1}, HR_t) and teacher(HR_{t+1}, HR_t): flows that warp the endpoints to t
        assert torch.equal(teacher.calls[0][0], hr[:, 0]) and torch.equal(teacher.calls[0][1], hr[:, 1])
        assert torch.equal(teacher.calls[1][0], hr[:, 2]) and torch.equal(teacher.calls[1][1], hr[:, 1])
        assert t.flow_supervised.item() == pytest.approx(2.0)  # |0 - 1| per flow, two flows
        assert torch.allclose(t.total, t.reconstruction + 0.01 * t.flow_unsupervised + 0.01 * t.flow_supervised)

    def test_intermediate_supervision(self):
        out, hr, lr = self._setup()
        t = MBnetLoss(LossConfig(intermediate_weight=0.5))(out, hr, lr)
        first = out.iterations[0]
        assert torch.allclose(t.intermediate, reconstruction_loss((first.sr0, first.sr_mid, first.sr1), hr))

    def test_exceptions(self):
        out, hr, lr = self._setup()
        with pytest.raises(ValueError, match="teacher"):
            MBnetLoss(LossConfig(lambda_b=0.01, flow_target="teacher"))
        with pytest.raises(ValueError, match="lambda_a: expected a non-negative"):
            LossConfig(lambda_a=-1)
        with pytest.raises(ValueError, match="reconstruction"):
            LossConfig(reconstruction="l2")
        with pytest.raises(ValueError, match="hr_flow_frames"):
            LossConfig(hr_flow_frames="pred")
        with pytest.raises(ValueError, match="temporal_terms"):
            LossConfig(temporal_terms=0)
        with pytest.raises(ValueError, match="hr: spatial size"):
            MBnetLoss()(out, hr[..., :16, :16], lr)
        with pytest.raises(ValueError, match="lr: spatial size"):
            MBnetLoss()(out, hr, lr[..., :4, :4])
        with pytest.raises(ValueError, match=r"hr: expected shape \(B, 3, 3, H, W\)"):
            MBnetLoss()(out, hr[:, :2], lr)

    def test_presets_and_dict(self):
        assert LossConfig.paper().lambda_b == 0.0 and LossConfig.perceptual().lambda_b == 0.01
        d = LossConfig.paper().to_dict()
        assert d["level_weights"] == [0.1, 0.2, 1.0] and LossConfig(**d) == LossConfig.paper()
