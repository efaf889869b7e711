"""The trivial baselines satisfy the interfaces, and the conformance checkers catch broken blocks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from stvsr_blocks import (
    BicubicVSR,
    FlowEstimator,
    FlowPyramid,
    LinearBlendVFI,
    MidFlows,
    UpsampleFlowRefiner,
    VFINet,
    VSRNet,
    VSROutput,
    ZeroFlowEstimator,
)
from stvsr_blocks.baselines import upsample
from stvsr_blocks.interfaces import FlowRefiner
from stvsr_blocks.testing import (
    ConformanceError,
    check_flow_estimator,
    check_flow_refiner,
    check_vfi_net,
    check_vsr_net,
    make_vfi_input,
    make_vsr_input,
)


class TestBaselines:
    def test_checkers_pass(self):
        check_flow_estimator(ZeroFlowEstimator())
        check_flow_refiner(UpsampleFlowRefiner(4))
        check_vsr_net(BicubicVSR(4))
        check_vsr_net(BicubicVSR(2, mode="bilinear"))
        check_vfi_net(LinearBlendVFI())

    def test_bicubic_matches_interpolate(self):
        inp = make_vsr_input(1, (8, 8), 4)
        out = BicubicVSR(4)(inp)
        ref = torch.nn.functional.interpolate(inp.lr0, scale_factor=4, mode="bicubic", align_corners=False)
        assert torch.allclose(out.sr0, ref.clamp(0, 1)) and out.feature is None

    def test_blend_weights(self):
        inp = make_vfi_input(1, (8, 8))
        inp.t = 0.25
        assert torch.allclose(LinearBlendVFI()(inp), 0.75 * inp.warped0 + 0.25 * inp.warped1)

    def test_upsample_refiner_values(self):
        f = torch.randn(1, 2, 4, 4)
        out = UpsampleFlowRefiner(2)(MidFlows(f, -f), torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))
        assert out.flow_0tot.shape == (1, 2, 8, 8)
        assert torch.allclose(out.flow_0tot.mean(), 2 * f.mean(), atol=1e-5)

    def test_exception(self):
        with pytest.raises(ValueError, match="mode"):
            BicubicVSR(4, mode="nearest")
        with pytest.raises(ValueError, match="mode"):
            upsample(torch.zeros(1, 3, 2, 2), 2, mode="area")
        with pytest.raises(ValueError, match="scale: expected a positive int"):
            UpsampleFlowRefiner(0)
        with pytest.raises(TypeError, match="scale"):
            LinearBlendVFI(2.5)
        with pytest.raises(ValueError, match="frame1: expected shape"):
            ZeroFlowEstimator()(torch.zeros(1, 3, 4, 4), torch.zeros(1, 1, 4, 4))


class _WrongShapeVSR(VSRNet):
    def forward(self, inputs):
        return VSROutput(inputs.sr_prev0[..., :-1], inputs.sr_prev1)


class _DeadParamVFI(VFINet):
    def __init__(self):
        super().__init__()
        self.used = nn.Conv2d(3, 3, 1)
        self.unused = nn.Conv2d(3, 3, 1)

    def forward(self, inputs):
        return self.used(inputs.warped0)


class _NaNFlow(FlowEstimator):
    def forward(self, frame0, frame1):
        f = torch.full_like(frame0[:, :2], float("nan"))
        return FlowPyramid(f, f, ((f, f),))


class _FineFirstFlow(FlowEstimator):
    def forward(self, frame0, frame1):
        f = frame0[:, :2] * 0
        c = f[..., ::2, ::2]
        return FlowPyramid(f, f, ((f, f), (c, c), (f, f)))


class _NotARefiner(nn.Module):
    def forward(self, *a):
        return a


class _TupleRefiner(FlowRefiner):
    def forward(self, flows, g0, g1):
        return (flows.flow_0tot, flows.flow_1tot)


class _FeatureLiar(VSRNet):
    feature_channels = 8

    def forward(self, inputs):
        up = upsample(inputs.lr0, 4)
        return VSROutput(up, up, None)


class TestCheckersCatchErrors:
    def test_wrong_shape(self):
        with pytest.raises(ConformanceError, match=r"_WrongShapeVSR: sr0 must have shape \(2, 3, 64, 64\)"):
            check_vsr_net(_WrongShapeVSR())

    def test_dead_parameter(self):
        with pytest.raises(ConformanceError, match=r"parameters without gradient: \['unused.weight', 'unused.bias'\]"):
            check_vfi_net(_DeadParamVFI())

    def test_nan(self):
        with pytest.raises(ConformanceError, match="NaN or Inf"):
            check_flow_estimator(_NaNFlow())

    def test_level_order(self):
        with pytest.raises(ConformanceError, match="coarse to fine"):
            check_flow_estimator(_FineFirstFlow())

    def test_wrong_base_class(self):
        with pytest.raises(ConformanceError, match="must subclass"):
            check_flow_refiner(_NotARefiner())
        with pytest.raises(ConformanceError, match="must subclass"):
            check_vsr_net(_NotARefiner())
        with pytest.raises(ConformanceError, match="must subclass"):
            check_vfi_net(_NotARefiner())
        with pytest.raises(ConformanceError, match="must subclass"):
            check_flow_estimator(_NotARefiner())

    def test_wrong_return_type(self):
        with pytest.raises(ConformanceError, match="must return MidFlows"):
            check_flow_refiner(_TupleRefiner())

    def test_feature_contract(self):
        with pytest.raises(ConformanceError, match="feature_channels=8 but feature is None"):
            check_vsr_net(_FeatureLiar())
