"""Each loss term against a hand computation on tiny tensors."""

from __future__ import annotations

import pytest
import torch

from stvsr_blocks.baselines import BicubicVSR, LinearBlendVFI, ZeroFlowEstimator
from stvsr_blocks.interfaces import FlowPyramid, MidFlows
from stvsr_blocks.loop import InteractionLoop, IterationOutput, LoopOutput
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
    # A vertical flow: row 0 samples one row down (+1 px in y), row 1 stays. By hand, with rows
    # [0, 1, 2] and [3, 4, 5]: warp = [[3, 4, 5], [3, 4, 5]], |warp - src| = [3, 3, 3, 0, 0, 0], mean 1.5.
    # Smoothness of channel 1 over the (1 x 2) core: dy = |1 - 0| twice, dx = 0 -> S = 2 / (1*1*2) = 1.
    # A sign error (row 0 sampling row -1, clamped to row 0) would give 0 + 0.1, a forward warp 1.5 on row 1.
    src = torch.tensor([[[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]]])
    f = torch.zeros(1, 2, 2, 3)
    f[0, 1, 0, :] = 1.0
    assert photometric_flow_loss(src, src, f, smoothness_weight=0.1).item() == pytest.approx(1.5 + 0.1 * 1.0)


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

    @staticmethod
    def _constant_output() -> tuple[LoopOutput, torch.Tensor, torch.Tensor]:
        """A two-iteration output whose every loss term is known by hand (constant frames, zero flows).

        HR = 0, 0.25, 1; last iteration's frames all 0.5; first iteration's frames all 1; LR = 0 and 1.
        """
        def c(v, ch=3, s=8):
            return torch.full((1, ch, s, s), float(v))

        z_hr, z_lr = c(0, 2), c(0, 2, 2)
        mid = MidFlows(z_hr, z_hr)
        recs = tuple(IterationOutput(c(v), c(v), c(v), None, mid, c(v), c(v), c(v), c(v)) for v in (1.0, 0.5))
        pyr = FlowPyramid(z_lr, z_lr, ((z_lr, z_lr),))
        out = LoopOutput((c(0.5), c(0.5), c(0.5)), pyr, MidFlows(z_lr, z_lr), mid, recs)
        hr = torch.stack([c(0), c(0.25), c(1)], dim=1)
        lr = torch.stack([c(0, 3, 2), c(1, 3, 2)], dim=1)
        return out, hr, lr

    # By hand: reconstruction |.5-0| + |.5-.25| + |.5-1| = 1.25; HR flow loss (zero flows, GT frames)
    # |0-.25| + |1-.25| = 1.0; LR flow loss (one level, weight 1) |0-1| both ways = 2.0; first
    # iteration's reconstruction |1-0| + |1-.25| + |1-1| = 1.75.
    @pytest.mark.parametrize(("kw", "flow_unsup", "total"), [
        ({}, 1.0 + 1.0, 1.25 + 0.01 * 2.0),  # lambda_1 = 1, lambda_2 = 0.5
        ({"lambda_1": 2.0, "lambda_2": 0.25, "lambda_a": 0.1}, 2.0 + 0.5, 1.25 + 0.1 * 2.5),
        ({"temporal_terms": 2}, (1.0 + 1.0) / 2, 1.25 + 0.01 * 1.0),
        ({"intermediate_weight": 0.5}, 2.0, 1.25 + 0.5 * 1.75 + 0.01 * 2.0),
        ({"intermediate_weight": 2.0, "lambda_a": 0.0}, 2.0, 1.25 + 2.0 * 1.75),
    ])
    def test_total_is_weighted_sum(self, kw, flow_unsup, total):
        out, hr, lr = self._constant_output()
        t = MBnetLoss(LossConfig(**kw))(out, hr, lr)
        assert t.reconstruction.item() == pytest.approx(1.25)
        assert t.flow_hr.item() == pytest.approx(1.0)
        assert t.flow_lr.item() == pytest.approx(2.0)
        assert t.flow_unsupervised.item() == pytest.approx(flow_unsup)
        assert t.flow_supervised.item() == 0.0
        assert t.total.item() == pytest.approx(total)

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
        out, hr, lr = self._constant_output()
        off = MBnetLoss(LossConfig())(out, hr, lr)
        on = MBnetLoss(LossConfig(intermediate_weight=0.5))(out, hr, lr)
        assert off.intermediate.item() == 0.0  # weight 0: not computed
        assert on.intermediate.item() == pytest.approx(1.75)  # the first iteration's frames (all 1), by hand
        assert on.total.item() - off.total.item() == pytest.approx(0.5 * 1.75)
        single = LoopOutput(out.frames, out.flows_lr, out.mid_flows_lr, out.mid_flows_hr, out.iterations[1:])
        assert MBnetLoss(LossConfig(intermediate_weight=0.5))(single, hr, lr).intermediate.item() == 0.0

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


_NEW_TERM = r'''
import dataclasses, sys
import torch
import stvsr_blocks.losses as L

# --- the one edit, in stvsr_blocks/losses.py: a LossConfig weight, a LossTerms field, its computation ---
@dataclasses.dataclass
class LossConfig(L.LossConfig):
    lambda_tv: float = 0.0

@dataclasses.dataclass
class LossTerms(L.LossTerms):
    tv: torch.Tensor = None

_forward = L.MBnetLoss.forward

def forward(self, output, hr, lr, **kw):
    t = _forward(self, output, hr, lr, **kw)
    mid = output.frames[1]
    tv = (mid[..., 1:, :] - mid[..., :-1, :]).abs().mean() + (mid[..., 1:] - mid[..., :-1]).abs().mean()
    return dataclasses.replace(t, total=t.total + self.config.lambda_tv * tv, tv=tv)  # t is a LossTerms now

L.LossConfig, L.LossTerms, L.MBnetLoss.forward = LossConfig, LossTerms, forward
# --- nothing else is edited: the recipe imported afterwards discovers the field and the term ---
import argparse, csv, yaml
from stvsr_blocks.recipe import train as tr

p = argparse.ArgumentParser()
tr.add_arguments(p)
out = sys.argv[1]
args = p.parse_args(["--config", "tiny", "--out", out, "--no-progress", "--steps", "1", "--loss.lambda_tv", "0.25",
                     "--set", "data.val_clips=0", "--set", "log.curves=false", "--set", "data.lr_patch=8",
                     "--set", "data.synthetic.height=32", "--set", "data.synthetic.width=32"])
assert tr.main(args) == 0
saved = yaml.safe_load(open(out + "/config.yaml"))
header = next(csv.reader(open(out + "/log.csv")))
row = next(csv.DictReader(open(out + "/log.csv")))
print(saved["loss"]["lambda_tv"], "tv" in tr.LOG_COLUMNS, header.index("tv") > header.index("loss"), float(row["tv"]) > 0)
'''


def test_a_new_loss_term_needs_no_edit_outside_losses(tmp_path):
    """A LossConfig field + LossTerms field + its computation (the edit in losses.py, applied here before the
    recipe is imported) is a config key and CLI flag, reaches the loss, and becomes a log.csv column."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-c", _NEW_TERM, str(tmp_path / "run")], env=env, cwd=root,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.split()[-4:] == ["0.25", "True", "True", "True"]
