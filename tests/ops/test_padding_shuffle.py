from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from stvsr_blocks.ops import Padding, crop_padding, depth_to_space, pad_to_multiple, space_to_depth


class TestPadToMultiple:
    @given(h=st.integers(1, 20), w=st.integers(1, 20), m=st.integers(1, 8),
           mode=st.sampled_from(["replicate", "reflect", "constant"]))
    def test_pad_then_crop_is_identity(self, h, w, m, mode):
        x = torch.rand(2, 3, h, w)
        y, pad = pad_to_multiple(x, m, mode=mode)
        assert y.shape[-2] % m == 0 and y.shape[-1] % m == 0
        assert y.shape[-2] - h < m and y.shape[-1] - w < m
        assert torch.equal(crop_padding(y, pad), x)

    @given(h=st.integers(1, 9), w=st.integers(1, 9), s=st.sampled_from([2, 4]))
    def test_crop_at_scale(self, h, w, s):
        x = torch.rand(1, 3, h, w)
        y, pad = pad_to_multiple(x, 4)
        up = torch.nn.functional.interpolate(y, scale_factor=s, mode="nearest")
        assert crop_padding(up, pad, scale=s).shape[-2:] == (h * s, w * s)

    def test_five_dim_clip(self):
        x = torch.rand(2, 3, 3, 5, 6)
        y, pad = pad_to_multiple(x, 4)
        assert y.shape == (2, 3, 3, 8, 8) and torch.equal(crop_padding(y, pad), x)

    def test_min_size(self):
        y, pad = pad_to_multiple(torch.rand(1, 3, 20, 200), 8, min_size=128)
        assert y.shape[-2:] == (128, 200) and pad == Padding(0, 0, 0, 108)

    def test_replicate_values(self):
        x = torch.arange(3.0).view(1, 1, 1, 3)
        y, _ = pad_to_multiple(x, 4)
        assert y[0, 0, 0].tolist() == [0.0, 1.0, 2.0, 2.0]
        assert torch.equal(y[0, 0, 1:], y[0, 0, :1].expand(3, 4))

    def test_already_multiple_returns_input(self):
        x = torch.rand(1, 3, 8, 8)
        y, pad = pad_to_multiple(x, 4)
        assert y is x and pad == Padding(0, 0, 0, 0)

    def test_exception(self):
        with pytest.raises(TypeError, match="x: expected a torch.Tensor"):
            pad_to_multiple([1, 2], 4)
        with pytest.raises(ValueError, match="at least 3 dims"):
            pad_to_multiple(torch.zeros(4, 4), 4)
        with pytest.raises(ValueError, match="multiple: expected a positive int, got 0"):
            pad_to_multiple(torch.zeros(1, 4, 4), 0)
        with pytest.raises(TypeError, match="multiple: expected a positive int"):
            pad_to_multiple(torch.zeros(1, 4, 4), 2.0)
        with pytest.raises(ValueError, match="does not fit"):
            crop_padding(torch.zeros(1, 1, 4, 4), Padding(0, 2, 0, 4))


class TestSpaceToDepth:
    @given(r=st.integers(1, 4), h=st.integers(1, 4), w=st.integers(1, 4), c=st.integers(1, 3))
    def test_roundtrip(self, r, h, w, c):
        x = torch.rand(2, c, h * r, w * r)
        y = space_to_depth(x, r)
        assert y.shape == (2, c * r * r, h, w)
        assert torch.equal(depth_to_space(y, r), x)

    def test_channel_order_matches_strided_slicing(self):
        # SPEC §5: channel c*r^2 + i*r + j holds x[c, r*y+i, r*x+j] (SOF-VSR's [i::s, j::s]).
        r = 4
        x = torch.rand(1, 3, 8, 12)
        y = space_to_depth(x, r)
        for c in range(3):
            for i in range(r):
                for j in range(r):
                    assert torch.equal(y[0, c * r * r + i * r + j], x[0, c, i::r, j::r])

    def test_exception(self):
        with pytest.raises(ValueError, match="divisible by factor=4"):
            space_to_depth(torch.zeros(1, 3, 6, 8), 4)
        with pytest.raises(ValueError, match="channel count must be divisible"):
            depth_to_space(torch.zeros(1, 3, 2, 2), 2)
        with pytest.raises(ValueError, match="x: expected a 4-D"):
            space_to_depth(torch.zeros(3, 8, 8), 2)
        with pytest.raises(TypeError, match="factor: expected a positive int"):
            space_to_depth(torch.zeros(1, 3, 8, 8), True)
