from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import kornia
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import ndimage

from stvsr_blocks.data.synthetic import SyntheticVideoConfig, render_synthetic_clip
from stvsr_blocks.metrics import (
    NIQE_PARAMS_ENV,
    PROTOCOLS,
    EvalProtocol,
    MetricAccumulator,
    MetricSummary,
    NiqeModel,
    bundled_niqe_model,
    fit_niqe_model,
    get_protocol,
    interpolation_error,
    load_niqe_model,
    niqe,
    niqe_features,
    psnr,
    quantize_uint8,
    rgb_to_y_bt601,
    ssim,
)


# ------------------------------------------------------------------------------------------------
# Independent numpy references (written from the formulas, not from the implementation)
# ------------------------------------------------------------------------------------------------
def np_uint8(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, 0, 1) * 255.0)  # values 0..255


def np_y(img255: np.ndarray) -> np.ndarray:
    """BT.601 studio-swing Y from a 0-255 RGB array (3, H, W)."""
    r, g, b = img255
    return 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0


def np_psnr(a: np.ndarray, b: np.ndarray, channel: str) -> float:
    a255, b255 = np_uint8(a), np_uint8(b)
    if channel == "y":
        a255, b255 = np_y(a255), np_y(b255)
    mse = np.mean((a255 - b255) ** 2)
    return 20 * math.log10(255.0 / math.sqrt(mse))


def np_ssim_channel(x: np.ndarray, y: np.ndarray) -> float:
    """Wang et al. SSIM on one 0-255 channel: Gaussian 11x11 sigma 1.5, valid window positions only."""
    ax = np.arange(11) - 5
    g = np.exp(-(ax**2) / (2 * 1.5**2))
    win = np.outer(g, g)
    win /= win.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def filt(z: np.ndarray) -> np.ndarray:
        return ndimage.correlate(z, win, mode="constant")[5:-5, 5:-5]

    mx, my = filt(x), filt(y)
    vx, vy, cxy = filt(x * x) - mx**2, filt(y * y) - my**2, filt(x * y) - mx * my
    m = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(m.mean())


