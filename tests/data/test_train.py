"""Tests of stvsr_blocks.data.train: aligned crops, clip-wide augmentation, determinism, DataLoader use."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from stvsr_blocks.data.datasets import Clip, Vid4
from stvsr_blocks.data.degrade import Degradation, downscale
from stvsr_blocks.data.train import SampleParams, STVSRTrainDataset, TrainSample, augment_clip
from tests.data.test_layouts import make_vid4


def make_source(n: int = 4, t: int = 7, h: int = 50, w: int = 66, seed: int = 0) -> list[Clip]:
    g = torch.Generator().manual_seed(seed)
    return [Clip(f"c{i}", torch.rand(t, 3, h, w, generator=g), frame_names=tuple(map(str, range(t)))) for i in range(n)]


def dihedral(x: torch.Tensor) -> list[torch.Tensor]:
    out = []
    for k in range(4):
        r = torch.rot90(x, k, dims=(-2, -1))
        out += [r, r.flip(-1)]
    return out


class TestAlignment:
    @pytest.mark.parametrize("kernel", ["matlab", "pil", "torch"])
    def test_lr_crop_is_region_of_full_lr(self, kernel: str) -> None:
        src = make_source()
        ds = STVSRTrainDataset(src, lr_patch=8, scale=4, kernel=kernel, augment=False)  # type: ignore[arg-type]
        for i in range(len(ds)):
            lr, hr = ds[i][:2]
            assert lr.shape == (4, 3, 8, 8) and hr.shape == (7, 3, 32, 32)
            full_hr = src[i].hr[..., :48, :64]
            full_lr = downscale(full_hr[::2], 4, kernel)  # type: ignore[arg-type]
            p = ds.params(i, 7, 12, 16)
            assert (p.hflip, p.vflip, p.rot90, p.reverse) == (False, False, 0, False)
            assert torch.equal(lr, full_lr[..., p.top : p.top + 8, p.left : p.left + 8])
            assert torch.equal(hr, full_hr[..., p.top * 4 : p.top * 4 + 32, p.left * 4 : p.left * 4 + 32])

    def test_augmented_sample_is_transform_of_region(self) -> None:
        src = make_source(n=6)
        ds = STVSRTrainDataset(src, lr_patch=8, scale=4, seed=3)
        seen = set()
        for i in range(len(ds)):
            p = ds.params(i, 7, 12, 16)
            seen.add((p.hflip, p.vflip, p.rot90, p.reverse))
            full_hr = src[i].hr[..., :48, :64]
            lr_region = downscale(full_hr[::2], 4)[..., p.top : p.top + 8, p.left : p.left + 8]
            hr_region = full_hr[..., p.top * 4 : p.top * 4 + 32, p.left * 4 : p.left * 4 + 32]
            lr, hr = ds[i][:2]
            assert torch.equal(lr, augment_clip(lr_region, p)) and torch.equal(hr, augment_clip(hr_region, p))
        assert len(seen) > 1

    def test_source_lr(self, tmp_path: Path) -> None:
        make_vid4(tmp_path, frames=3)
        src = Vid4(tmp_path)
        ds = STVSRTrainDataset(src, lr_patch=2, scale=4, use_source_lr=True, augment=False)
        lr, hr = ds[1][:2]
        assert lr.shape == (2, 3, 2, 2) and hr.shape == (3, 3, 8, 8)
        clip = src[1]
        p = ds.params(1, 3, 4, 4)
        assert torch.equal(lr, clip.lr[::2, :, p.top : p.top + 2, p.left : p.left + 2])

    def test_vsr_and_window(self) -> None:
        src = make_source(n=2, t=7)
        ds = STVSRTrainDataset(src, lr_patch=4, scale=2, temporal="vsr", num_frames=2, augment=False)
        lr, hr = ds[0][:2]
        assert lr.shape == (2, 3, 4, 4) and hr.shape == (2, 3, 8, 8)
        p = ds.params(0, 7, 25, 33)
        assert torch.equal(
            hr, src[0].hr[p.start : p.start + 2, :, p.top * 2 : p.top * 2 + 8, p.left * 2 : p.left * 2 + 8]
        )
        ds3 = STVSRTrainDataset(src, lr_patch=4, scale=2, num_frames=3)
        assert ds3[1].lr.shape == (2, 3, 4, 4) and ds3[1].hr.shape == (3, 3, 8, 8)

    def test_even_clip_trimmed(self) -> None:
        ds = STVSRTrainDataset(make_source(n=1, t=6), lr_patch=4, scale=4, kernel=Degradation(scale=4, kernel="torch"))
        assert ds[0].lr.shape == (3, 3, 4, 4) and ds[0].hr.shape == (5, 3, 16, 16)
        assert ds.hr_patch == 16 and ds.degradation.name == "bicubic-torch-x4"


class TestAugmentation:
    def test_identical_across_frames(self) -> None:
        # every frame is the same image plus a per-frame offset: after augmentation the frames must still
        # differ only by a constant, i.e. every frame got the same flip/rotation
        base = torch.rand(3, 48, 48) * 0.5
        offsets = torch.tensor([0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3])
        clip = Clip("c", base + offsets[:, None, None, None])
        ds = STVSRTrainDataset([clip] * 8, lr_patch=6, scale=4, kernel="torch", seed=1)
        for i in range(len(ds)):
            lr, hr = ds[i][:2]
            d = hr - hr[:1]
            assert torch.allclose(d, d.mean(dim=(1, 2, 3), keepdim=True), atol=1e-6)
            rev = ds.params(i, 7, 12, 12).reverse
            firsts = d.mean(dim=(1, 2, 3))
            assert bool((firsts[1:] < firsts[:-1]).all()) if rev else bool((firsts[1:] > firsts[:-1]).all())
            # the HR centre frame is one of the 8 dihedral transforms of the un-augmented crop
            p = ds.params(i, 7, 12, 12)
            region = base[:, p.top * 4 : p.top * 4 + 24, p.left * 4 : p.left * 4 + 24] + offsets[3]
            assert any(torch.allclose(hr[3], r) for r in dihedral(region))

    def test_augment_clip(self) -> None:
        x = torch.arange(2 * 6.0).reshape(2, 1, 2, 3)
        p = SampleParams(0, 0, 0, hflip=False, vflip=True, rot90=1, reverse=True)
        y = augment_clip(x, p)
        assert y.shape == (2, 1, 3, 2) and y.is_contiguous()
        assert torch.equal(y[0], torch.rot90(x[1].flip(-2), 1, dims=(-2, -1)))
        with pytest.raises(ValueError, match="clip"):
            augment_clip(torch.zeros(1, 2, 3), p)


class TestDeterminism:
    def test_same_seed_same_samples(self) -> None:
        src = make_source()
        a = STVSRTrainDataset(src, lr_patch=8, seed=5)
        b = STVSRTrainDataset(src, lr_patch=8, seed=5)
        order = [3, 0, 2, 1]
        first = {i: a[i] for i in range(4)}
        for i in order:  # independent of access order and of the global RNG
            torch.manual_seed(1234 + i)
            s = b[i]
            assert torch.equal(s.lr, first[i].lr) and torch.equal(s.hr, first[i].hr)

    def test_epoch_and_seed_change_samples(self) -> None:
        src = make_source(n=8)
        ds = STVSRTrainDataset(src, lr_patch=8, seed=5)
        p0 = [ds.params(i, 7, 12, 16) for i in range(8)]
        ds.set_epoch(1)
        assert ds.epoch == 1
        p1 = [ds.params(i, 7, 12, 16) for i in range(8)]
        other = STVSRTrainDataset(src, lr_patch=8, seed=6)
        p2 = [other.params(i, 7, 12, 16) for i in range(8)]
        assert p0 != p1 and p0 != p2
        ds.set_epoch(0)
        assert [ds.params(i, 7, 12, 16) for i in range(8)] == p0

    def test_dataloader_workers(self) -> None:
        src = make_source(n=6, h=40, w=40)
        ds = STVSRTrainDataset(src, lr_patch=8, seed=2)
        ds.set_epoch(3)
        serial = [ds[i] for i in range(len(ds))]
        loader = DataLoader(ds, batch_size=2, num_workers=2, shuffle=False)
        batches = list(loader)
        assert len(batches) == 3
        for b, batch in enumerate(batches):
            assert isinstance(batch, TrainSample)
            assert batch.lr.shape == (2, 4, 3, 8, 8) and batch.hr.shape == (2, 7, 3, 32, 32)
            for k in range(2):
                assert torch.equal(batch.lr[k], serial[2 * b + k].lr)
                assert torch.equal(batch.hr[k], serial[2 * b + k].hr)


class TestExceptions:
    def test_constructor(self) -> None:
        src = make_source(n=1)
        with pytest.raises(TypeError, match="source"):
            STVSRTrainDataset(object())  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="lr_patch"):
            STVSRTrainDataset(src, lr_patch=0)
        with pytest.raises(TypeError, match="scale"):
            STVSRTrainDataset(src, scale=2.0)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="kernel"):
            STVSRTrainDataset(src, kernel="nearest")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="temporal"):
            STVSRTrainDataset(src, temporal="vfi")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="num_frames"):
            STVSRTrainDataset(src, num_frames=4)
        with pytest.raises(ValueError, match="num_frames"):
            STVSRTrainDataset(src, num_frames=0)
        with pytest.raises(ValueError, match="seed"):
            STVSRTrainDataset(src, seed=-1)
        with pytest.raises(ValueError, match="epoch"):
            STVSRTrainDataset(src).set_epoch(-1)

    def test_getitem(self) -> None:
        ds = STVSRTrainDataset(make_source(n=1, h=32, w=40), lr_patch=8)
        with pytest.raises(IndexError, match="out of range"):
            ds[1]
        with pytest.raises(ValueError, match="smaller than lr_patch=8"):
            STVSRTrainDataset(make_source(n=1, h=28, w=40), lr_patch=8)[0]
        with pytest.raises(ValueError, match="needs at least 9 frames"):
            STVSRTrainDataset(make_source(n=1, h=32, w=32), lr_patch=8, num_frames=9)[0]
        with pytest.raises(TypeError, match="hr frames"):
            STVSRTrainDataset([Clip("x", None, torch.zeros(3, 3, 8, 8))], lr_patch=2)[0]
        bad_lr = Clip("x", torch.rand(3, 3, 32, 32), torch.rand(3, 3, 16, 16))
        with pytest.raises(ValueError, match=r"source\[0\]\.lr"):
            STVSRTrainDataset([bad_lr], lr_patch=4, use_source_lr=True)[0]
