"""Tests of stvsr_blocks.data.degrade: MATLAB/PIL/torch bicubic, crops, temporal subsampling, STVSR pairs."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import torch

from stvsr_blocks.data.degrade import (
    Degradation,
    crop_to_multiple,
    cubic,
    downscale,
    imresize_matlab,
    imresize_pil,
    imresize_torch,
    keep_odd_frames,
    make_stvsr_pair,
    matlab_resize_weights,
)

# ---------------------------------------------------------------------------------------------------------------
# Reference derived by hand from the definition of MATLAB's bicubic imresize, in exact rational arithmetic,
# written independently of the implementation under test.


def keys_cubic(x: Fraction) -> Fraction:
    """Keys' cubic with a = -1/2 written out: 3/2|x|^3 - 5/2|x|^2 + 1 ; -1/2|x|^3 + 5/2|x|^2 - 4|x| + 2."""
    x = abs(x)
    if x <= 1:
        return Fraction(3, 2) * x**3 - Fraction(5, 2) * x**2 + 1
    if x <= 2:
        return Fraction(-1, 2) * x**3 + Fraction(5, 2) * x**2 - 4 * x + 2
    return Fraction(0)


def mirror(j: int, n: int) -> int:
    """Half-sample symmetric reflection of a 1-based index into 1..n (0 -> 1, -1 -> 2, n+1 -> n)."""
    while j < 1 or j > n:
        j = 1 - j if j < 1 else 2 * n + 1 - j
    return j


def hand_weights(n_in: int, n_out: int, scale: Fraction, antialias: bool = True) -> list[list[Fraction]]:
    widen = scale < 1 and antialias
    width = 4 / scale if widen else Fraction(4)
    rows = []
    for x in range(1, n_out + 1):
        u = x / scale + Fraction(1, 2) * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        taps = range(left, left + math.ceil(width) + 2)
        w = {j: (scale * keys_cubic(scale * (u - j)) if widen else keys_cubic(u - j)) for j in taps}
        total = sum(w.values())
        row = [Fraction(0)] * n_in
        for j, v in w.items():
            row[mirror(j, n_in) - 1] += v / total
        rows.append(row)
    return rows


def smooth_image(h: int, w: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    y = torch.linspace(0, 1, h, dtype=dtype)[:, None]
    x = torch.linspace(0, 1, w, dtype=dtype)[None, :]
    r = 0.5 + 0.3 * torch.sin(2.0 * y + 1.0) * torch.cos(1.5 * x)
    g = 0.4 + 0.2 * x + 0.1 * y
    b = 0.5 + 0.25 * torch.cos(3.0 * x * y)
    return torch.stack([r, g, b])


class TestCubic:
    def test_values(self) -> None:
        xs = [Fraction(k, 4) for k in range(-10, 11)]
        got = cubic(torch.tensor([float(x) for x in xs], dtype=torch.float64))
        want = torch.tensor([float(keys_cubic(x)) for x in xs], dtype=torch.float64)
        assert torch.equal(got, want)

    def test_hand_values(self) -> None:
        # the four taps of a 2x MATLAB downscale, as fractions of 128
        got = cubic(torch.tensor([0.25, 0.75, 1.25, 1.75], dtype=torch.float64)) * 128
        assert got.tolist() == [111.0, 29.0, -9.0, -3.0]


class TestMatlabWeights:
    @pytest.mark.parametrize(
        ("n_in", "n_out", "scale"),
        [
            (8, 4, Fraction(1, 2)),
            (12, 3, Fraction(1, 4)),
            (9, 3, Fraction(1, 3)),
            (5, 10, Fraction(2)),
            (4, 16, Fraction(4)),
        ],
    )
    def test_matches_hand_derivation(self, n_in: int, n_out: int, scale: Fraction) -> None:
        want = torch.tensor([[float(v) for v in row] for row in hand_weights(n_in, n_out, scale)], dtype=torch.float64)
        got = matlab_resize_weights(n_in, n_out, float(scale))
        assert got.shape == (n_out, n_in)
        torch.testing.assert_close(got, want, rtol=0, atol=1e-14)

    def test_no_antialias(self) -> None:
        want = hand_weights(8, 4, Fraction(1, 2), antialias=False)
        got = matlab_resize_weights(8, 4, 0.5, antialias=False)
        torch.testing.assert_close(got, torch.tensor([[float(v) for v in r] for r in want], dtype=torch.float64))
        # without widening only 4 taps are non-zero away from the borders
        assert int((got[1] != 0).sum()) == 4

    def test_rows_sum_to_one(self) -> None:
        w = matlab_resize_weights(37, 9, 9 / 37)
        torch.testing.assert_close(w.sum(1), torch.ones(9, dtype=torch.float64))

    def test_dtype(self) -> None:
        assert matlab_resize_weights(8, 4, 0.5, dtype=torch.float32).dtype == torch.float32

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="in_len"):
            matlab_resize_weights(0, 4, 0.5)
        with pytest.raises(TypeError, match="out_len"):
            matlab_resize_weights(8, 4.0, 0.5)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="scale"):
            matlab_resize_weights(8, 4, 0.0)


