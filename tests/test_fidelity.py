"""One test per documented deviation from the paper's text (docs/fidelity.md), and the A15 option."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from stvsr_blocks.interfaces import FlowPyramid, MidFlows
from stvsr_blocks.loop import IterationOutput, LoopOutput
from stvsr_blocks.losses import LossConfig, MBnetLoss, lr_flow_loss
from stvsr_blocks.models import MBnetConfig, build_model, mbnet_tiny
from stvsr_blocks.ops import quadratic_flow_interpolation
from stvsr_blocks.vfi.gridnet import GridNetVFI, GridNetVFIConfig


def _window(lr0: float, lr1: float) -> tuple[LoopOutput, torch.Tensor, torch.Tensor]:
    """One training window with constant frames and zero flows: every term is known by hand."""
    def c(v, ch=3, s=8):
        return torch.full((1, ch, s, s), float(v))

    z_hr, z_lr = c(0, 2), c(0, 2, 2)
    mid = MidFlows(z_hr, z_hr)
    rec = IterationOutput(c(0), c(0), c(0), None, mid, c(0), c(0), c(0), c(0))
    out = LoopOutput((c(0), c(0), c(0)), FlowPyramid(z_lr, z_lr, ((z_lr, z_lr),)), MidFlows(z_lr, z_lr), mid, (rec,))
    return out, torch.zeros(1, 3, 3, 8, 8), torch.stack([c(lr0, 3, 2), c(lr1, 3, 2)], dim=1)


def test_eq8_one_window_divided_by_t():
    # Eq. 8 sums (l1 L^SR_t + l2 L^LR_t) / T over t = 1..2T+1; a training sample is one window with one
    # interpolated frame, so the sum has exactly one term, divided by T = LossConfig.temporal_terms.
    out, hr, lr = _window(0.0, 1.0)  # L^SR_t = 0 (GT frames equal, zero flow); L^LR_t = |0-1| * 2 = 2
    for T in (1, 2, 4):
        terms = MBnetLoss(LossConfig(temporal_terms=T))(out, hr, lr)
        assert terms.flow_lr.item() == pytest.approx(2.0)
        assert terms.flow_unsupervised.item() == pytest.approx(0.5 * 2.0 / T)  # not 3 terms (t = 1..3)


def test_lr_flow_loss_has_a_reverse_term():
    # Paper: L^LR_t = |warp(LR_{t-1}, flow_{t-1->t+1}) - LR_{t+1}| + smoothness (one direction). Here the
    # reverse flow is supervised too: a perfect forward flow with a wrong reverse flow still costs.
    lr0 = torch.zeros(1, 1, 4, 4)
    lr0[..., 1] = 1.0  # a bright column at x = 1
    lr1 = torch.roll(lr0, 1, dims=-1)  # moved +1 px: flow_0to1 = -1 (x) everywhere except the border
    good = torch.zeros(1, 2, 4, 4)
    good[:, 0] = -1.0
    zero = torch.zeros(1, 2, 4, 4)
    fwd_only = FlowPyramid(good, -good, ((good, -good),))
    wrong_reverse = FlowPyramid(good, zero, ((good, zero),))
    base = lr_flow_loss(lr0, lr1, fwd_only, level_weights=(1.0,))
    assert base.item() == pytest.approx(0.0, abs=1e-6)  # both directions exact
    # reverse = zero flow: |LR_1 - LR_0| = 2 bright pixels per row out of 4 -> mean 0.5
    assert lr_flow_loss(lr0, lr1, wrong_reverse, level_weights=(1.0,)).item() == pytest.approx(0.5)


def test_gridnet_blocks_are_preactivation():
    # Fig. 5 draws conv then ReLU; the grid's blocks are ReLU -> conv -> ReLU -> conv (pre-activation,
    # as the softsplat GridNet), so that the residual branches can be negative.
    net = GridNetVFI(GridNetVFIConfig(widths=(8, 16, 24), feature_channels=0))
    blocks = [net.grid.lateral[0][0], net.grid.down[0][0], net.grid.up[0][0], net.grid.head]
    for block in blocks:
        kinds = [type(m) for m in block.body]
        assert kinds == [nn.ReLU, nn.Conv2d, nn.ReLU, nn.Conv2d], kinds
    # the per-row input heads have no activation in front (their input is the raw frames / feature)
    assert [type(m) for m in net.heads[0].body] == [nn.Conv2d, nn.ReLU, nn.Conv2d]


@pytest.mark.parametrize("cascade", ["none", "vfi_vsr"])
def test_paper_coefficients_reachable_from_config(cascade):
    cfg = mbnet_tiny().config
    assert cfg.quadratic_coefficients == "slomo"  # every preset
    paper = build_model(MBnetConfig.from_dict({**cfg.to_dict(), "quadratic_coefficients": "paper", "cascade": cascade}))
    g = torch.Generator().manual_seed(0)
    lr0, lr1 = torch.rand(1, 3, 16, 16, generator=g), torch.rand(1, 3, 16, 16, generator=g)
    t = 0.25
    with torch.no_grad():
        out = paper(lr0, lr1, t=t)
        flows = paper.flow(lr0, lr1)
    expect = quadratic_flow_interpolation(flows.flow_0to1, flows.flow_1to0, t, coefficients="paper")
    assert torch.allclose(out.mid_flows_lr.flow_0tot, expect[0], atol=1e-6)
    slomo = quadratic_flow_interpolation(flows.flow_0to1, flows.flow_1to0, t)
    assert not torch.allclose(out.mid_flows_lr.flow_0tot, slomo[0], atol=1e-6)
    with pytest.raises(ValueError, match="quadratic_coefficients: expected one of"):
        MBnetConfig(quadratic_coefficients="cubic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'paper' applies to interpolation='quadratic' only"):
        build_model(MBnetConfig.from_dict({**cfg.to_dict(), "quadratic_coefficients": "paper",
                                           "interpolation": "linear"}))
