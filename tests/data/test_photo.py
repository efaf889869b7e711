"""Photo-textured video: exact flows, occlusion masks, anti-aliasing, determinism, splits, source errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from stvsr_blocks.data.photo import (
    EMBEDDED_PHOTOS,
    EMBEDDED_SPLITS,
    MIN_PHOTO_SIZE,
    PhotoSource,
    PhotoVideoConfig,
    PhotoVideoDataset,
    make_photo_scene,
    photo_flow,
    render_photo_clip,
    render_photo_frame,
)
from stvsr_blocks.data.train import STVSRTrainDataset
from stvsr_blocks.ops.warp import backward_warp


@pytest.fixture(scope="module")
def train_photos() -> PhotoSource:
    return PhotoSource.embedded("train")


def _warp_errors(frame_a: torch.Tensor, frame_b: torch.Tensor, flow: torch.Tensor, valid: torch.Tensor):
    warped = backward_warp(frame_a[None], flow[None])[0]
    m = valid.expand(3, -1, -1)
    return float((warped - frame_b).abs()[m].mean()), float((frame_a - frame_b).abs()[m].mean())


class TestFlowExactness:
    @settings(max_examples=12, deadline=None)
    @given(seed=st.integers(0, 10_000), t=st.floats(0.05, 0.95))
    def test_warp_reproduces_target_in_visible_regions(self, train_photos: PhotoSource, seed: int, t: float) -> None:
        cfg = PhotoVideoConfig(height=64, width=64, times=(0.0, t, 1.0), seed=seed)
        clip = render_photo_clip(train_photos, cfg)
        for a, b in ((0, 1), (2, 1), (0, 2)):
            flow, valid = clip.flow_between(a, b)
            if valid.float().mean() < 0.2:
                continue
            err, err_static = _warp_errors(clip.hr[a], clip.hr[b], flow, valid)
            # bilinear warping of band-limited photo content: small absolute error, far below no-motion error
            assert err < 0.03, (seed, t, a, b, err)
            if err_static > 0.01:
                assert err < 0.5 * err_static, (seed, t, a, b, err, err_static)

    def test_wrong_flow_is_worse(self, train_photos: PhotoSource) -> None:
        clip = render_photo_clip(train_photos, PhotoVideoConfig(height=64, width=64, min_speed=4.0, max_speed=6.0,
                                                                max_layers=0, seed=3))
        flow, valid = clip.flow_between(0, 2)
        good, _ = _warp_errors(clip.hr[0], clip.hr[2], flow, valid)
        bad, _ = _warp_errors(clip.hr[0], clip.hr[2], -flow, valid)  # the sign convention matters
        assert good < 0.3 * bad

    def test_pure_translation_flow_is_constant(self) -> None:
        src = PhotoSource.from_arrays([torch.rand(3, 256, 256)])
        cfg = PhotoVideoConfig(height=32, width=32, max_layers=0, acceleration=0.0, rotation=0.0, zoom=0.0, drift=0.0,
                               seed=1)
        scene = make_photo_scene(src, cfg)
        flow, valid = photo_flow(scene, 0.0, 1.0)
        v = scene.velocity[0].float()
        assert torch.allclose(flow[0], -v[0].expand(32, 32), atol=1e-5)
        assert torch.allclose(flow[1], -v[1].expand(32, 32), atol=1e-5)

    def test_flow_composition(self, train_photos: PhotoSource) -> None:
        # for the background layer, flow_{0->1} = flow_{0->t} composed with flow_{t->1}
        cfg = PhotoVideoConfig(height=48, width=48, max_layers=0, seed=5)
        scene = make_photo_scene(train_photos, cfg)
        f01, v01 = photo_flow(scene, 0.0, 1.0)
        f0t, _ = photo_flow(scene, 0.0, 0.4)
        ft1, _ = photo_flow(scene, 0.4, 1.0)
        composed = ft1 + backward_warp(f0t[None], ft1[None])[0]
        inner = v01.expand(2, -1, -1).clone()
        inner[..., :4, :] = False
        inner[..., -4:, :] = False
        inner[..., :, :4] = False
        inner[..., :, -4:] = False
        assert (composed - f01).abs()[inner].max() < 0.05


class TestMasks:
    def test_occluded_pixels_are_invalid(self) -> None:
        # a static background and a moving foreground: background pixels the layer covers at time a
        # but not at time b (disoccluded) must be invalid, everything else on the background valid
        src = PhotoSource.from_arrays([torch.rand(3, 200, 200), torch.rand(3, 200, 200)])
        cfg = PhotoVideoConfig(height=64, width=64, max_layers=1, min_speed=8.0, max_speed=8.0, acceleration=0.0,
                               rotation=0.0, zoom=0.0, drift=0.0, seed=0)
        for seed in range(20):
            scene = make_photo_scene(src, replace(cfg, seed=seed))
            if scene.n_layers == 2:
                break
        assert scene.n_layers == 2
        scene = replace(scene, velocity=scene.velocity * torch.tensor([[0.0], [1.0]], dtype=torch.float64))
        _, valid = photo_flow(scene, 0.0, 1.0)
        from stvsr_blocks.data.photo import _coverage_at, _grid

        pts = _grid(64, 64)
        cov0 = _coverage_at(scene, 0.0, pts)[1].reshape(64, 64)
        cov1 = _coverage_at(scene, 1.0, pts)[1].reshape(64, 64)
        disoccluded = (cov0 > 0.9) & (cov1 < 0.1)  # layer there at 0, background visible at 1
        assert disoccluded.sum() > 10
        assert not valid[0][disoccluded].any()
        clear = (cov0 < 0.01) & (cov1 < 0.01)
        assert valid[0][clear].float().mean() > 0.99

    def test_out_of_frame_is_invalid(self, train_photos: PhotoSource) -> None:
        cfg = PhotoVideoConfig(height=40, width=40, max_layers=0, min_speed=10.0, max_speed=10.0, seed=2)
        flow, valid = photo_flow(make_photo_scene(train_photos, cfg), 0.0, 1.0)
        src_x, src_y = flow[0] + torch.arange(40.0), flow[1] + torch.arange(40.0)[:, None]
        outside = (src_x < 0) | (src_x > 39) | (src_y < 0) | (src_y > 39)
        assert outside.any() and not valid[0][outside].any()


class TestRendering:
    def test_range_shape_and_determinism(self, train_photos: PhotoSource) -> None:
        cfg = PhotoVideoConfig(height=40, width=56, times=(0.0, 0.3, 1.0, 1.5), seed=9)
        a, b = render_photo_clip(train_photos, cfg), render_photo_clip(train_photos, cfg)
        assert a.hr.shape == (4, 3, 40, 56) and a.flows.shape == (3, 2, 40, 56) and a.masks.dtype == torch.bool
        assert torch.equal(a.hr, b.hr) and torch.equal(a.flows, b.flows) and torch.equal(a.masks, b.masks)
        assert a.hr.min() >= 0 and a.hr.max() <= 1
        c = render_photo_clip(train_photos, replace(cfg, seed=10))
        assert not torch.equal(a.hr, c.hr)

    def test_frame_at_any_time_matches_clip(self, train_photos: PhotoSource) -> None:
        cfg = PhotoVideoConfig(height=32, width=32, times=(0.0, 0.25, 1.0), seed=4)
        clip = render_photo_clip(train_photos, cfg)
        assert torch.equal(render_photo_frame(clip, 0.25), clip.hr[1])

    def test_photographic_content(self, train_photos: PhotoSource) -> None:
        # real photographs: rich, non-periodic spectra, unlike a few sinusoids — check high-frequency energy
        clip = render_photo_clip(train_photos, PhotoVideoConfig(height=96, width=96, seed=0))
        grad = (clip.hr[0][:, :, 1:] - clip.hr[0][:, :, :-1]).abs().mean()
        assert grad > 0.01

    def test_antialiased_no_phase_dependent_sharpness(self) -> None:
        # a sub-pixel shift must not change the frame's sharpness much (bilinear sampling at 1x would)
        rng = np.random.default_rng(0)
        src = PhotoSource.from_arrays([rng.random((256, 256)).astype(np.float32)])
        base = PhotoVideoConfig(height=48, width=48, max_layers=0, acceleration=0.0, rotation=0.0, zoom=0.0,
                                drift=0.0, photo_scale=(1.0, 1.0), seed=0, times=(0.0, 0.5))
        scene = make_photo_scene(src, base)
        energies = []
        for speed in (0.0, 0.5, 1.0):
            sc = replace(scene, velocity=torch.tensor([[speed, 0.0]], dtype=torch.float64))
            f = render_photo_frame(sc, 0.5 + 0.5)  # shifted by speed/2 px
            energies.append(float((f[:, :, 1:] - f[:, :, :-1]).abs().mean()))
        assert max(energies) / min(energies) < 1.25


class TestSources:
    def test_splits_disjoint_and_complete(self) -> None:
        seen: set[str] = set()
        for names in EMBEDDED_SPLITS.values():
            assert not (set(names) & seen)
            seen |= set(names)
        assert seen == set(EMBEDDED_PHOTOS)
        # distinct files too (no photo hides in two splits under two names)
        files = [EMBEDDED_PHOTOS[n][0] for n in seen]
        assert len(files) == len(set(files))

    def test_embedded_photos_load(self) -> None:
        src = PhotoSource.embedded("all")
        assert len(src) == len(EMBEDDED_PHOTOS)
        for i in range(len(src)):
            img = src[i]
            assert img.shape[0] == 3 and min(img.shape[-2:]) >= MIN_PHOTO_SIZE
            assert 0 <= img.min() and img.max() <= 1

    def test_unknown_split(self) -> None:
        with pytest.raises(ValueError, match="split"):
            PhotoSource.embedded("training")

    def test_folder(self, tmp_path: Path) -> None:
        from PIL import Image

        Image.fromarray((np.random.default_rng(0).random((80, 90)) * 255).astype(np.uint8)).save(tmp_path / "g.png")
        Image.fromarray((np.random.default_rng(1).random((70, 70, 3)) * 255).astype(np.uint8)).save(tmp_path / "c.jpg")
        (tmp_path / "notes.txt").write_text("not an image")
        src = PhotoSource.from_folder(tmp_path)
        assert src.names == ["c", "g"]
        assert src[1].shape == (3, 80, 90)  # grayscale promoted to RGB
        assert torch.equal(src[1][0], src[1][2])

    def test_missing_folder(self, tmp_path: Path) -> None:
        with pytest.raises(FileNotFoundError, match="does not exist"):
            PhotoSource.from_folder(tmp_path / "nope")

    def test_empty_folder(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="holds no image"):
            PhotoSource.from_folder(tmp_path)

    def test_unreadable_file(self, tmp_path: Path) -> None:
        (tmp_path / "broken.png").write_bytes(b"not a png at all")
        with pytest.raises(ValueError, match="broken.png.*cannot be read"):
            PhotoSource.from_folder(tmp_path)

    def test_too_small(self, tmp_path: Path) -> None:
        from PIL import Image

        Image.fromarray(np.zeros((20, 200, 3), np.uint8)).save(tmp_path / "thin.png")
        with pytest.raises(ValueError, match="20x200, smaller than the minimum"):
            PhotoSource.from_folder(tmp_path)

    def test_array_errors(self) -> None:
        with pytest.raises(ValueError, match=r"images\[0\].*range"):
            PhotoSource.from_arrays([np.full((80, 80), 2.0)])
        with pytest.raises(TypeError, match=r"images\[0\]"):
            PhotoSource.from_arrays(["a string"])
        with pytest.raises(ValueError, match=r"images\[0\].*shape"):
            PhotoSource.from_arrays([np.zeros((2, 80, 80, 3))])


class TestConfig:
    @pytest.mark.parametrize(
        ("kw", "err", "match"),
        [
            ({"height": 4}, ValueError, "height"),
            ({"max_layers": 1.5}, TypeError, "max_layers"),
            ({"min_speed": 0.0}, ValueError, "min_speed"),
            ({"min_speed": 5.0, "max_speed": 2.0}, ValueError, "min_speed"),
            ({"photo_scale": (0.5, 1.0)}, ValueError, "photo_scale"),
            ({"times": ()}, TypeError, "times"),
            ({"drift": 0.5}, ValueError, "drift"),
            ({"edge_width": 0.0}, ValueError, "edge_width"),
        ],
    )
    def test_exception(self, kw: dict, err: type, match: str) -> None:
        with pytest.raises(err, match=match):
            PhotoVideoConfig(**kw)


class TestDataset:
    def test_random_time_windows(self) -> None:
        ds = PhotoVideoDataset("train", 30, PhotoVideoConfig(height=32, width=32), random_time=True)
        ts = [ds.clip_config(i).times[1] for i in range(30)]
        assert any(t == 0.5 for t in ts) and any(t != 0.5 for t in ts)
        assert all(0.0 < t < 1.0 for t in ts)
        assert ds.clip_config(3) == ds.clip_config(3)

    def test_train_samples_carry_time_and_exact_flows(self) -> None:
        src = PhotoVideoDataset("train", 16, PhotoVideoConfig(height=64, width=64), random_time=True)
        ds = STVSRTrainDataset(src, lr_patch=8, scale=4, kernel="pil", augment=True, seed=1, num_frames=3)
        seen = set()
        for i in range(len(ds)):
            prm = ds.params(i, 3, 16, 16)
            seen |= {("rot", prm.rot90 % 2), ("h", prm.hflip), ("v", prm.vflip), ("rev", prm.reverse)}
            s = ds[i]
            assert s.lr.shape == (2, 3, 8, 8) and s.hr.shape == (3, 3, 32, 32)
            assert s.flows.shape == (2, 2, 32, 32) and s.flow_mask.shape == (2, 1, 32, 32)
            assert 0 < float(s.t) < 1
            # after augmentation the flows still warp the endpoint frames onto the middle frame
            for k, end in ((0, 0), (1, 2)):
                m = s.flow_mask[k]
                if m.float().mean() < 0.3:
                    continue
                err, err_static = _warp_errors(s.hr[end], s.hr[1], s.flows[k], m)
                assert err < 0.05, (i, k, err)
                if err_static > 0.01:
                    assert err < 0.6 * err_static
        assert {("rot", 1), ("h", True), ("v", True), ("rev", True)} <= seen  # every transform was exercised

    def test_time_follows_temporal_reversal(self) -> None:
        src = PhotoVideoDataset("train", 40, PhotoVideoConfig(height=32, width=32), random_time=True)
        ds = STVSRTrainDataset(src, lr_patch=4, scale=4, augment=True, seed=0, num_frames=3)
        for i in range(40):
            prm = ds.params(i, 3, 8, 8)
            t_clip = src.clip_config(i).times[1]
            expected = 1 - t_clip if prm.reverse else t_clip
            assert float(ds[i].t) == pytest.approx(expected, abs=1e-6)

    def test_sources_without_flow_have_empty_masks(self) -> None:
        from stvsr_blocks.data.datasets import Clip

        ds = STVSRTrainDataset([Clip("a", torch.rand(3, 3, 32, 32))], lr_patch=4, scale=4, num_frames=3)
        s = ds[0]
        assert not s.flow_mask.any() and float(s.t) == 0.5


def test_flow_between_matches_photo_flow() -> None:
    clip = render_photo_clip("train", PhotoVideoConfig(height=32, width=32, times=(0.0, 0.3, 1.0), seed=7))
    for a, b in ((0, 1), (2, 1), (0, 2), (1, 0)):
        f, m = clip.flow_between(a, b)
        g, n = photo_flow(clip.scene, clip.times[a], clip.times[b])
        assert torch.equal(f, g) and torch.equal(m, n)