class TestImresizeMatlab:
    def test_row_1_to_8_half(self) -> None:
        # MATLAB: imresize(1:8, 0.5). Weights (taps at distance 1.75, 1.25, .75, .25 halved, then normalised):
        # [-3, -9, 29, 111, 111, 29, -9, -3] / 256. Mirrored input around output 1 (u = 1.5, taps -2..5):
        # 3 2 1 | 1 2 3 4 5  ->  (-9 - 18 + 29 + 111 + 222 + 87 - 36 - 15) / 256 = 371 / 256.
        # Output 2 (u = 3.5, taps 0..7): 1 | 1 2 3 4 5 6 7 -> 893 / 256 (not 3.5: tap 0 mirrors onto 1).
        # Outputs 3 and 4 follow by the symmetry x -> 9 - x: 9 - 893/256 = 1411/256, 9 - 371/256 = 1933/256.
        k = [-3, -9, 29, 111, 111, 29, -9, -3]
        first = sum(Fraction(kk, 256) * v for kk, v in zip(k, [3, 2, 1, 1, 2, 3, 4, 5]))
        second = sum(Fraction(kk, 256) * v for kk, v in zip(k, [1, 1, 2, 3, 4, 5, 6, 7]))
        assert first == Fraction(371, 256) and second == Fraction(893, 256)
        row = torch.arange(1.0, 9.0, dtype=torch.float64).reshape(1, 8)
        got = imresize_matlab(row, 0.5)
        assert got.shape == (1, 4)
        want = torch.tensor([[371 / 256, 893 / 256, 1411 / 256, 1933 / 256]], dtype=torch.float64)
        torch.testing.assert_close(got, want, rtol=0, atol=1e-14)
        assert [round(v, 4) for v in got[0].tolist()] == [1.4492, 3.4883, 5.5117, 7.5508]

    def test_row_upscale_x2_hand(self) -> None:
        # u = x/2 + 1/4; output 1 has u = 3/4: taps j = -1, 0, 1, 2 at distances 7/4, 3/4, -1/4, -5/4
        # (no widening when upscaling), mirrored values 2, 1, 1, 2 -> (-3*2 + 29 + 111 - 9*2) / 128 = 29/32.
        row = torch.arange(1.0, 9.0, dtype=torch.float64).reshape(1, 8)
        got = imresize_matlab(row, size=(1, 16))
        assert got[0, 0].item() == pytest.approx(29 / 32, abs=1e-14)
        # interior of a linear ramp is reproduced exactly: output x samples u = x/2 + 1/4
        xs = torch.arange(4, 14, dtype=torch.float64)
        torch.testing.assert_close(got[0, 3:13], xs / 2 + 0.25, rtol=0, atol=1e-13)

    @pytest.mark.parametrize("factor", [2, 4])
    def test_upscale_matches_hand(self, factor: int) -> None:
        x = torch.tensor([[0.1, 0.7, 0.3, 0.9, 0.5]], dtype=torch.float64)
        want_w = torch.tensor([[float(v) for v in r] for r in hand_weights(5, 5 * factor, Fraction(factor))])
        got = imresize_matlab(x, size=(1, 5 * factor))
        torch.testing.assert_close(got, (want_w.to(torch.float64) @ x[0]).unsqueeze(0), rtol=0, atol=1e-13)
        assert imresize_matlab(x.expand(3, 5), float(factor)).shape == (3 * factor, 5 * factor)

    @pytest.mark.parametrize("scale", [0.5, 1 / 3, 0.25, 2.0, 4.0])
    def test_constant_exact(self, scale: float, dtype: torch.dtype) -> None:
        x = torch.full((2, 3, 24, 36), 0.37, dtype=dtype)
        y = imresize_matlab(x, scale)
        assert y.dtype == dtype
        assert y.shape[-2:] == (math.ceil(round(24 * scale, 9)), math.ceil(round(36 * scale, 9)))
        tol = 1e-14 if dtype == torch.float64 else 1e-6
        torch.testing.assert_close(y, torch.full_like(y, 0.37), rtol=0, atol=tol)

    @pytest.mark.parametrize("factor", [2, 3, 4])
    def test_close_to_pil_in_interior(self, factor: int) -> None:
        img = smooth_image(96, 72)
        a = imresize_matlab(img, 1 / factor)
        b = imresize_pil(img, 1 / factor)
        assert a.shape == b.shape
        m = 3  # border outputs differ (MATLAB mirrors, PIL renormalises the truncated kernel)
        assert (a - b)[..., m:-m, m:-m].abs().max().item() < 1e-3

    def test_batched_equals_single(self) -> None:
        clip = torch.rand(2, 3, 3, 16, 20, dtype=torch.float64)
        out = imresize_matlab(clip, 0.25)
        torch.testing.assert_close(out[1, 2], imresize_matlab(clip[1, 2], 0.25))
        # separable: height then width equals width then height
        a = imresize_matlab(imresize_matlab(clip, size=(4, 20)), size=(4, 5))
        torch.testing.assert_close(out, a)

    def test_identity(self) -> None:
        x = torch.rand(3, 5, 7)
        assert torch.equal(imresize_matlab(x, 1.0), x)

    def test_exception(self) -> None:
        with pytest.raises(TypeError, match="x"):
            imresize_matlab(torch.zeros(4, 4, dtype=torch.uint8), 0.5)
        with pytest.raises(TypeError, match="x"):
            imresize_matlab([[1.0]], 0.5)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"\(\.\.\., H, W\)"):
            imresize_matlab(torch.zeros(4), 0.5)
        with pytest.raises(ValueError, match="exactly one"):
            imresize_matlab(torch.zeros(4, 4))
        with pytest.raises(ValueError, match="exactly one"):
            imresize_matlab(torch.zeros(4, 4), 0.5, size=(2, 2))
        with pytest.raises(ValueError, match="size"):
            imresize_matlab(torch.zeros(4, 4), size=(2, 2, 2))  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="size"):
            imresize_matlab(torch.zeros(4, 4), size=(2.0, 2))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="scale"):
            imresize_matlab(torch.zeros(4, 4), -0.5)


