"""Own footage as training data: windows per clip, held-out tails, the cache, mixing with photo clips."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from stvsr_blocks.data.datasets import Clip, VideoFile
from stvsr_blocks.data.footage import ClipWindows, clip_lengths
from stvsr_blocks.data.video import VideoWriter


def _clips() -> list[Clip]:
    return [Clip("a", torch.arange(20.0)[:, None, None, None].expand(20, 3, 4, 4) / 20),
            Clip("b", torch.rand(10, 3, 4, 4)), Clip("short", torch.rand(4, 3, 4, 4))]


def test_windows_cover_training_part_and_hold_out_tail() -> None:
    src = _clips()
    train, val = ClipWindows(src, holdout=0.1), ClipWindows(src, holdout=0.1, part="val")
    # a: 20 frames, last max(3, 2) = 3 held out -> starts 0..14; b: 10 -> 3 held out -> starts 0..4;
    # short (4 frames): too short to split -> training only, starts 0..1
    assert [w for w in train.index if w[0] == 0] == [(0, s) for s in range(15)]
    assert [w for w in train.index if w[0] == 1] == [(1, s) for s in range(5)]
    assert [w for w in train.index if w[0] == 2] == [(2, 0), (2, 1)]
    assert val.index == [(0, 17), (1, 7)]
    # no training window touches a held-out frame
    for c, s in train.index:
        n = len(src[c].hr)
        held = n - max(3, -(-n // 10)) if n >= 6 else n
        assert s + 3 <= held
    w = train[3]
    assert w.name == "a@3" and torch.allclose(w.hr[:, 0, 0, 0], torch.tensor([3.0, 4.0, 5.0]) / 20, atol=1 / 255)


def test_many_samples_from_one_video(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    with VideoWriter(path, fps=10) as wr:
        wr.write(torch.rand(30, 3, 16, 16))
    src = VideoFile(path)
    assert clip_lengths(src) == [30]
    windows = ClipWindows(src, holdout=0.2)
    assert len(windows) == 30 - 6 - 2  # 6 frames held out
    calls = []
    orig = src._load
    src._load = lambda spec: calls.append(1) or orig(spec)  # type: ignore[method-assign]
    for i in range(len(windows)):
        assert windows[i].hr.shape == (3, 3, 16, 16)
    assert len(calls) == 1  # decoded once, then served from the cache


def test_train_config_uses_windows_and_validation(tmp_path: Path) -> None:
    from stvsr_blocks.recipe.config import TrainRunConfig, load_config
    from stvsr_blocks.recipe.train import build_train_dataset, build_validation_clips

    path = tmp_path / "clip.mp4"
    with VideoWriter(path, fps=10) as wr:
        wr.write(torch.rand(40, 3, 32, 32))
    cfg = load_config(TrainRunConfig, None, ["data.layout=video", f"data.root={path}", "data.lr_patch=4",
                                             "data.val_clips=2", "data.val_crop=16"])
    ds = build_train_dataset(cfg)
    assert len(ds) == 40 - 4 - 2
    assert len(build_validation_clips(cfg)) == 1  # the held-out tail holds one window
    mixed = load_config(TrainRunConfig, None, ["data.layout=video", f"data.root={path}", "data.lr_patch=4",
                                               "data.photos_ratio=0.5", "data.photos.height=32",
                                               "data.photos.width=32"])
    ds = build_train_dataset(mixed)
    assert len(ds) == 2 * 34
    assert ds[len(ds) - 1].flow_mask.any() and not ds[0].flow_mask.any()  # rendered windows carry exact flow


def test_errors() -> None:
    with pytest.raises(ValueError, match="holdout"):
        ClipWindows(_clips(), holdout=1.0)
    with pytest.raises(ValueError, match="part"):
        ClipWindows(_clips(), part="test")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no train window"):
        ClipWindows([Clip("x", torch.rand(2, 3, 4, 4))])
    with pytest.raises(TypeError, match="source"):
        ClipWindows(42)
    with pytest.raises(IndexError, match="out of range"):
        ClipWindows(_clips())[999]
