from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from stvsr_blocks.data.synthetic import (
    HELDOUT_SEED_OFFSET,
    SyntheticClip,
    SyntheticScene,
    SyntheticVideoConfig,
    SyntheticVideoDataset,
    heldout_synthetic_dataset,
    make_scene,
    render_frame,
    render_synthetic_clip,
    synthetic_flow,
)
from stvsr_blocks.ops import backward_warp


def warp_error(clip: SyntheticClip) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel mean-abs error of warping frame t onto t+1, and the validity masks."""
    warped = backward_warp(clip.hr[:-1], clip.flows)
    return (warped - clip.hr[1:]).abs().mean(dim=1, keepdim=True), clip.masks


TRANSLATION = dict(n_layers=0, rotation=0.0, zoom=0.0, acceleration=0.0)


class TestConfig:
    def test_defaults(self):
        cfg = SyntheticVideoConfig()
        assert (cfg.height, cfg.width, cfg.frames, cfg.n_layers) == (128, 128, 7, 3)

    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [
            ({"height": 0}, ValueError, "height"),
            ({"width": 2.0}, TypeError, "width"),
            ({"frames": True}, TypeError, "frames"),
            ({"n_layers": -1}, ValueError, "n_layers"),
            ({"n_waves": 0}, ValueError, "n_waves"),
            ({"seed": -3}, ValueError, "seed"),
            ({"max_speed": -1.0}, ValueError, "max_speed"),
            ({"acceleration": "1"}, TypeError, "acceleration"),
            ({"rotation": float("nan")}, TypeError, "rotation"),
            ({"zoom": -0.1}, ValueError, "zoom"),
            ({"stripe_sharpness": -1.0}, ValueError, "stripe_sharpness"),
            ({"edge_width": 0.0}, ValueError, "edge_width"),
            ({"edge_width": None}, TypeError, "edge_width"),
            ({"texture_frequency": 0.6}, ValueError, "texture_frequency"),
            ({"texture_frequency": "x"}, TypeError, "texture_frequency"),
            ({"background_motion": 1}, TypeError, "background_motion"),
            ({"sprite_size": [0.1, 0.2]}, TypeError, "sprite_size"),
            ({"sprite_size": (0.3, 0.2)}, ValueError, "sprite_size"),
        ],
    )
    def test_exception(self, kwargs, error, match):
        with pytest.raises(error, match=match):
            SyntheticVideoConfig(**kwargs)


class TestRender:
    def test_cardinality_odd_sizes(self):
        clip = render_synthetic_clip(SyntheticVideoConfig(height=37, width=53, frames=4, seed=2))
        assert clip.hr.shape == (4, 3, 37, 53) and clip.hr.dtype == torch.float32
        assert clip.flows.shape == (3, 2, 37, 53) and clip.flows.dtype == torch.float32
        assert clip.masks.shape == (3, 1, 37, 53) and clip.masks.dtype == torch.bool
        assert clip.frames is clip.hr and clip.lr is None and clip.dataset == "synthetic"
        assert clip.frame_names == ["frame_0000", "frame_0001", "frame_0002", "frame_0003"]
        assert isinstance(clip.scene, SyntheticScene) and clip.scene.n_layers == 4

    @pytest.mark.parametrize(("h", "w", "t"), [(1, 1, 1), (2, 5, 2), (5, 3, 3)])
    def test_tiny(self, h, w, t):
        clip = render_synthetic_clip(SyntheticVideoConfig(height=h, width=w, frames=t))
        assert clip.hr.shape == (t, 3, h, w) and clip.flows.shape == (t - 1, 2, h, w)

    def test_range(self):
        for seed in range(3):
            hr = render_synthetic_clip(SyntheticVideoConfig(height=48, width=48, frames=3, seed=seed)).hr
            assert hr.min() >= 0 and hr.max() <= 1 and hr.std() > 0.02

    def test_deterministic_and_seeded(self):
        cfg = SyntheticVideoConfig(height=40, width=44, frames=3, seed=7)
        state = torch.random.get_rng_state()
        a, b = render_synthetic_clip(cfg), render_synthetic_clip(cfg)
        assert torch.equal(torch.random.get_rng_state(), state)  # global RNG untouched
        assert torch.equal(a.hr, b.hr) and torch.equal(a.flows, b.flows) and torch.equal(a.masks, b.masks)
        c = render_synthetic_clip(dataclasses.replace(cfg, seed=8))
        assert not torch.equal(a.hr, c.hr) and not torch.equal(a.flows, c.flows)

    def test_frames_are_rendered_not_warped(self):
        scene = make_scene(SyntheticVideoConfig(height=32, width=32, frames=3, seed=1))
        clip = render_synthetic_clip(SyntheticVideoConfig(height=32, width=32, frames=3, seed=1))
        assert torch.equal(render_frame(scene, 2), clip.hr[2])
        assert torch.equal(render_frame(clip, 1.0), clip.hr[1])

    def test_name(self):
        assert render_synthetic_clip(SyntheticVideoConfig(height=8, width=8, frames=1), name="x").name == "x"

    def test_exception(self):
        scene = make_scene(SyntheticVideoConfig(height=8, width=8))
        with pytest.raises(TypeError, match="config"):
            make_scene({"height": 8})
        with pytest.raises(TypeError, match="config"):
            render_synthetic_clip(None)
        with pytest.raises(TypeError, match="name"):
            render_synthetic_clip(SyntheticVideoConfig(height=8, width=8), name=3)
        with pytest.raises(TypeError, match="scene: expected a SyntheticScene or SyntheticClip"):
            render_frame(torch.zeros(3), 0.0)
        with pytest.raises(TypeError, match="t: expected a finite real"):
            render_frame(scene, "0")
        with pytest.raises(TypeError, match="source"):
            synthetic_flow("scene", 0, 1)
        with pytest.raises(TypeError, match="a: expected a finite real"):
            synthetic_flow(scene, float("inf"), 1)
        with pytest.raises(TypeError, match="b: expected a finite real"):
            synthetic_flow(scene, 0, None)


class TestFlow:
    def test_warp_consistency(self):
        clip = render_synthetic_clip(SyntheticVideoConfig(height=64, width=80, frames=3, seed=3))
        err, mask = warp_error(clip)
        assert err[mask].mean() < 0.01
        assert err[mask].max() < 0.05
        invalid = 1 - mask.float().mean()
        assert 0 < invalid < 0.4
        # the mask matters: errors outside it are much larger on average
        assert err[~mask].mean() > 5 * err[mask].mean()

    def test_occlusion_marked(self):
        # static background, moving sprites: every invalid pixel lies in frame (no out-of-frame source)
        cfg = SyntheticVideoConfig(height=64, width=64, frames=2, n_layers=3, background_motion=False, seed=4)
        clip = render_synthetic_clip(cfg)
        flow, mask = clip.flows[0], clip.masks[0, 0]
        assert 0 < (~mask).float().mean() < 0.4
        background = flow.abs().sum(0) < 1e-6
        diff = (clip.hr[1] - clip.hr[0]).abs().amax(0)
        # valid background pixels are unchanged; invalid ones (occluded/disoccluded/boundary) mostly changed
        assert (background & mask).any() and diff[background & mask].max() < 0.01
        assert (background & ~mask).any() and diff[background & ~mask].mean() > 0.02

    def test_pure_translation(self):
        cfg = SyntheticVideoConfig(height=21, width=27, frames=4, seed=5, **TRANSLATION)
        clip = render_synthetic_clip(cfg)
        v = clip.scene.velocity[0].float()
        expected = (-v)[None, :, None, None].expand_as(clip.flows)
        assert torch.allclose(clip.flows, expected, atol=1e-5)
        assert v.abs().max() > 0
        # valid exactly where the source lands inside frame a
        xs = torch.arange(27.0)[None] + clip.flows[0, 0]
        ys = torch.arange(21.0)[:, None] + clip.flows[0, 1]
        inside = (xs >= 0) & (xs <= 26) & (ys >= 0) & (ys <= 20)
        assert torch.equal(clip.masks[0, 0], inside)

    def test_static_scene(self):
        cfg = SyntheticVideoConfig(height=16, width=16, frames=3, background_motion=False, **TRANSLATION)
        clip = render_synthetic_clip(cfg)
        assert torch.equal(clip.hr[0], clip.hr[2]) and clip.flows.abs().max() < 1e-6 and clip.masks.all()

    def test_acceleration_is_quadratic(self):
        cfg = SyntheticVideoConfig(
            height=16, width=16, frames=3, n_layers=0, rotation=0.0, zoom=0.0, acceleration=1.0, seed=6
        )
        clip = render_synthetic_clip(cfg)
        acc = clip.scene.accel[0].float()
        # flow_{t->t+1} = c(t) - c(t+1), so the difference of consecutive flows is the acceleration
        diff = clip.flows[0] - clip.flows[1]
        assert torch.allclose(diff, acc[:, None, None].expand_as(diff), atol=1e-5) and acc.abs().max() > 0

    def test_sprite_translation(self):
        cfg = SyntheticVideoConfig(height=64, width=64, frames=2, n_layers=1, rotation=0.0, zoom=0.0, seed=9,
                                   acceleration=0.0, sprite_size=(0.2, 0.2))
        clip = render_synthetic_clip(cfg)
        scene = clip.scene
        cx, cy = (scene.centre[1] + scene.velocity[1] * (1 - scene.t_ref)).round().long().tolist()
        assert torch.allclose(clip.flows[0, :, cy, cx], -scene.velocity[1].float(), atol=1e-5)

    def test_any_pair_and_intermediate_time(self):
        scene = make_scene(SyntheticVideoConfig(height=40, width=48, frames=3, seed=11))
        for a, b in [(0.0, 0.5), (2, 0), (1.5, 0.25)]:
            flow, valid = synthetic_flow(scene, a, b)
            assert flow.shape == (2, 40, 48) and valid.shape == (1, 40, 48) and valid.any()
            warped = backward_warp(render_frame(scene, a)[None], flow[None])[0]
            err = (warped - render_frame(scene, b)).abs().mean(0)
            assert err[valid[0]].mean() < 0.01
        flow, valid = synthetic_flow(scene, 1, 1)
        assert flow.abs().max() < 1e-4 and valid.float().mean() > 0.8  # only layer boundaries are invalid
        assert torch.equal(synthetic_flow(scene, torch.tensor(0.0), 1)[0], synthetic_flow(scene, 0, 1)[0])

    @settings(max_examples=12)
    @given(
        seed=st.integers(0, 10_000),
        h=st.integers(9, 40),
        w=st.integers(9, 40),
        n_layers=st.integers(0, 4),
    )
    def test_property_warp_consistency(self, seed, h, w, n_layers):
        cfg = SyntheticVideoConfig(height=h, width=w, frames=2, n_layers=n_layers, seed=seed)
        clip = render_synthetic_clip(cfg)
        err, mask = warp_error(clip)
        if mask.any():
            assert err[mask].mean() < 0.01
        assert clip.hr.min() >= 0 and clip.hr.max() <= 1


class TestDataset:
    def test_items(self):
        cfg = SyntheticVideoConfig(height=16, width=20, frames=3)
        ds = SyntheticVideoDataset(3, cfg, seed=5)
        assert len(ds) == 3 and ds.clip_seed(2) == 7
        clip = ds[1]
        assert isinstance(clip, SyntheticClip) and clip.name == "synthetic-0000006"
        assert clip.hr.shape == (3, 3, 16, 20) and clip.lr is None and len(clip.frame_names) == 3
        assert torch.equal(clip.hr, render_synthetic_clip(dataclasses.replace(cfg, seed=6)).hr)
        names = [c.name for c in ds]
        assert len(set(names)) == 3

    def test_dataloader(self):
        ds = SyntheticVideoDataset(4, SyntheticVideoConfig(height=8, width=8, frames=2))
        loader = DataLoader(ds, batch_size=2, collate_fn=lambda clips: torch.stack([c.hr for c in clips]))
        assert next(iter(loader)).shape == (2, 2, 3, 8, 8)

    def test_default_config(self):
        assert SyntheticVideoDataset(1).config == SyntheticVideoConfig()

    def test_heldout_disjoint(self):
        cfg = SyntheticVideoConfig(height=8, width=8, frames=2)
        held = heldout_synthetic_dataset(2, cfg, seed=3)
        assert held.clip_seed(0) == HELDOUT_SEED_OFFSET + 3 and held[1].name == f"synthetic-{HELDOUT_SEED_OFFSET + 4}"
        train = SyntheticVideoDataset(HELDOUT_SEED_OFFSET, cfg)  # the largest allowed training range
        assert train.clip_seed(len(train) - 1) < held.clip_seed(0)

    def test_exception(self):
        cfg = SyntheticVideoConfig(height=8, width=8, frames=2)
        with pytest.raises(TypeError, match="n_clips"):
            SyntheticVideoDataset(2.0, cfg)
        with pytest.raises(ValueError, match="n_clips"):
            SyntheticVideoDataset(0, cfg)
        with pytest.raises(TypeError, match="seed"):
            SyntheticVideoDataset(2, cfg, seed="0")
        with pytest.raises(ValueError, match="seed"):
            SyntheticVideoDataset(2, cfg, seed=-1)
        with pytest.raises(TypeError, match="config"):
            SyntheticVideoDataset(2, {"height": 8})
        with pytest.raises(ValueError, match="straddles the held-out range"):
            SyntheticVideoDataset(10, cfg, seed=HELDOUT_SEED_OFFSET - 5)
        ds = SyntheticVideoDataset(2, cfg)
        with pytest.raises(IndexError, match="index"):
            ds[2]
        with pytest.raises(IndexError, match="index"):
            ds[-1]
        with pytest.raises(TypeError, match="index"):
            ds.clip_seed("0")
        with pytest.raises(TypeError, match="seed"):
            heldout_synthetic_dataset(2, cfg, seed=1.5)
        with pytest.raises(ValueError, match="seed"):
            heldout_synthetic_dataset(2, cfg, seed=-1)