class TestOtherKernels:
    def test_pil_shape_dtype(self) -> None:
        x = torch.rand(2, 3, 16, 12, dtype=torch.float64)
        y = imresize_pil(x, 0.25)
        assert y.shape == (2, 3, 4, 3) and y.dtype == torch.float64
        assert imresize_pil(x, size=(5, 7)).shape == (2, 3, 5, 7)
        assert imresize_pil(x, 2).shape == (2, 3, 32, 24)

    def test_pil_constant(self) -> None:
        y = imresize_pil(torch.full((3, 16, 16), 0.25), 0.25)
        torch.testing.assert_close(y, torch.full_like(y, 0.25), rtol=0, atol=1e-6)

    def test_torch_antialias_matches_pil(self) -> None:
        img = smooth_image(64, 48, torch.float32)
        torch.testing.assert_close(imresize_torch(img, 0.25), imresize_pil(img, 0.25), rtol=0, atol=1e-5)

    def test_torch_shapes(self) -> None:
        x = torch.rand(2, 2, 3, 16, 12)
        assert imresize_torch(x, 0.5).shape == (2, 2, 3, 8, 6)
        assert imresize_torch(x, size=(4, 4), antialias=False).shape == (2, 2, 3, 4, 4)

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="exactly one"):
            imresize_pil(torch.zeros(4, 4))
        with pytest.raises(TypeError, match="x"):
            imresize_torch(torch.zeros(4, 4, dtype=torch.int64), 0.5)


class TestCropToMultiple:
    def test_top_left(self) -> None:
        x = torch.arange(11 * 13).reshape(1, 11, 13)
        y = crop_to_multiple(x, 4)
        assert y.shape == (1, 8, 12)
        assert torch.equal(y, x[:, :8, :12])

    def test_exception(self) -> None:
        with pytest.raises(TypeError, match="x"):
            crop_to_multiple([1, 2], 2)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="scale"):
            crop_to_multiple(torch.zeros(3, 8, 8), 0)
        with pytest.raises(ValueError, match=r"\(\.\.\., H, W\)"):
            crop_to_multiple(torch.zeros(8), 2)
        with pytest.raises(ValueError, match="at least scale=4"):
            crop_to_multiple(torch.zeros(3, 3, 8), 4)


