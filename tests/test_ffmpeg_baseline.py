"""FFmpeg's lanczos + minterpolate through PyAV's filter graph, as a baseline model."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from stvsr_blocks.baselines import FFmpegBaseline
from stvsr_blocks.metrics import psnr


def _moving_clip(n: int, shift: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    base = F.avg_pool2d(torch.rand(1, 3, 48, 96, generator=g), 3, 1, 1)
    return torch.stack([torch.roll(base[0], shifts=shift * i, dims=-1) for i in range(n)])


def test_frame_count_and_alignment() -> None:
    clip = _moving_clip(4, 2)
    out = FFmpegBaseline().upscale_clip(clip)
    assert out.shape == (7, 3, 192, 384)
    for i in range(4):  # even outputs are the scaled inputs (lanczos ~ bicubic)
        up = F.interpolate(clip[i : i + 1], scale_factor=4, mode="bicubic")[0].clamp(0, 1)
        assert psnr(out[2 * i], up, channel="rgb") > 30
        if i:
            assert psnr(out[2 * i], F.interpolate(clip[i - 1 : i], scale_factor=4, mode="bicubic")[0].clamp(0, 1),
                        channel="rgb") < 25


def test_interpolates_motion() -> None:
    clip = _moving_clip(3, 4)  # 4 px per frame; the middle truth is shifted by 2 px
    out = FFmpegBaseline().upscale_clip(clip)
    truth = F.interpolate(torch.roll(clip[0:1], shifts=2, dims=-1), scale_factor=4, mode="bicubic")[0].clamp(0, 1)
    inner = (..., slice(None), slice(32, -32))
    blend = 0.5 * (out[0] + out[2])
    assert psnr(out[1][inner], truth[inner], channel="rgb") > psnr(blend[inner], truth[inner], channel="rgb") + 5


def test_pair_interface_and_errors() -> None:
    ff = FFmpegBaseline()
    a, b = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    frames = ff(a, b).frames
    assert [tuple(f.shape) for f in frames] == [(2, 3, 64, 64)] * 3
    with pytest.raises(ValueError, match="t=0.5"):
        ff(a, b, t=0.25)
    with pytest.raises(ValueError, match="at least 2 frames"):
        ff.upscale_clip(torch.rand(1, 3, 16, 16))
