"""Presets, variants, baselines and save/load: the timm-style catalogue test over every model."""

from __future__ import annotations

import json

import pytest
import torch

from stvsr_blocks import InteractionLoop
from stvsr_blocks.baselines import upsample
from stvsr_blocks.models import (
    VARIANTS,
    CascadeVFIThenVSR,
    MBnetConfig,
    bicubic_blend,
    bicubic_flow,
    build_model,
    count_parameters,
    load_pretrained,
    mbnet_baseline,
    mbnet_paper,
    mbnet_tiny,
    mbnet_variant,
    save_pretrained,
)


def _fwd_bwd(model, b=2, h=32, w=32):
    torch.manual_seed(0)
    lr0, lr1 = torch.rand(b, 3, h, w), torch.rand(b, 3, h, w)
    out = model(lr0, lr1)
    loss = sum(f.mean() for f in out.frames) + out.flows_lr.flow_0to1.abs().mean() * 1e-3
    for lvl in out.flows_lr.levels:
        loss = loss + 1e-3 * lvl[0].abs().mean()
    model.zero_grad(set_to_none=True)
    loss.backward()
    return out


def _check_grads(model):
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    nonfinite = [n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    assert missing == [] and nonfinite == []


class TestPresets:
    def test_baseline_parameter_count(self):
        n = count_parameters(mbnet_baseline())
        print(f"mbnet_baseline: {n:,} parameters (SPEC: 14.50M)")
        assert abs(n - 14.50e6) / 14.50e6 < 0.01

    def test_paper_parameter_count(self):
        n = count_parameters(mbnet_paper())
        print(f"mbnet_paper: {n:,} parameters (paper: 30.8M)")
        assert abs(n - 30.8e6) / 30.8e6 < 0.03

    def test_parameter_count_independent_of_iterations(self):
        assert count_parameters(mbnet_tiny(iterations=1)) == count_parameters(mbnet_tiny(iterations=3))

    @pytest.mark.parametrize("builder", [mbnet_baseline, mbnet_paper], ids=["baseline", "paper"])
    def test_forward_backward_every_parameter(self, builder):
        model = builder()
        out = _fwd_bwd(model)
        assert [tuple(f.shape) for f in out.frames] == [(2, 3, 128, 128)] * 3
        assert all(torch.isfinite(f).all() for f in out.frames)
        _check_grads(model)

    def test_tiny_forward_backward(self):
        model = mbnet_tiny()
        out = _fwd_bwd(model, h=16, w=16)
        assert out.frames[1].shape == (2, 3, 64, 64)
        _check_grads(model)


class TestVariants:
    @pytest.mark.parametrize("variant", sorted(VARIANTS))
    def test_every_variant_runs_and_trains(self, variant):
        model = mbnet_variant(variant, base="tiny")
        out = _fwd_bwd(model, h=16, w=16)
        assert out.frames[1].shape == (2, 3, 64, 64)
        _check_grads(model)

    def test_variant_structure(self):
        assert mbnet_variant("no_interaction", base="tiny").iterations == 1
        m = mbnet_variant("no_vfi_feedback", base="tiny")
        assert m.iterations == 2 and m.feedback is False
        assert mbnet_variant("no_feature", base="tiny").feature_source == "none"
        assert mbnet_variant("timm_feature", base="tiny").feature_source == "extractor"
        assert mbnet_variant("no_refiner", base="tiny").refiner is None
        casc = mbnet_variant("cascade_vsr_vfi", base="tiny")
        assert casc.iterations == 1 and casc.feature_source == "none"
        assert isinstance(mbnet_variant("cascade_vfi_vsr", base="tiny"), CascadeVFIThenVSR)

    def test_exceptions(self):
        with pytest.raises(ValueError, match="variant: expected one of"):
            mbnet_variant("bigger")
        with pytest.raises(ValueError, match="base: expected one of"):
            mbnet_variant("mbnet", base="huge")
        with pytest.raises(ValueError, match="flow_kind"):
            MBnetConfig(flow_kind="pwc")
        with pytest.raises(ValueError, match="unknown keys"):
            MBnetConfig.from_dict({"nope": 1})


class TestBaselines:
    def test_bicubic_blend_exact(self):
        m = bicubic_blend()
        assert count_parameters(m) == 0
        a, b = torch.rand(1, 3, 8, 8, dtype=torch.float64), torch.rand(1, 3, 8, 8, dtype=torch.float64)
        out = m(a, b)
        assert torch.allclose(out.frames[1], 0.5 * (upsample(a, 4) + upsample(b, 4)), atol=1e-12)

    def test_bicubic_flow_uses_motion(self):
        # content translated by 2 LR px: the flow baseline's middle frame beats the plain blend
        from stvsr_blocks.data.degrade import downscale
        from stvsr_blocks.data.synthetic import SyntheticVideoConfig, render_synthetic_clip

        clip = render_synthetic_clip(SyntheticVideoConfig(height=64, width=64, frames=3, n_layers=0, max_speed=4.0,
                                                          acceleration=0.0, rotation=0.0, zoom=0.0, seed=3))
        lr = downscale(clip.hr[::2], 4, kernel="matlab")
        gt = clip.hr[1:2]
        blend = bicubic_blend()(lr[0:1], lr[1:2]).frames[1]
        flow = bicubic_flow()(lr[0:1], lr[1:2]).frames[1]
        e_blend = (blend - gt)[..., 8:-8, 8:-8].abs().mean()
        e_flow = (flow - gt)[..., 8:-8, 8:-8].abs().mean()
        assert e_flow < e_blend


class TestConfigAndSaving:
    def test_config_json_round_trip(self):
        for model in (mbnet_tiny(), mbnet_variant("no_refiner", base="tiny"), bicubic_flow()):
            d = model.config.to_dict()
            again = MBnetConfig.from_dict(json.loads(json.dumps(d)))
            assert again == model.config
            assert count_parameters(build_model(again)) == count_parameters(model)

    def test_save_and_load_identical_outputs(self, tmp_path):
        model = mbnet_tiny().eval()
        save_pretrained(model, tmp_path / "ckpt", extra={"step": 3})
        assert (tmp_path / "ckpt" / "model.safetensors").is_file()
        meta = json.loads((tmp_path / "ckpt" / "config.json").read_text())
        assert meta["extra"] == {"step": 3}
        loaded = load_pretrained(tmp_path / "ckpt").eval()
        a, b = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
        with torch.no_grad():
            assert torch.equal(model(a, b).frames[1], loaded(a, b).frames[1])
        assert not list((tmp_path / "ckpt").glob("*.tmp"))

    def test_save_load_exceptions(self, tmp_path):
        with pytest.raises(ValueError, match="has no MBnetConfig"):
            save_pretrained(torch.nn.Linear(2, 2), tmp_path)
        with pytest.raises(FileNotFoundError, match="config.json"):
            load_pretrained(tmp_path)

    def test_loop_type(self):
        assert isinstance(mbnet_tiny(), InteractionLoop)


def test_variant_config_builds_nothing_and_mbnet_variant_builds_once(monkeypatch):
    import stvsr_blocks.models as models

    built = []
    real = models.build_model
    monkeypatch.setattr(models, "build_model", lambda cfg: built.append(cfg) or real(cfg))
    cfg = models.variant_config("no_interaction", base="paper")  # the 30.8M preset's config, no model
    assert built == [] and cfg.vsr.D == 16 and cfg.iterations == 1 and cfg.name == "paper:no_interaction"
    m = models.mbnet_variant("no_refiner", base="tiny", iterations=3)
    assert len(built) == 1 and built[0] is m.config and m.config.refiner is None and m.iterations == 3
    import pytest

    with pytest.raises(ValueError, match="variant"):
        models.variant_config("nope")
    with pytest.raises(ValueError, match="base"):
        models.variant_config("mbnet", base="huge")


class TestRegisterBlock:
    """A block is added to the config-driven models in one place: ``register_block``."""

    @pytest.fixture()
    def my_vsr(self):
        from stvsr_blocks.interfaces import VSRNet, VSROutput
        from stvsr_blocks.models import BLOCKS, register_block

        class NearestVSR(VSRNet):
            """Nearest-neighbour upsampling plus a learnt bias: a minimal VSR block."""

            def __init__(self, scale: int) -> None:
                super().__init__()
                self.scale = scale
                self.feature_channels = 0
                self.bias = torch.nn.Parameter(torch.zeros(3))

            def forward(self, inp):
                up = lambda x: torch.nn.functional.interpolate(x, scale_factor=self.scale, mode="nearest")  # noqa: E731
                return VSROutput(up(inp.lr0) + self.bias[:, None, None], up(inp.lr1) + self.bias[:, None, None])

        register_block("vsr", "nearest", lambda cfg: NearestVSR(cfg.vsr.scale))
        yield NearestVSR
        del BLOCKS["vsr"]["nearest"]

    def test_registered_kind_builds_everywhere(self, my_vsr, tmp_path):
        from stvsr_blocks.recipe.config import ModelSection
        from stvsr_blocks.recipe.train import build_model_from_config
        from stvsr_blocks.testing import check_vsr_net

        cfg = MBnetConfig(vsr_kind="nearest", feature="none")
        model = build_model(cfg)
        assert isinstance(model.vsr, my_vsr)
        check_vsr_net(model.vsr)
        # the training recipe's model section (preset + overrides) reaches it with no other edit
        section = ModelSection(preset="tiny", overrides={"vsr_kind": "nearest", "feature": "none"})
        assert isinstance(build_model_from_config(section, seed=0).vsr, my_vsr)
        # saved and loaded like any model
        model.vsr.bias.data.fill_(0.25)
        save_pretrained(model, tmp_path / "m")
        again = load_pretrained(tmp_path / "m")
        assert isinstance(again.vsr, my_vsr) and torch.equal(again.vsr.bias, model.vsr.bias)

    def test_unknown_kind_is_one_error_with_a_suggestion(self):
        with pytest.raises(ValueError, match=r"vfi_kind: expected one of .*'gridnet'.* got 'gridnt' \(did you mean 'gridnet'\?\)"):
            MBnetConfig(vfi_kind="gridnt")

    def test_register_errors(self, my_vsr):
        from stvsr_blocks.models import register_block

        with pytest.raises(ValueError, match="already registered"):
            register_block("vsr", "nearest", lambda cfg: None)
        with pytest.raises(ValueError, match="role: expected one of"):
            register_block("refine", "x", lambda cfg: None)
        with pytest.raises(TypeError, match="builder: expected a callable"):
            register_block("flow", "x", 3)
