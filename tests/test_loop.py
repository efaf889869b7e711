"""InteractionLoop structure: composition, feedback, feature routing, sharing, padding, clips."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from stvsr_blocks import InteractionLoop
from stvsr_blocks.baselines import BicubicVSR, LinearBlendVFI, UpsampleFlowRefiner, ZeroFlowEstimator, upsample
from stvsr_blocks.interfaces import (
    FeatureExtractor,
    FlowEstimator,
    FlowPyramid,
    VFINet,
    VSRNet,
    VSROutput,
)
from stvsr_blocks.ops import space_to_depth


class TinyFlow(FlowEstimator):
    size_multiple = 2

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(6, 2, 3, padding=1)

    def forward(self, frame0, frame1):
        f01 = self.conv(torch.cat((frame0, frame1), 1))
        f10 = self.conv(torch.cat((frame1, frame0), 1))
        coarse = (F.avg_pool2d(f01, 2), F.avg_pool2d(f10, 2))
        return FlowPyramid(f01, f10, (coarse, (f01, f10)))


class TinyVSR(VSRNet):
    """Uses every input, so feedback and previous SR frames matter."""

    feature_channels = 4

    def __init__(self, scale=4):
        super().__init__()
        self.scale = scale
        cin = 6 + 6 * scale * scale + 6 + 6 * scale * scale
        self.head = nn.Conv2d(cin, 4, 3, padding=1)
        self.tail = nn.Conv2d(4, 6 * scale * scale, 3, padding=1)

    def forward(self, x):
        s = self.scale
        z = torch.cat((x.lr0, x.lr1, space_to_depth(torch.cat((x.sr_prev0, x.sr_prev1), 1), s),
                       x.lr_warped0, x.lr_warped1, space_to_depth(torch.cat((x.feedback0, x.feedback1), 1), s)), 1)
        feat = self.head(z)
        out = F.pixel_shuffle(self.tail(torch.relu(feat)), s)
        return VSROutput(out[:, :3], out[:, 3:], feat)


class TinyVFI(VFINet):
    feature_channels = 4

    def __init__(self, scale=4):
        super().__init__()
        self.scale = scale
        self.conv = nn.Conv2d(6 + 4, 3, 3, padding=1)

    def forward(self, x):
        b, _, h, w = x.warped0.shape
        feat = x.feature if x.feature is not None else x.warped0.new_zeros(b, 4, h // self.scale, w // self.scale)
        up = F.interpolate(feat, scale_factor=self.scale, mode="nearest")
        return self.conv(torch.cat((x.warped0, x.warped1, up), 1))


class TinyExtractor(FeatureExtractor):
    out_channels = 4

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(6, 4, 1)

    def forward(self, frame0, frame1):
        return self.conv(torch.cat((frame0, frame1), 1))


def tiny_loop(**kw):
    torch.manual_seed(0)
    return InteractionLoop(flow=TinyFlow(), vsr=TinyVSR(), vfi=TinyVFI(), **kw)


def lr_pair(h=8, w=8, b=2, dtype=torch.float32):
    g = torch.Generator().manual_seed(1)
    return torch.rand(b, 3, h, w, generator=g, dtype=dtype), torch.rand(b, 3, h, w, generator=g, dtype=dtype)


class TestBaselines:
    def test_reproduces_bicubic_plus_blend(self):
        lr0, lr1 = lr_pair(dtype=torch.float64)
        loop = InteractionLoop(flow=ZeroFlowEstimator(), vsr=BicubicVSR(4), vfi=LinearBlendVFI(4), feature=None)
        out = loop(lr0, lr1)
        up0, up1 = upsample(lr0, 4), upsample(lr1, 4)
        assert torch.allclose(out.frames[0], up0, atol=1e-12)
        assert torch.allclose(out.frames[2], up1, atol=1e-12)
        assert torch.allclose(out.frames[1], 0.5 * (up0 + up1), atol=1e-12)

    def test_refiner_none_equals_upsample_refiner(self):
        lr0, lr1 = lr_pair()
        a = tiny_loop()(lr0, lr1)
        loop_b = tiny_loop(refiner=UpsampleFlowRefiner(4))
        b = loop_b(lr0, lr1)
        for x, y in zip(a.frames, b.frames):
            assert torch.allclose(x, y, atol=1e-6)


class TestStructure:
    def test_cardinality(self):
        out = tiny_loop()(*lr_pair(8, 12))
        assert [tuple(f.shape) for f in out.frames] == [(2, 3, 32, 48)] * 3
        assert out.stacked().shape == (2, 3, 3, 32, 48)
        assert len(out.iterations) == 2
        assert out.flows_lr.flow_0to1.shape == (2, 2, 8, 12)
        assert out.mid_flows_hr.flow_0tot.shape == (2, 2, 32, 48)
        assert out.mid_flows_lr.flow_1tot.shape == (2, 2, 8, 12)

    def test_iterations_change_output(self):
        lr0, lr1 = lr_pair()
        one = tiny_loop(iterations=1)(lr0, lr1)
        two = tiny_loop(iterations=2)(lr0, lr1)
        assert torch.equal(one.frames[0], two.iterations[0].sr0)  # same weights, same first pass
        assert not torch.allclose(one.frames[0], two.frames[0])
        assert not torch.allclose(one.frames[1], two.frames[1])

    def test_parameter_count_independent_of_iterations(self):
        counts = {sum(p.numel() for p in tiny_loop(iterations=i).parameters()) for i in (1, 2, 3)}
        assert len(counts) == 1

    def test_weights_shared_across_iterations(self):
        # Every iteration calls the very modules the loop was given (not copies, which would have their
        # own weights), and those modules' current weights produce every iteration's outputs. Catches
        # per-iteration copies made at construction (hook counts, stale weights) or in forward (ids).
        loop = tiny_loop(iterations=3, refiner=UpsampleFlowRefiner(4))
        with torch.no_grad():  # weights changed after construction: a copy taken earlier would differ
            for p in loop.parameters():
                p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
        calls: list[tuple[str, int, object]] = []
        for name in ("vsr", "vfi", "refiner"):
            getattr(loop, name).register_forward_hook(
                lambda m, args, out, name=name: calls.append((name, id(m), args)))
        out = loop(*lr_pair())
        for name in ("vsr", "vfi", "refiner"):
            ids = [c[1] for c in calls if c[0] == name]
            assert ids == [id(getattr(loop, name))] * 3, name
        vsr_inputs = [c[2][0] for c in calls if c[0] == "vsr"]
        vfi_inputs = [c[2][0] for c in calls if c[0] == "vfi"]
        assert [x.iteration for x in vsr_inputs] == [1, 2, 3]
        for i, rec in enumerate(out.iterations):
            assert torch.equal(loop.vsr(vsr_inputs[i]).sr0, rec.sr0)
            assert torch.equal(loop.vfi(vfi_inputs[i]), rec.sr_mid)

    def test_feedback_true_feeds_vfi_back(self):
        loop = tiny_loop(feedback=True)
        out = loop(*lr_pair())
        loop.zero_grad()
        out.frames[0].sum().backward()
        assert loop.vfi.conv.weight.grad is not None and loop.vfi.conv.weight.grad.abs().sum() > 0
        fb = out.iterations[1].feedback0
        from stvsr_blocks.ops import backward_warp

        first = out.iterations[0]
        assert torch.allclose(fb, backward_warp(first.sr_mid, -first.mid_flows_hr.flow_0tot))

    def test_feedback_false_never_feeds_vfi_back(self):
        loop = tiny_loop(feedback=False)
        out = loop(*lr_pair())
        loop.zero_grad()
        (out.frames[0].sum() + out.frames[2].sum()).backward()
        g = loop.vfi.conv.weight.grad
        assert g is None or g.abs().sum() == 0
        # the feedback slot holds the other VSR frame warped by the full-interval flow
        from stvsr_blocks.ops import backward_warp, resize_flow

        first = out.iterations[0]
        hr10 = resize_flow(out.flows_lr.flow_1to0, scale=4)
        assert torch.allclose(out.iterations[1].feedback0, backward_warp(first.sr1, hr10))

    def test_first_iteration_feedback_init(self):
        lr0, lr1 = lr_pair()
        out = tiny_loop()(lr0, lr1)
        up = F.interpolate(lr0, scale_factor=4, mode="bilinear", align_corners=False)
        assert torch.allclose(out.iterations[0].feedback0, up)
        out_z = tiny_loop(feedback_init="zeros")(lr0, lr1)
        assert out_z.iterations[0].feedback0.abs().sum() == 0

    def test_middle_depends_on_vsr_feature_only_when_requested(self):
        lr0, lr1 = lr_pair()
        loop = tiny_loop(feature="vsr")
        out = loop(lr0, lr1)
        feat = out.iterations[-1].feature
        g = torch.autograd.grad(out.frames[1].sum(), feat, retain_graph=True)[0]
        assert g.abs().sum() > 0
        loop_none = tiny_loop(feature=None)
        out_none = loop_none(lr0, lr1)
        assert all(r.feature is None for r in out_none.iterations)
        # with feature=None, the VSR head only influences the middle frame through the SR frames
        assert not torch.allclose(out.frames[1], out_none.frames[1])

    def test_external_feature_extractor(self):
        lr0, lr1 = lr_pair()
        loop = tiny_loop(feature=TinyExtractor())
        out = loop(lr0, lr1)
        assert torch.allclose(out.iterations[0].feature, loop.feature_extractor(lr0, lr1))
        out.frames[1].sum().backward()
        assert loop.feature_extractor.conv.weight.grad.abs().sum() > 0

    def test_every_parameter_gets_gradient(self):
        loop = tiny_loop(feature=TinyExtractor())
        out = loop(*lr_pair())
        sum(f.mean() for f in out.frames).backward()
        missing = [n for n, p in loop.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
        assert missing == []

    def test_linear_interpolation_option(self):
        lr0, lr1 = lr_pair()
        out = tiny_loop(interpolation="linear")(lr0, lr1)
        assert torch.allclose(out.mid_flows_lr.flow_0tot, 0.5 * out.flows_lr.flow_0to1)


class TestPadding:
    def test_non_multiple_sizes_padded_and_cropped(self):
        loop = tiny_loop()
        assert loop.size_multiple == 2
        lr0, lr1 = lr_pair(7, 9)
        out = loop(lr0, lr1)
        assert out.frames[1].shape == (2, 3, 28, 36)
        assert out.flows_lr.flow_0to1.shape == (2, 2, 7, 9)
        assert out.flows_lr.levels[0][0].shape == (2, 2, 4, 5)
        # equals running on the manually replicate-padded input and cropping
        p0 = F.pad(lr0, (0, 1, 0, 1), mode="replicate")
        p1 = F.pad(lr1, (0, 1, 0, 1), mode="replicate")
        ref = loop(p0, p1)
        assert torch.allclose(out.frames[1], ref.frames[1][..., :28, :36])


class TestClip:
    def test_two_n_minus_one_frames_and_first_rule(self):
        loop = tiny_loop()
        clip = torch.rand(1, 4, 3, 8, 8)
        out = loop.forward_clip(clip)
        assert out.shape == (1, 7, 3, 32, 32)
        w0 = loop(clip[:, 0], clip[:, 1])
        w1 = loop(clip[:, 1], clip[:, 2])
        assert torch.allclose(out[:, 0], w0.frames[0], atol=1e-6)
        assert torch.allclose(out[:, 1], w0.frames[1], atol=1e-6)
        assert torch.allclose(out[:, 2], w0.frames[2], atol=1e-6)  # first occurrence of LR frame 1
        assert torch.allclose(out[:, 3], w1.frames[1], atol=1e-6)

    def test_average_rule(self):
        loop = tiny_loop()
        clip = torch.rand(1, 3, 3, 8, 8)
        out = loop.forward_clip(clip, overlap="average")
        w0, w1 = loop(clip[:, 0], clip[:, 1]), loop(clip[:, 1], clip[:, 2])
        assert torch.allclose(out[:, 2], 0.5 * (w0.frames[2] + w1.frames[0]), atol=1e-6)
        assert torch.allclose(out[:, 4], w1.frames[2], atol=1e-6)

    def test_exceptions(self):
        loop = tiny_loop()
        with pytest.raises(ValueError, match="at least 2 frames"):
            loop.forward_clip(torch.rand(1, 1, 3, 8, 8))
        with pytest.raises(ValueError, match="overlap"):
            loop.forward_clip(torch.rand(1, 2, 3, 8, 8), overlap="last")
        with pytest.raises(ValueError, match=r"lr_clip: expected a 5-D"):
            loop.forward_clip(torch.rand(2, 3, 8, 8))


class TestExceptions:
    def test_constructor(self):
        with pytest.raises(TypeError, match="flow: expected a FlowEstimator"):
            InteractionLoop(flow=nn.Identity(), vsr=TinyVSR(), vfi=TinyVFI())
        with pytest.raises(TypeError, match="vsr: expected a VSRNet"):
            InteractionLoop(flow=TinyFlow(), vsr=nn.Identity(), vfi=TinyVFI())
        with pytest.raises(TypeError, match="refiner: expected a FlowRefiner"):
            tiny_loop(refiner=nn.Identity())
        with pytest.raises(ValueError, match="iterations"):
            tiny_loop(iterations=0)
        with pytest.raises(TypeError, match="feedback: expected a bool"):
            tiny_loop(feedback=1)
        with pytest.raises(ValueError, match=r"t: expected a value strictly inside"):
            tiny_loop(t=1.0)
        with pytest.raises(ValueError, match="interpolation"):
            tiny_loop(interpolation="cubic")
        with pytest.raises(ValueError, match="feedback_init"):
            tiny_loop(feedback_init="noise")
        with pytest.raises(ValueError, match="pad_mode"):
            tiny_loop(pad_mode="circular")
        with pytest.raises(ValueError, match=r"vfi.scale \(2\) must equal vsr.scale \(4\)"):
            InteractionLoop(flow=TinyFlow(), vsr=TinyVSR(), vfi=TinyVFI(scale=2))
        with pytest.raises(ValueError, match="refiner.scale"):
            tiny_loop(refiner=UpsampleFlowRefiner(2))
        with pytest.raises(ValueError, match="exposes no feature"):
            InteractionLoop(flow=TinyFlow(), vsr=BicubicVSR(), vfi=TinyVFI())
        with pytest.raises(TypeError, match="feature: expected"):
            tiny_loop(feature="resnet")
        with pytest.raises(ValueError, match="takes no feature"):
            InteractionLoop(flow=TinyFlow(), vsr=TinyVSR(), vfi=LinearBlendVFI())

        class Wide(TinyExtractor):
            out_channels = 8

        with pytest.raises(ValueError, match="feature channels mismatch"):
            tiny_loop(feature=Wide())

    def test_forward(self):
        loop = tiny_loop()
        with pytest.raises(ValueError, match=r"lr0: expected shape \(B, 3, h, w\)"):
            loop(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8))
        with pytest.raises(ValueError, match="same shape"):
            loop(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 10))
        with pytest.raises(TypeError, match="lr1: expected a torch.Tensor"):
            loop(torch.rand(1, 3, 8, 8), None)