class TestDownscale:
    @pytest.mark.parametrize("kernel", ["matlab", "pil", "torch"])
    def test_cardinality(self, kernel: str) -> None:
        x = torch.rand(2, 5, 3, 34, 30)
        y = downscale(x, 4, kernel)  # type: ignore[arg-type]
        assert y.shape == (2, 5, 3, 8, 7)
        assert y.min() >= 0 and y.max() <= 1

    def test_crops_first(self) -> None:
        x = torch.rand(3, 34, 30, dtype=torch.float64)
        torch.testing.assert_close(downscale(x, 4, clamp=False), imresize_matlab(x[:, :32, :28], 0.25))

    def test_clamp_and_quantize(self) -> None:
        x = torch.zeros(3, 16, 16)
        x[:, :, 8:] = 1.0  # a step overshoots with bicubic
        raw = downscale(x, 4, clamp=False)
        assert raw.min() < 0 and raw.max() > 1
        q = downscale(x, 4, quantize=True)
        torch.testing.assert_close(q * 255, torch.round(q * 255))
        assert q.min() >= 0 and q.max() <= 1

    def test_no_antialias(self) -> None:
        x = torch.rand(3, 16, 16, dtype=torch.float64)
        torch.testing.assert_close(
            downscale(x, 2, antialias=False, clamp=False), imresize_matlab(x, 0.5, antialias=False)
        )

    def test_exception(self) -> None:
        with pytest.raises(TypeError, match="hr"):
            downscale(torch.zeros(3, 8, 8, dtype=torch.uint8))
        with pytest.raises(ValueError, match="hr"):
            downscale(torch.zeros(8, 8))
        with pytest.raises(TypeError, match="scale"):
            downscale(torch.zeros(3, 8, 8), 2.0)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="kernel"):
            downscale(torch.zeros(3, 8, 8), 2, "lanczos")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="antialias"):
            downscale(torch.zeros(3, 8, 8), 2, "pil", antialias=False)


class TestDegradation:
    def test_name_and_call(self) -> None:
        assert Degradation().name == "bicubic-matlab-x4"
        assert Degradation(scale=2, kernel="torch", antialias=False, quantize=True).name == "bicubic-torch-noaa-u8-x2"
        x = torch.rand(3, 16, 16)
        torch.testing.assert_close(Degradation(kernel="pil")(x), downscale(x, 4, "pil"))

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="kernel"):
            Degradation(kernel="box")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="antialias"):
            Degradation(kernel="pil", antialias=False)
        with pytest.raises(ValueError, match="scale"):
            Degradation(scale=0)


class TestTemporal:
    def test_keep_odd_frames(self) -> None:
        clip = torch.arange(7.0).reshape(7, 1, 1, 1)
        assert keep_odd_frames(clip).flatten().tolist() == [0.0, 2.0, 4.0, 6.0]
        batched = torch.arange(12.0).reshape(2, 6, 1, 1, 1)
        assert keep_odd_frames(batched)[1].flatten().tolist() == [6.0, 8.0, 10.0]

    def test_keep_odd_frames_exception(self) -> None:
        with pytest.raises(ValueError, match="clip"):
            keep_odd_frames(torch.zeros(3, 4, 4))
        with pytest.raises(TypeError, match="clip"):
            keep_odd_frames("clip")  # type: ignore[arg-type]

    def test_make_stvsr_pair(self) -> None:
        hr = torch.rand(7, 3, 34, 33, dtype=torch.float64)
        lr, hr_c = make_stvsr_pair(hr, 4, "matlab")
        assert hr_c.shape == (7, 3, 32, 32) and lr.shape == (4, 3, 8, 8)
        torch.testing.assert_close(lr[1], downscale(hr[2], 4))
        torch.testing.assert_close(hr_c, hr[..., :32, :32])

    def test_make_stvsr_pair_even_and_batched(self) -> None:
        lr, hr = make_stvsr_pair(torch.rand(2, 6, 3, 16, 16), 2, Degradation(scale=2, kernel="torch"))
        assert hr.shape == (2, 5, 3, 16, 16) and lr.shape == (2, 3, 3, 8, 8)

    def test_make_stvsr_pair_exception(self) -> None:
        with pytest.raises(ValueError, match="hr_clip"):
            make_stvsr_pair(torch.rand(3, 16, 16))
        with pytest.raises(TypeError, match="hr_clip"):
            make_stvsr_pair(torch.zeros(3, 3, 16, 16, dtype=torch.uint8))
