from __future__ import annotations

import sys

import pytest
import torch
import torch.nn.functional as F

from stvsr_blocks import InteractionLoop
from stvsr_blocks.baselines import BicubicVSR, LinearBlendVFI, ZeroFlowEstimator
from stvsr_blocks.inference import StreamingUpscaler, TileConfig, tile_starts, upscale_pair
from stvsr_blocks.interfaces import VSRNet, VSROutput
from tests.test_loop import tiny_loop


class NearestVSR(VSRNet):
    """Pointwise (receptive field 1 LR pixel): tiling must be exact."""

    def forward(self, x):
        return VSROutput(F.interpolate(x.lr0, scale_factor=4, mode="nearest"),
                         F.interpolate(x.lr1, scale_factor=4, mode="nearest") * 0.5)


def _loop(vsr):
    return InteractionLoop(flow=ZeroFlowEstimator(), vsr=vsr, vfi=LinearBlendVFI(), feature=None).eval()


class TestTiling:
    def test_tile_starts_cover(self):
        for length, tile, ov in [(100, 40, 8), (64, 64, 8), (10, 40, 2), (65, 16, 4)]:
            starts = tile_starts(length, tile, ov)
            covered = torch.zeros(length, dtype=torch.bool)
            for s in starts:
                covered[s:s + tile] = True
            assert covered.all() and starts[-1] + min(tile, length) == length
            assert all(b - a <= tile - ov for a, b in zip(starts, starts[1:]))

    def test_pointwise_model_tiles_exactly(self):
        loop = _loop(NearestVSR())
        a, b = torch.rand(2, 3, 21, 30, dtype=torch.float64), torch.rand(2, 3, 21, 30, dtype=torch.float64)
        ref = upscale_pair(loop, a, b)
        tiled = upscale_pair(loop, a, b, TileConfig(tile=10, overlap=3, batch=3))
        for x, y in zip(ref, tiled):
            assert torch.allclose(x, y, atol=1e-10)

    def test_bicubic_tiles_without_seams(self):
        loop = _loop(BicubicVSR())
        a, b = torch.rand(1, 3, 24, 24), torch.rand(1, 3, 24, 24)
        ref = upscale_pair(loop, a, b)
        tiled = upscale_pair(loop, a, b, TileConfig(tile=12, overlap=4))
        err = (ref[1] - tiled[1]).abs()
        assert err.max() < 1e-5  # half the overlap (2 LR px) covers bicubic's support

    def test_learned_model_tiles_close(self):
        loop = tiny_loop().eval()
        a, b = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
        ref = upscale_pair(loop, a, b)
        tiled = upscale_pair(loop, a, b, TileConfig(tile=10, overlap=4))
        assert tiled[1].shape == ref[1].shape
        assert (ref[0] - tiled[0]).abs().mean() < 0.05

    def test_exceptions(self):
        with pytest.raises(ValueError, match="tile: expected an int >= 0"):
            TileConfig(tile=-1)
        with pytest.raises(ValueError, match="overlap: must be < tile/2"):
            TileConfig(tile=8, overlap=4)
        with pytest.raises(ValueError, match="overlap: expected an int"):
            TileConfig(overlap=-2)
        with pytest.raises(ValueError, match="batch"):
            TileConfig(batch=0)
        loop = _loop(BicubicVSR())
        with pytest.raises(ValueError, match="same shape"):
            upscale_pair(loop, torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))


class TestStreaming:
    @pytest.mark.parametrize("rule", ["first", "average"])
    def test_matches_forward_clip(self, rule):
        loop = tiny_loop().eval()
        clip = torch.rand(1, 5, 3, 8, 8)
        ref = loop.forward_clip(clip, overlap=rule)
        out = torch.stack(list(StreamingUpscaler(loop, overlap=rule).run(clip[0])))
        assert out.shape == (9, 3, 32, 32)
        assert torch.allclose(out, ref[0], atol=1e-5)

    def test_is_lazy(self):
        loop = _loop(BicubicVSR())
        consumed = []

        def gen():
            for i in range(100):
                consumed.append(i)
                yield torch.rand(3, 4, 4)

        it = StreamingUpscaler(loop).run(gen())
        first = [next(it) for _ in range(3)]
        assert len(first) == 3 and len(consumed) == 2  # only two LR frames read so far

    def test_exceptions(self):
        loop = _loop(BicubicVSR())
        with pytest.raises(ValueError, match="need at least 2 frames"):
            list(StreamingUpscaler(loop).run([torch.rand(3, 4, 4)]))
        with pytest.raises(ValueError, match=r"frames\[1\]: expected the size of the first frame"):
            list(StreamingUpscaler(loop).run([torch.rand(3, 4, 4), torch.rand(3, 4, 6)]))
        with pytest.raises(ValueError, match=r"frames\[0\]: expected a 3-D tensor of shape \(3, h, w\)"):
            list(StreamingUpscaler(loop).run([torch.rand(1, 3, 4, 4)]))
        with pytest.raises(ValueError, match="overlap"):
            StreamingUpscaler(loop, overlap="mean")


def test_channels_last_inference_matches_contiguous():
    from stvsr_blocks.inference import upscale_pair, use_channels_last
    from stvsr_blocks.models import mbnet_tiny

    torch.manual_seed(0)
    a = mbnet_tiny().eval()
    b = mbnet_tiny().eval()
    b.load_state_dict(a.state_dict())
    use_channels_last(b)
    conv_weights = [p for p in b.parameters() if p.dim() == 4 and p.shape[-1] > 1]
    assert b.channels_last and all(p.is_contiguous(memory_format=torch.channels_last) for p in conv_weights)
    assert not all(p.is_contiguous(memory_format=torch.channels_last) for p in a.parameters() if p.dim() == 4
                   and p.shape[-1] > 1)
    x0, x1 = torch.rand(1, 3, 24, 32), torch.rand(1, 3, 24, 32)
    with torch.inference_mode():
        for tiles in (None, TileConfig(tile=12, overlap=4)):
            ra, rb = upscale_pair(a, x0, x1, tiles), upscale_pair(b, x0, x1, tiles)
            for p, q in zip(ra, rb):
                assert (p - q).abs().max() < 1e-4


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_keep_freed_memory_keeps_large_freed_blocks_in_the_process() -> None:
    """After ``keep_freed_memory`` a freed 256 MB tensor stays resident (reused by the next call), without it
    glibc unmaps it at once."""
    import subprocess
    import textwrap

    code = textwrap.dedent("""
        import sys, torch
        from stvsr_blocks.inference import keep_freed_memory
        def rss_mb():
            for line in open("/proc/self/status"):
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        if sys.argv[1] == "keep":
            assert keep_freed_memory()
        before = rss_mb()
        x = torch.ones(64 * 1024 * 1024)  # 256 MB, touched
        del x
        print(rss_mb() - before)
    """)
    grown = {}
    for mode in ("keep", "default"):
        out = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, check=True).stdout
        grown[mode] = float(out.strip().splitlines()[-1])
    assert grown["keep"] > 200 and grown["default"] < 50, grown
