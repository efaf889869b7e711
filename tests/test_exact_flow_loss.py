"""The supervised flow loss (Eq. 10) with the data's exact flows as the target."""

from __future__ import annotations

import pytest
import torch

from stvsr_blocks.baselines import BicubicVSR, LinearBlendVFI, ZeroFlowEstimator
from stvsr_blocks.interfaces import MidFlows
from stvsr_blocks.loop import InteractionLoop
from stvsr_blocks.losses import LossConfig, MBnetLoss, exact_flow_loss


def _setup(b: int = 2):
    loop = InteractionLoop(flow=ZeroFlowEstimator(), vsr=BicubicVSR(), vfi=LinearBlendVFI(), feature=None)
    lr = torch.rand(b, 2, 3, 8, 8)
    hr = torch.rand(b, 3, 3, 32, 32)
    return loop(lr[:, 0], lr[:, 1]), hr, lr


class _ConstTeacher(torch.nn.Module):
    def forward(self, a, b):
        return torch.full((a.shape[0], 2, *a.shape[-2:]), 3.0)


def test_masked_mean_by_hand() -> None:
    z = torch.zeros(1, 2, 2, 2)
    target = torch.zeros(1, 2, 2, 2, 2)
    target[0, 0, :, 0, 0] = 4.0  # error 4 at one pixel (both channels) of flow_0tot
    target[0, 1] = 1.0  # error 1 everywhere in flow_1tot
    mask = torch.ones(1, 2, 1, 2, 2, dtype=torch.bool)
    mask[0, 1, 0, 1, 1] = False  # one invalid pixel in flow_1tot
    # flow_0tot: (4 + 4) / 8 elements; flow_1tot: 6 valid elements of error 1 / 6
    assert exact_flow_loss(MidFlows(z, z), target, mask).item() == pytest.approx(1.0 + 1.0)
    target[0, 1, :, 1, 1] = 100.0  # an invalid pixel's error is ignored
    assert exact_flow_loss(MidFlows(z, z), target, mask).item() == pytest.approx(2.0)


def test_uses_exact_flows_without_teacher() -> None:
    out, hr, lr = _setup()
    flows = torch.full((2, 2, 2, 32, 32), 0.5)
    mask = torch.ones(2, 2, 1, 32, 32, dtype=torch.bool)
    terms = MBnetLoss(LossConfig(lambda_b=0.1))(out, hr, lr, flows=flows, flow_mask=mask)
    assert terms.flow_supervised.item() == pytest.approx(1.0)  # |0 - 0.5| per flow, two flows
    assert torch.allclose(terms.total, terms.reconstruction + 0.01 * terms.flow_unsupervised + 0.1 * terms.flow_supervised)


def test_mixed_batch_uses_teacher_where_no_exact_flow() -> None:
    out, hr, lr = _setup()
    flows = torch.zeros(2, 2, 2, 32, 32)
    mask = torch.zeros(2, 2, 1, 32, 32, dtype=torch.bool)
    mask[0] = True  # sample 0: exact zero flow (error 0); sample 1: teacher says 3 (error 3 per channel)
    terms = MBnetLoss(LossConfig(lambda_b=0.1), teacher=_ConstTeacher())(out, hr, lr, flows=flows, flow_mask=mask)
    assert terms.flow_supervised.item() == pytest.approx(2 * 3.0 / 2)  # per flow: mean over both samples


def test_flow_target_teacher_ignores_exact_flows() -> None:
    out, hr, lr = _setup()
    flows = torch.zeros(2, 2, 2, 32, 32)
    mask = torch.ones(2, 2, 1, 32, 32, dtype=torch.bool)
    cfg = LossConfig(lambda_b=0.1, flow_target="teacher")
    terms = MBnetLoss(cfg, teacher=_ConstTeacher())(out, hr, lr, flows=flows, flow_mask=mask)
    assert terms.flow_supervised.item() == pytest.approx(6.0)


def test_errors() -> None:
    out, hr, lr = _setup()
    with pytest.raises(ValueError, match="no exact flows were passed"):
        MBnetLoss(LossConfig(lambda_b=0.1))(out, hr, lr)
    # a batch of samples without exact flow (real footage in a mixed run) and no teacher adds nothing
    none = torch.zeros(2, 2, 1, 32, 32, dtype=torch.bool)
    terms = MBnetLoss(LossConfig(lambda_b=0.1))(out, hr, lr, flows=torch.zeros(2, 2, 2, 32, 32), flow_mask=none)
    assert terms.flow_supervised.item() == 0.0
    with pytest.raises(ValueError, match="flow_target"):
        LossConfig(flow_target="raft")
    with pytest.raises(ValueError, match="flows, flow_mask: expected spatial size"):
        MBnetLoss(LossConfig(lambda_b=0.1))(out, hr, lr, flows=torch.zeros(2, 2, 2, 16, 16),
                                            flow_mask=torch.ones(2, 2, 1, 16, 16, dtype=torch.bool))
    # flow_target="exact" without exact flows adds nothing
    terms = MBnetLoss(LossConfig(lambda_b=0.1, flow_target="exact"))(out, hr, lr)
    assert terms.flow_supervised.item() == 0.0