def np_ssim_loop(x: np.ndarray, y: np.ndarray) -> float:
    """Same, with explicit loops over window positions (tiny images only)."""
    ax = np.arange(11) - 5
    g = np.exp(-(ax**2) / (2 * 1.5**2))
    win = np.outer(g, g)
    win /= win.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for i in range(x.shape[0] - 10):
        for j in range(x.shape[1] - 10):
            px, py = x[i : i + 11, j : j + 11], y[i : i + 11, j : j + 11]
            mx, my = (win * px).sum(), (win * py).sum()
            vx = (win * (px - mx) ** 2).sum()
            vy = (win * (py - my) ** 2).sum()
            cxy = (win * (px - mx) * (py - my)).sum()
            vals.append(((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    return float(np.mean(vals))


def pair(seed: int = 0, shape: tuple[int, ...] = (2, 3, 24, 20), noise: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(shape, generator=g, dtype=torch.float64)
    b = (a + noise * torch.randn(shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    return a, b


# ------------------------------------------------------------------------------------------------
class TestColour:
    def test_known_values(self):
        white, black = torch.ones(3, 1, 1), torch.zeros(3, 1, 1)
        assert rgb_to_y_bt601(white).item() * 255 == pytest.approx(235.0)
        assert rgb_to_y_bt601(black).item() * 255 == pytest.approx(16.0)
        red = torch.tensor([1.0, 0.0, 0.0]).reshape(3, 1, 1)
        assert rgb_to_y_bt601(red).item() * 255 == pytest.approx(16 + 65.481)

    def test_not_kornia_full_range(self):
        white = torch.ones(1, 3, 2, 2)
        assert kornia.color.rgb_to_ycbcr(white)[0, 0, 0, 0].item() == pytest.approx(1.0)  # full range: 255
        assert rgb_to_y_bt601(white)[0, 0, 0, 0].item() == pytest.approx(235 / 255)

    def test_affine_in_kornia_full_range_luma(self):
        # studio swing is 16 + 219 * (full-range Y): the same BT.601 weights (0.299 * 219 = 65.481, ...), so kornia's
        # rgb_to_ycbcr would need a rescale (and computes Cb, Cr too): the one-line formula stays, checked against it
        x = torch.rand(2, 3, 7, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
        full = kornia.color.rgb_to_ycbcr(x)[:, :1]
        torch.testing.assert_close(rgb_to_y_bt601(x), (16 + 219 * full) / 255, atol=1e-14, rtol=0)

    def test_cardinality(self):
        assert rgb_to_y_bt601(torch.rand(2, 4, 3, 5, 6)).shape == (2, 4, 1, 5, 6)

    def test_exception(self):
        with pytest.raises(TypeError, match="image"):
            rgb_to_y_bt601(np.zeros((3, 2, 2)))
        with pytest.raises(ValueError, match=r"\(\.\.\., 3, H, W\)"):
            rgb_to_y_bt601(torch.zeros(4, 2, 2))
        with pytest.raises(TypeError, match="image"):
            quantize_uint8(torch.zeros(3, dtype=torch.uint8))

    def test_quantize(self):
        x = torch.tensor([0.5 / 255, 1.5 / 255, 2.5 / 255, 0.999, 1.5, -1.0], dtype=torch.float64)
        np.testing.assert_array_equal((quantize_uint8(x) * 255).numpy(), np.round(np.clip(x.numpy(), 0, 1) * 255))


class TestPSNR:
    def test_smoke(self, dtype):
        a, b = pair()
        out = psnr(a.to(dtype), b.to(dtype))
        assert out.shape == (2,) and out.dtype == torch.float64 and torch.isfinite(out).all()

    def test_single_image_is_0d(self):
        a, b = pair()
        assert psnr(a[0], b[0]).shape == ()
        assert psnr(a[0], b[0]) == psnr(a, b)[0]

    def test_identical_is_inf(self):
        a, _ = pair()
        assert torch.isinf(psnr(a, a)).all()
        assert torch.isinf(psnr(a, a, channel="rgb", round_uint8=False)).all()

    @pytest.mark.parametrize("channel", ["y", "rgb"])
    def test_numpy_reference(self, channel):
        a, b = pair(3)
        ours = psnr(a, b, channel=channel)
        for i in range(2):
            assert ours[i].item() == pytest.approx(np_psnr(a[i].numpy(), b[i].numpy(), channel), abs=1e-9)

    def test_hand_value(self):
        a = torch.zeros(3, 4, 4)
        b = torch.full((3, 4, 4), 10 / 255)
        # RGB: MSE = 10^2 on the 0-255 scale -> 20 log10(255/10)
        assert psnr(a, b, channel="rgb").item() == pytest.approx(20 * math.log10(25.5))
        # Y: a uniform grey shift of 10 changes Y by 10 * 219/255
        assert psnr(a, b, channel="y").item() == pytest.approx(20 * math.log10(255 / (10 * 219 / 255)))

    def test_data_range(self):
        a, b = pair(1)
        np.testing.assert_allclose(psnr(a * 255, b * 255, data_range=255.0), psnr(a, b), rtol=1e-12)

    def test_rounding_effect(self):
        a = torch.full((3, 8, 8), 100 / 255, dtype=torch.float64)
        b = a + 0.2 / 255  # below half a quantisation step
        assert torch.isinf(psnr(a, b))
        assert torch.isfinite(psnr(a, b, round_uint8=False))
        assert psnr(a, b, channel="rgb", round_uint8=False).item() == pytest.approx(20 * math.log10(255 / 0.2))

    def test_crop(self):
        a = torch.rand(3, 16, 16)
        b = a.clone()
        b[:, :2] = 1 - b[:, :2]  # differences only in the top two rows
        assert torch.isfinite(psnr(a, b, crop=1))
        assert torch.isinf(psnr(a, b, crop=2))
        a2, b2 = pair(4)
        expected = psnr(a2[..., 3:-3, 3:-3], b2[..., 3:-3, 3:-3])
        np.testing.assert_allclose(psnr(a2, b2, crop=3), expected)

    def test_rgb_any_channels(self):
        a, b = pair(shape=(1, 1, 8, 8))
        assert psnr(a, b, channel="rgb").shape == (1,)

    def test_exception(self):
        a, b = pair()
        with pytest.raises(TypeError, match="pred: expected a torch.Tensor"):
            psnr(a.numpy(), b)
        with pytest.raises(TypeError, match="target: expected a floating-point"):
            psnr(a, (b * 255).to(torch.uint8))
        with pytest.raises(ValueError, match=r"pred: expected shape \(C, H, W\) or \(B, C, H, W\)"):
            psnr(a[0, 0], b[0, 0])
        with pytest.raises(ValueError, match="same shape"):
            psnr(a, b[..., :-1])
        with pytest.raises(ValueError, match="channel: expected 'y' or 'rgb'"):
            psnr(a, b, channel="Y")
        with pytest.raises(ValueError, match="channel='y' needs 3"):
            psnr(a[:, :1], b[:, :1])
        with pytest.raises(TypeError, match="crop"):
            psnr(a, b, crop=1.0)
        with pytest.raises(ValueError, match="crop: expected an int >= 0"):
            psnr(a, b, crop=-1)
        with pytest.raises(ValueError, match="leaves nothing"):
            psnr(a, b, crop=10)
        with pytest.raises(TypeError, match="round_uint8"):
            psnr(a, b, round_uint8=1)
        with pytest.raises(TypeError, match="data_range"):
            psnr(a, b, data_range="1")
        with pytest.raises(ValueError, match="data_range"):
            psnr(a, b, data_range=0.0)

    @given(seed=st.integers(0, 2**16), s1=st.floats(0.01, 0.2), factor=st.floats(1.1, 3.0))
    def test_property_more_noise_lower_psnr(self, seed, s1, factor):
        g = torch.Generator().manual_seed(seed)
        a = torch.rand(1, 3, 12, 12, generator=g, dtype=torch.float64) * 0.5 + 0.25
        n = torch.randn(1, 3, 12, 12, generator=g, dtype=torch.float64)
        p1 = psnr(a + s1 * n, a, channel="rgb", round_uint8=False)
        p2 = psnr(a + s1 * factor * n, a, channel="rgb", round_uint8=False)
        assert p2 < p1

    @given(seed=st.integers(0, 2**16), channel=st.sampled_from(["y", "rgb"]), rnd=st.booleans())
    def test_property_symmetric(self, seed, channel, rnd):
        a, b = pair(seed, shape=(1, 3, 12, 13))
        assert psnr(a, b, channel=channel, round_uint8=rnd) == psnr(b, a, channel=channel, round_uint8=rnd)


class TestSSIM:
    def test_smoke(self, dtype):
        a, b = pair()
        out = ssim(a.to(dtype), b.to(dtype))
        assert out.shape == (2,) and out.dtype == torch.float64

    def test_identical_is_one(self):
        a, _ = pair()
        np.testing.assert_allclose(ssim(a, a).numpy(), 1.0, atol=1e-12)
        np.testing.assert_allclose(ssim(a, a, channel="rgb").numpy(), 1.0, atol=1e-12)
        assert ssim(a[0], a[0]).shape == ()

    @pytest.mark.parametrize("channel", ["y", "rgb"])
    def test_numpy_reference(self, channel):
        a, b = pair(5, shape=(2, 3, 23, 19))
        ours = ssim(a, b, channel=channel)
        for i in range(2):
            x, y = np_uint8(a[i].numpy()), np_uint8(b[i].numpy())
            if channel == "y":
                ref = np_ssim_channel(np_y(x), np_y(y))
            else:
                ref = np.mean([np_ssim_channel(x[c], y[c]) for c in range(3)])
            assert abs(ours[i].item() - ref) < 1e-6

    def test_loop_reference_tiny(self):
        a, b = pair(6, shape=(1, 3, 13, 14))
        x, y = np_y(np_uint8(a[0].numpy())), np_y(np_uint8(b[0].numpy()))
        assert abs(ssim(a, b).item() - np_ssim_loop(x, y)) < 1e-6

    @pytest.mark.parametrize("channel", ["rgb", "y"])
    @pytest.mark.parametrize("shape", [(2, 3, 24, 20), (1, 3, 37, 61)])
    def test_matches_kornia_valid(self, channel, shape):
        # the same SSIM as kornia's with valid padding and no denominator eps (kornia adds 1e-12 by default)
        a, b = pair(7, shape=shape)
        for rounded in (False, True):
            x, y = (quantize_uint8(a), quantize_uint8(b)) if rounded else (a, b)
            if channel == "y":
                x, y = rgb_to_y_bt601(x), rgb_to_y_bt601(y)
            k = kornia.metrics.ssim(x, y, 11, padding="valid", eps=0.0).mean(dim=(1, 2, 3))
            ours = ssim(a, b, channel=channel, round_uint8=rounded)
            np.testing.assert_allclose(ours.numpy(), k.numpy(), rtol=0, atol=1e-12)

    def test_720p_peak_memory(self):
        # linear in the image (weighted sums of shifted slices): a 720p RGB pair in float64 peaks at about 0.3-0.45 GB
        # over the inputs, kornia's float64 path at 0.36-0.49 GB; a 2-D float64 conv2d on the CPU unfolded 13 GB
        if not Path("/proc/self/clear_refs").exists():
            pytest.skip("needs Linux /proc to read the peak RSS")
        code = (
            "import torch; torch.set_num_threads(1)\n"
            "from stvsr_blocks.metrics import ssim\n"
            "a = torch.rand(1, 3, 720, 1280); b = torch.rand(1, 3, 720, 1280)\n"
            "rss = lambda key: next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith(key))\n"
            "open('/proc/self/clear_refs', 'w').write('5'); before = rss('VmRSS')\n"
            "ssim(a, b, channel='rgb'); print((rss('VmHWM') - before) / 1024)\n"
        )
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
        assert res.returncode == 0, res.stderr
        assert 0 < float(res.stdout) < 1024, f"ssim on a 720p pair peaked at {float(res.stdout):.0f} MB"

    def test_crop_and_rounding(self):
        a, b = pair(8, shape=(1, 3, 30, 30))
        expected = ssim(a[..., 4:-4, 4:-4], b[..., 4:-4, 4:-4])
        np.testing.assert_allclose(ssim(a, b, crop=4), expected)
        assert ssim(a, b, round_uint8=False) != ssim(a, b)

    def test_exception(self):
        a, b = pair()
        with pytest.raises(ValueError, match="at least 11x11"):
            ssim(a[..., :10, :], b[..., :10, :])
        with pytest.raises(ValueError, match="at least 11x11"):
            ssim(a, b, crop=5)
        with pytest.raises(ValueError, match="channel"):
            ssim(a, b, channel="ycbcr")
        with pytest.raises(TypeError, match="pred"):
            ssim([1.0], b)

    @given(seed=st.integers(0, 2**16), noise=st.floats(0.0, 0.5), channel=st.sampled_from(["y", "rgb"]))
    def test_property_bounded_symmetric(self, seed, noise, channel):
        a, b = pair(seed, shape=(1, 3, 12, 14), noise=noise)
        s_ab = ssim(a, b, channel=channel)
        s_ba = ssim(b, a, channel=channel)
        assert s_ab.item() <= 1.0 + 1e-12 and s_ab.item() > -1.0
        assert abs(s_ab.item() - s_ba.item()) < 1e-12


class TestInterpolationError:
    def test_hand_value_and_psnr_relation(self):
        assert interpolation_error(torch.zeros(3, 2, 2), torch.full((3, 2, 2), 2 / 255)).item() == pytest.approx(2.0)
        a, b = pair(9)
        ie = interpolation_error(a, b)
        np.testing.assert_allclose(psnr(a, b, channel="rgb").numpy(), (20 * torch.log10(255 / ie)).numpy())

    def test_exception(self):
        with pytest.raises(ValueError, match="same shape"):
            interpolation_error(torch.zeros(3, 2, 2), torch.zeros(3, 2, 3))


class TestAccumulator:
    def test_per_clip_then_over_clips(self):
        acc = MetricAccumulator()
        acc.update("a", 0, {"psnr": 10.0, "ssim": 0.5})
        for f, v in enumerate([20.0, 30.0, 40.0]):
            acc.update("b", f, {"psnr": v, "ssim": 0.9})
        s = acc.summary()
        assert isinstance(s, MetricSummary)
        # clip a: 10; clip b: 30 -> 20 (a flat average over the 4 frames would give 25)
        assert s.groups["all"]["psnr"] == pytest.approx(20.0)
        assert s.groups["all"]["ssim"] == pytest.approx(0.7)
        # vsr = even 0-based indices: a -> 10, b -> (20 + 40)/2 = 30 -> 20; vfi: only b -> 30
        assert s.groups["vsr"]["psnr"] == pytest.approx(20.0)
        assert s.groups["vfi"]["psnr"] == pytest.approx(30.0)
        assert s.per_clip["b"]["vfi"] == {"psnr": 30.0, "ssim": 0.9}
        assert "vfi" not in s.per_clip["a"]
        assert s.n_clips == 2 and s.n_frames == 4 and len(acc) == 4
        assert s.to_dict()["n_frames"] == 4

    def test_kind_override_and_tensors(self):
        acc = MetricAccumulator()
        acc.update("a", 0, {"psnr": torch.tensor(12.0)}, kind="vfi")
        acc.update("a", 1, {"psnr": torch.tensor([14.0])}, kind="vfi")
        s = acc.summary()
        assert set(s.groups) == {"all", "vfi"} and s.groups["vfi"]["psnr"] == pytest.approx(13.0)

    def test_exception(self):
        acc = MetricAccumulator()
        with pytest.raises(ValueError, match="no values"):
            acc.summary()
        with pytest.raises(TypeError, match="clip"):
            acc.update(1, 0, {"psnr": 1.0})
        with pytest.raises(TypeError, match="frame"):
            acc.update("a", 1.0, {"psnr": 1.0})
        with pytest.raises(ValueError, match="frame"):
            acc.update("a", -1, {"psnr": 1.0})
        with pytest.raises(ValueError, match="kind"):
            acc.update("a", 0, {"psnr": 1.0}, kind="sr")
        with pytest.raises(TypeError, match="values: expected a mapping"):
            acc.update("a", 0, [1.0])
        with pytest.raises(ValueError, match="at least one"):
            acc.update("a", 0, {})
        with pytest.raises(TypeError, match="one-element"):
            acc.update("a", 0, {"psnr": torch.zeros(2)})
        with pytest.raises(TypeError, match="expected a number"):
            acc.update("a", 0, {"psnr": "30"})
        acc.update("a", 0, {"psnr": 1.0})
        with pytest.raises(ValueError, match="differ from earlier"):
            acc.update("b", 0, {"ssim": 1.0})


class TestProtocols:
    @pytest.mark.parametrize("name", sorted(PROTOCOLS))
    def test_presets(self, name):
        proto = get_protocol(name)
        assert isinstance(proto, EvalProtocol) and proto.name == name and proto.description
        a, b = pair(shape=(2, 3, 16, 16))
        out = proto.compute(a, b)
        assert set(out) == set(proto.metrics) and all(v.shape == (2,) for v in out.values())

    def test_choices(self):
        assert get_protocol("stvsr-vimeo").channel == "y" and get_protocol("stvsr-vimeo").lr_kernel == "matlab"
        assert get_protocol("stvsr-vid4").scale == 4 and get_protocol("stvsr-vid4").crop == 0
        assert get_protocol("vfi-ucf101").channel == "rgb" and get_protocol("vfi-ucf101").scale == 1
        assert "ie" in get_protocol("vfi-middlebury").metrics

    def test_override(self):
        proto = get_protocol("stvsr-vimeo", channel="rgb", crop=4)
        assert proto.channel == "rgb" and proto.crop == 4
        assert PROTOCOLS["stvsr-vimeo"].channel == "y"  # preset untouched

    def test_exception(self):
        with pytest.raises(KeyError, match="valid names: stvsr-vid4, stvsr-vimeo, vfi-middlebury, vfi-ucf101"):
            get_protocol("vimeo")
        with pytest.raises(TypeError):
            get_protocol("stvsr-vimeo", colour="y")
        with pytest.raises(ValueError, match="channel"):
            get_protocol("stvsr-vimeo", channel="ycbcr")
        with pytest.raises(ValueError, match="task"):
            get_protocol("stvsr-vimeo", task="sr")
        with pytest.raises(ValueError, match="crop"):
            get_protocol("stvsr-vimeo", crop=-2)
        with pytest.raises(ValueError, match="scale"):
            get_protocol("stvsr-vimeo", scale=0)
        bad = EvalProtocol(name="x", task="vfi", channel="rgb", metrics=("lpips",))
        with pytest.raises(ValueError, match="unknown metric 'lpips'"):
            bad.compute(torch.rand(3, 12, 12), torch.rand(3, 12, 12))


# ------------------------------------------------------------------------------------------------
# NIQE
# ------------------------------------------------------------------------------------------------
def synthetic_image(seed: int, size: int = 128) -> torch.Tensor:
    return render_synthetic_clip(SyntheticVideoConfig(height=size, width=size, frames=1, seed=seed)).hr[0]


@pytest.fixture(scope="module")
def fitted_model() -> NiqeModel:
    return fit_niqe_model([synthetic_image(s) for s in range(8)], patch_size=32)


def random_model() -> NiqeModel:
    a = torch.randn(36, 40, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    return NiqeModel(mu=torch.rand(36, dtype=torch.float64), cov=a @ a.T / 40)


class TestNiqe:
    def test_features_shape(self):
        f = niqe_features(synthetic_image(0, 100), patch_size=32)
        assert f.shape == (9, 36) and f.dtype == torch.float64 and torch.isfinite(f).all()

    def test_fit(self, fitted_model):
        assert fitted_model.mu.shape == (36,) and fitted_model.cov.shape == (36, 36)
        assert fitted_model.patch_size == 32 and fitted_model.source == "fitted"
        assert torch.allclose(fitted_model.cov, fitted_model.cov.T)

    def test_distortions_increase_score(self, fitted_model):
        import kornia.filters as KF

        img = synthetic_image(1000)  # not among the fitting seeds
        blur = KF.gaussian_blur2d(img[None], (9, 9), (2.0, 2.0))[0]
        noisy = (img + 0.08 * torch.randn(img.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
        scores = niqe(torch.stack([img, blur, noisy]), fitted_model)
        assert scores.shape == (3,)
        assert scores[0] < scores[1] and scores[0] < scores[2]

    def test_batch_single_and_luminance(self, fitted_model):
        img = synthetic_image(3, 96).double()
        s_batch = niqe(img[None].expand(2, -1, -1, -1), fitted_model)
        s_one = niqe(img, fitted_model)
        assert s_one.shape == () and torch.allclose(s_batch, s_one.expand(2))
        gray = (0.298936021293775 * img[0] + 0.587043074451121 * img[1] + 0.114020904255103 * img[2])[None]
        exact_rgb = niqe(img, fitted_model, round_uint8=False)
        assert niqe(gray, fitted_model, round_uint8=False).item() == pytest.approx(exact_rgb.item(), rel=1e-9)
        assert torch.isfinite(niqe(img, fitted_model, color="y", crop=2))

    def test_exception(self, fitted_model):
        img = synthetic_image(0, 96)
        with pytest.raises(ValueError, match="1 \\(luminance\\) or 3"):
            niqe(img[:2], fitted_model)
        with pytest.raises(ValueError, match="color"):
            niqe(img, fitted_model, color="ycbcr")
        with pytest.raises(ValueError, match="at least two 32x32 patches"):
            niqe(img[:, :40, :40], fitted_model)
        with pytest.raises(TypeError, match="model"):
            niqe(img, "model.npz")
        with pytest.raises(ValueError, match="leaves nothing"):
            niqe(img, fitted_model, crop=48)
        with pytest.raises(TypeError, match="round_uint8"):
            niqe(img, fitted_model, round_uint8=None)
        with pytest.raises(ValueError, match="one image"):
            niqe_features(img[None])
        with pytest.raises(ValueError, match="even"):
            niqe_features(img, patch_size=33)
        with pytest.raises(ValueError, match="even"):
            fit_niqe_model([img], patch_size=31)
        with pytest.raises(TypeError, match="sharpness_threshold"):
            fit_niqe_model([img], sharpness_threshold="high")
        with pytest.raises(ValueError, match="sharpness_threshold"):
            fit_niqe_model([img], sharpness_threshold=1.5)
        with pytest.raises(ValueError, match="at least one image"):
            fit_niqe_model([])
        with pytest.raises(ValueError, match="finite features"):
            fit_niqe_model([torch.full((3, 64, 64), 0.5)], patch_size=32)
        with pytest.raises(ValueError, match=r"mu: expected a tensor of shape \(36,\)"):
            NiqeModel(mu=torch.zeros(35), cov=torch.eye(36))
        with pytest.raises(ValueError, match="cov"):
            NiqeModel(mu=torch.zeros(36), cov=torch.eye(35))
        with pytest.raises(ValueError, match="patch_size: expected an even"):
            NiqeModel(mu=torch.zeros(36), cov=torch.eye(36), patch_size=95)


class TestNiqeModelLoading:
    def test_npz_path_and_env(self, tmp_path, monkeypatch):
        model = random_model()
        path = tmp_path / "params.npz"
        np.savez(path, mu_prisparam=model.mu.numpy()[None], cov_prisparam=model.cov.numpy())
        loaded = load_niqe_model(path)
        assert torch.equal(loaded.mu, model.mu) and torch.equal(loaded.cov, model.cov) and loaded.patch_size == 96
        monkeypatch.setenv(NIQE_PARAMS_ENV, str(path))
        assert torch.equal(load_niqe_model().mu, model.mu)
        img = torch.rand(3, 96, 192, generator=torch.Generator().manual_seed(0))
        assert torch.isfinite(niqe(img))  # model found through the environment variable

    def test_mat(self, tmp_path):
        from scipy.io import savemat

        model = random_model()
        path = tmp_path / "niqe_image_params.mat"
        savemat(path, {"pop_mu": model.mu.numpy()[None], "pop_cov": model.cov.numpy()})
        assert torch.allclose(load_niqe_model(str(path)).cov, model.cov)

    def test_bundled_is_the_default(self, monkeypatch):
        monkeypatch.delenv(NIQE_PARAMS_ENV, raising=False)
        model = load_niqe_model()
        assert model.patch_size == 96 and "modelparameters.mat" in model.source
        assert torch.equal(model.mu, bundled_niqe_model().mu)
        assert torch.isfinite(niqe(torch.rand(3, 96, 192, generator=torch.Generator().manual_seed(0))))

    def test_bundled_values_checksum(self):
        import hashlib

        from stvsr_blocks.metrics import _niqe_pristine as params

        m = bundled_niqe_model()
        digest = hashlib.sha256(m.mu.numpy().astype("<f8").tobytes() + m.cov.numpy().astype("<f8").tobytes())
        assert digest.hexdigest() == params.SHA256
        assert torch.equal(m.cov, m.cov.T) and torch.linalg.eigvalsh(m.cov).min() > 0
        assert m.mu[0].item() == pytest.approx(2.6013, abs=1e-4)  # the release's first feature mean

    def test_missing(self, tmp_path, monkeypatch):
        with pytest.raises(FileNotFoundError, match="not found"):
            load_niqe_model(tmp_path / "nope.npz")
        monkeypatch.setenv(NIQE_PARAMS_ENV, str(tmp_path / "nope.npz"))
        with pytest.raises(FileNotFoundError, match="STVSR_NIQE_PARAMS: .*not found.*unset it"):
            load_niqe_model()
        with pytest.raises(FileNotFoundError, match="STVSR_NIQE_PARAMS"):
            niqe(torch.rand(3, 96, 192))


# Scores of an independent implementation: BasicSR's numpy/scipy ``basicsr.metrics.niqe.niqe`` (its
# own bicubic imresize, scipy convolutions), run in float64 outside this library on the same 8-bit
# luminance with the same pristine parameters (BasicSR commit 8d56e3a0, 2024-05-17). Inputs are images
# that scikit-image bundles (no download).
NIQE_REFERENCE = {
    "camera": 3.09622028525054,  # 512x512 gray
    "chelsea": 2.625524381291432,  # 300x451 RGB, BT.601 Y (BasicSR's convert_to="y")
}


class TestNiqeReference:
    def test_camera_gray_matches_independent_implementation(self):
        from skimage import data

        img = torch.from_numpy(data.camera()).double()[None] / 255
        assert niqe(img).item() == pytest.approx(NIQE_REFERENCE["camera"], rel=2e-5)

    def test_chelsea_y_matches_independent_implementation(self):
        from skimage import data

        img = torch.from_numpy(data.chelsea()).permute(2, 0, 1).double() / 255
        assert niqe(img, color="y").item() == pytest.approx(NIQE_REFERENCE["chelsea"], rel=1e-5)

    def test_protocol_reports_niqe(self):
        from skimage import data

        img = (torch.from_numpy(data.camera()).float() / 255).expand(3, -1, -1)[None]
        proto = get_protocol("stvsr-vid4", metrics=("psnr", "niqe"))
        out = proto.compute(img, img)
        assert sorted(out) == ["niqe", "psnr"] and out["niqe"].item() == pytest.approx(NIQE_REFERENCE["camera"], rel=2e-5)


class TestNiqeModelLoadingFiles:
    def test_bad_contents(self, tmp_path):
        path = tmp_path / "bad.npz"
        np.savez(path, mean=np.zeros(36), covariance=np.eye(36))
        with pytest.raises(ValueError, match="expected arrays named"):
            load_niqe_model(path)
        np.savez(path, mu=np.zeros(18), cov=np.eye(18))
        with pytest.raises(ValueError, match="mu"):
            load_niqe_model(path)
